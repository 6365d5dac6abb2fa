// MEDTalk Live Link: the receive thread's loop and its shutdown state machine, behind an
// abstract socket so that both are tested outside Unreal (core_tests) with a fake socket and a
// sink that blocks like Live Link's lock does.
//
// Shutdown follows ILiveLinkSource::RequestSourceShutdown's contract ("If the source is
// multithreaded, the source should test if it can be shutdown, set a flag and return
// immediately"; it is called again until it returns true). In UE 5.4 FLiveLinkClient calls it
// from DoPendingWork while holding the lock that PushSubject*_AnyThread takes, so joining the
// thread there could wait forever on a thread that waits on that lock. Lifecycle::RequestShutdown
// never waits: it sets the stop flag and says whether Run() has returned.
//
// Portable C++17, no Unreal types.
#pragma once

#include "MedtalkPublisher.h"
#include "MedtalkSubjects.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace medtalk
{

class Lifecycle
{
public:
	enum class State : int
	{
		Idle,       // no thread started
		Running,    // Run() is looping
		Stopping,   // stop requested, Run() has not returned yet
		Finished,   // Run() returned (or never started): the thread may be joined and freed
	};

	// Before the thread starts. False unless Idle.
	bool Start();
	// Any thread, never blocks. Running -> Stopping; Idle -> Finished (nothing to wait for).
	void RequestStop();
	// The receive loop's condition.
	bool StopRequested() const;
	// Called by the thread as the last thing Run() does.
	void MarkFinished();
	bool IsFinished() const { return Get() == State::Finished; }
	State Get() const { return static_cast<State>(Value.load()); }

	// RequestSourceShutdown: asks to stop and returns at once; true once the thread has
	// finished, so that joining it cannot block.
	bool RequestShutdown()
	{
		RequestStop();
		return IsFinished();
	}

private:
	std::atomic<int> Value{static_cast<int>(State::Idle)};
};

// A bound, non-blocking UDP socket.
class DatagramSocket
{
public:
	virtual ~DatagramSocket() = default;
	// Waits up to TimeoutMs for a datagram; true if one is ready.
	virtual bool WaitReadable(int TimeoutMs) = 0;
	// Reads one pending datagram; false when none is pending. Sender: "ip:port".
	virtual bool Receive(uint8_t* Buffer, size_t Capacity, size_t& Size, std::string& Sender) = 0;
};

// Frames per second over the last full window of at least one second.
class RateMeter
{
public:
	void Add(double Now);
	double Rate(double Now) const;  // 0 once nothing arrived for two windows

private:
	double WindowStart = -1.0;
	uint64_t InWindow = 0;
	double LastRate = 0.0;
	double LastAdd = -1.0;
};

// What the status line is made from: written by the receive thread, read by the game thread.
struct StatusSnapshot
{
	int Port = 0;
	std::string BindError;          // non-empty: the socket could not be opened (source invalid)
	std::string Filter;             // the subject filter, empty = every subject
	std::vector<std::string> Subjects;  // published subjects
	uint64_t Datagrams = 0;
	bool NamesSeen = false;         // a complete names list arrived
	uint64_t FramesPushed = 0;
	uint64_t Rejected = 0;
	double Fps = 0.0;
	std::string LastSender;
	std::string LastError;          // the last rejection, while no good frame followed it
	std::string IgnoredAddress;     // set while nothing of ours arrived
	double SecondsSinceFrame = -1.0;    // -1: no frame yet
};

// One line for the Live Link panel's Status column.
std::string StatusLine(const StatusSnapshot& S);

// Seconds without frames after which the status says the sender stopped.
constexpr double kIdleSeconds = 1.0;
// How often the receive loop re-checks the stop flag while no datagram arrives.
constexpr int kWaitMs = 100;

class ReceiveLoop
{
public:
	// Now: a monotonic clock in seconds (FPlatformTime::Seconds in the plugin).
	ReceiveLoop(std::string Filter, int Port, PublishSink& Sink, std::function<double()> Now);

	// The thread body: receives until Life.StopRequested(), then marks Life finished. Every
	// datagram is decoded from an exact-size copy, as in the tests.
	void Run(Lifecycle& Life, DatagramSocket& Socket);

	// For a socket that could not be opened: the status shows why.
	void SetBindError(const std::string& Error);

	// Game thread (ILiveLinkSource::Update).
	bool Tick() { return Pub.Tick(); }

	StatusSnapshot Snapshot() const;

	// Exposed for the tests: handles one datagram as Run() does.
	void HandleDatagram(const uint8_t* Data, size_t Size, const std::string& Sender);

private:
	SubjectRouter Router;
	Publisher Pub;
	std::function<double()> Now;

	mutable std::mutex StatusMutex;  // a leaf lock: never held while calling anything else
	StatusSnapshot Status;
	RateMeter Rate;
	double LastFrameTime = -1.0;
};

} // namespace medtalk
