// MEDTalk Live Link: one socket, several subjects. The subject is the middle part of the OSC
// address (/medtalk/<subject>/frame, /medtalk/<subject>/names), so one port serves several
// daemons (each `medtalk run --subject NAME`). Each subject gets its own FrameAssembler.
// Portable C++17, no Unreal types; used from the receive thread only.
#pragma once

#include "MedtalkFrameAssembler.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace medtalk
{

// Subjects one socket tracks at most: a hostile sender inventing names cannot grow memory.
constexpr size_t kMaxSubjects = 64;

// A subject usable in an OSC address: 1..255 printable ASCII characters, no space and none of
// / # * , ? [ ] { } (the daemon's rule, livelink_bridge/transports/osc_frames.py).
bool IsValidSubject(const std::string& Subject);

// "/medtalk/<subject>/<kind>" -> subject and kind ("frame" or "names"); false for anything else.
bool ParseAddress(const std::string& Address, std::string& Subject, std::string& Kind);

struct SubjectFrame
{
	std::string Subject;
	Frame Values;
};

struct NamesUpdate
{
	std::string Subject;
	std::vector<std::string> Names;
	uint64_t Generation = 0;        // the subject's FrameAssembler::NamesGeneration()
};

struct DatagramResult
{
	osc::Status OscStatus = osc::Status::Ok;
	std::vector<NamesUpdate> NamesChanged;  // in arrival order, before Frames of the same datagram
	std::vector<SubjectFrame> Frames;
	int Rejected = 0;               // our messages that failed a check (Error says why)
	int Ignored = 0;                // not our protocol's address, or a subject the filter excludes
	int OverSubjectLimit = 0;       // messages for a new subject beyond kMaxSubjects
	int WaitingForNames = 0;
	int Stale = 0;
	std::string Error;              // the last rejection reason
	std::string IgnoredAddress;     // the last ignored address
};

class SubjectRouter
{
public:
	// Filter: the only subject to accept, or empty for every subject that arrives.
	explicit SubjectRouter(std::string InFilter = std::string());

	DatagramResult Feed(const uint8_t* Data, size_t Size);

	size_t SubjectCount() const { return Assemblers_.size(); }
	const std::string& Filter() const { return Filter_; }

private:
	FrameAssembler* FindOrAdd(const std::string& Subject, DatagramResult& Result);

	std::string Filter_;
	std::map<std::string, std::unique_ptr<FrameAssembler>> Assemblers_;
};

} // namespace medtalk
