// MEDTalk Live Link: turns decoded OSC datagrams of our wire protocol (version 1) into
// complete frames: the curve-name list assembled from its chunks, and per-frame values checked
// against it. Portable C++17, no Unreal types; one instance per subject, used from one thread
// (MedtalkSubjects.h routes a socket's messages to one assembler per subject).
//
// Protocol (sender: livelink_bridge/transports/osc_frames.py):
//   /medtalk/<subject>/frame  i frame_number, d capture_time, f x N
//   /medtalk/<subject>/names  i version, i chunk_index, i chunk_count, i first_index,
//                             i total_names, i names_crc32, s x n
#pragma once

#include "MedtalkOsc.h"

#include <cstdint>
#include <string>
#include <vector>

namespace medtalk
{

constexpr int32_t kProtocolVersion = 1;
constexpr int32_t kMaxNames = 4096;
constexpr int32_t kMaxChunks = 1024;

// CRC-32 (IEEE 802.3, as zlib.crc32) of the names joined by '\n', as the sender's signed int32.
int32_t NamesCrc32(const std::vector<std::string>& Names);

struct Frame
{
	int32_t FrameNumber = 0;
	double CaptureTime = 0.0;       // seconds, the sender's clock
	uint64_t NamesGeneration = 0;   // the names list these values belong to (NamesGeneration())
	std::vector<float> Values;      // one per name, same order as Names()
};

struct FeedResult
{
	std::vector<Frame> Frames;      // complete frames from the messages applied, in order
	bool NamesChanged = false;      // a names list completed and differs from the previous one
	int Rejected = 0;               // our messages that failed a check (Error says why)
	int WaitingForNames = 0;        // frames dropped: no list yet, or sized for the list being assembled
	int Stale = 0;                  // frames dropped: sized for the previous list (sent before a change)
	std::string Error;              // the last rejection reason, empty if none
};

class FrameAssembler
{
public:
	explicit FrameAssembler(const std::string& InSubject);

	// Applies one decoded message; false if it is not addressed to this subject. Datagrams are
	// decoded and routed to their subject's assembler by SubjectRouter::Feed, the one feed path.
	bool Apply(const osc::Message& M, FeedResult& Result);

	const std::vector<std::string>& Names() const { return Names_; }
	uint64_t NamesGeneration() const { return NamesGeneration_; }
	const std::string& Subject() const { return Subject_; }

private:
	void HandleNames(const osc::Message& M, FeedResult& Result);
	void HandleFrame(const osc::Message& M, FeedResult& Result);
	void ResetPending(int32_t Crc, int32_t Total, int32_t Count);
	void Reject(FeedResult& Result, const std::string& Why);

	std::string Subject_;
	std::string FrameAddress_;
	std::string NamesAddress_;
	std::vector<std::string> Names_;
	size_t PreviousCount_ = 0;      // length of the list Names_ replaced (to recognise stale frames)
	uint64_t NamesGeneration_ = 0;

	// The names list being assembled, identified by (crc, total, chunk count).
	bool HasPending_ = false;
	int32_t PendingCrc_ = 0;
	int32_t PendingTotal_ = 0;
	int32_t PendingCount_ = 0;
	std::vector<bool> ChunkSeen_;
	std::vector<std::string> PendingNames_;
	std::vector<bool> NameSeen_;
};

} // namespace medtalk
