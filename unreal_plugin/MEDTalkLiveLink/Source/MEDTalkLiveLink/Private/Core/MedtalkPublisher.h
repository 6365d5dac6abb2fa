// MEDTalk Live Link: when to push a subject's static data (its curve names) and which frames to
// push, written against Live Link's queueing rules (LiveLinkClient.cpp, UE 5.4 and ue5-main):
//
// - Pushes from any thread are queued; each engine tick, FLiveLinkClient::DoPendingWork applies
//   every queued static push first, then every queued frame, and only then calls each source's
//   Update() on the game thread.
// - A static push for an existing subject clears its buffered frames, so it is never repeated
//   per frame; a frame whose value count differs from the subject's static data fails
//   IsFrameDataValid and logs an error; a frame for a subject that is gone is dropped silently.
//
// Hence, driven by Tick() from ILiveLinkSource::Update():
// - a new or changed names list is pushed on the tick after the one that first saw it, so that
//   frames pushed under the previous list have all been applied (or dropped) before it lands;
// - frames are pushed only when they belong to the list that was pushed (frames of another list
//   are dropped and counted);
// - a subject whose static data was applied but is no longer present in Live Link (the user
//   removed it in the panel) is pushed again, once per tick at most, so it comes back.
//
// Portable C++17, no Unreal types. OnNames/OnFrame run on the receive thread, Tick on the game
// thread; one mutex of ours guards the state and is held while calling the sink (lock order:
// ours, then Live Link's). Tick only try-locks: the game thread never waits for the receive
// thread.
#pragma once

#include "MedtalkSubjects.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace medtalk
{

// What the publisher drives: Live Link in the plugin, a recorder in the tests.
class PublishSink
{
public:
	virtual ~PublishSink() = default;
	// Whether Live Link still holds the subject (ILiveLinkClient::GetSubjectRole_AnyThread).
	virtual bool SubjectPresent(const std::string& Subject) = 0;
	virtual void PushStatic(const std::string& Subject, const std::vector<std::string>& Names) = 0;
	virtual void PushFrame(const std::string& Subject, const Frame& Values) = 0;
};

struct PublisherCounts
{
	uint64_t FramesPushed = 0;
	uint64_t FramesDropped = 0;     // belonged to a list not (yet) pushed
	uint64_t StaticPushes = 0;
	uint64_t Republished = 0;       // static pushes for a subject that had disappeared
	std::vector<std::string> Subjects;  // published subjects, sorted
};

class Publisher
{
public:
	explicit Publisher(PublishSink& InSink) : Sink(InSink) {}

	// Receive thread.
	void OnNames(const NamesUpdate& Update);
	void OnFrame(const SubjectFrame& Frame);

	// Game thread, once per engine tick. False if the receive thread held the lock (nothing was
	// done; the next tick tries again).
	bool Tick();

	PublisherCounts Counts() const;

private:
	struct Subject
	{
		std::vector<std::string> Names;
		uint64_t Generation = 0;        // of Names
		uint64_t Pushed = 0;            // generation whose static data was pushed, 0 = none
		bool Armed = false;             // a tick has seen Generation != Pushed
		uint64_t ArmedTick = 0;
		uint64_t PushedTick = 0;
	};

	PublishSink& Sink;
	mutable std::mutex Mutex;
	std::map<std::string, Subject> Subjects;
	uint64_t TickCount = 0;
	PublisherCounts Stats;
};

} // namespace medtalk
