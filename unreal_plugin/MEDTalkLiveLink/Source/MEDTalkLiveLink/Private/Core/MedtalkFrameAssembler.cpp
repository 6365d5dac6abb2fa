// MEDTalk Live Link: frame assembly for our OSC protocol. See MedtalkFrameAssembler.h.
#include "MedtalkFrameAssembler.h"

#include <array>
#include <cstring>

namespace medtalk
{

static const std::array<uint32_t, 256>& CrcTable()
{
	static const std::array<uint32_t, 256> Table = []
	{
		std::array<uint32_t, 256> T{};
		for (uint32_t N = 0; N < 256; ++N)
		{
			uint32_t C = N;
			for (int K = 0; K < 8; ++K)
			{
				C = (C & 1u) ? (0xEDB88320u ^ (C >> 1)) : (C >> 1);
			}
			T[N] = C;
		}
		return T;
	}();
	return Table;
}

int32_t NamesCrc32(const std::vector<std::string>& Names)
{
	const std::array<uint32_t, 256>& Table = CrcTable();
	uint32_t Crc = 0xFFFFFFFFu;
	auto Add = [&](unsigned char Byte) { Crc = Table[(Crc ^ Byte) & 0xFFu] ^ (Crc >> 8); };
	for (size_t Index = 0; Index < Names.size(); ++Index)
	{
		if (Index > 0)
		{
			Add('\n');
		}
		for (const char Ch : Names[Index])
		{
			Add(static_cast<unsigned char>(Ch));
		}
	}
	const uint32_t Final = Crc ^ 0xFFFFFFFFu;
	int32_t Signed = 0;
	static_assert(sizeof(Signed) == sizeof(Final), "int32 and uint32 differ in size");
	std::memcpy(&Signed, &Final, sizeof(Signed));
	return Signed;
}

FrameAssembler::FrameAssembler(const std::string& InSubject)
	: Subject_(InSubject)
	, FrameAddress_("/medtalk/" + InSubject + "/frame")
	, NamesAddress_("/medtalk/" + InSubject + "/names")
{
}

bool FrameAssembler::Apply(const osc::Message& M, FeedResult& Result)
{
	if (M.Address == FrameAddress_)
	{
		HandleFrame(M, Result);
		return true;
	}
	if (M.Address == NamesAddress_)
	{
		HandleNames(M, Result);
		return true;
	}
	return false;
}

void FrameAssembler::Reject(FeedResult& Result, const std::string& Why)
{
	++Result.Rejected;
	Result.Error = Why;
}

void FrameAssembler::HandleFrame(const osc::Message& M, FeedResult& Result)
{
	if (M.Args.size() < 2 || M.Args[0].Type != 'i' || M.Args[1].Type != 'd')
	{
		Reject(Result, "frame must start with int32 frame number and float64 capture time");
		return;
	}
	const size_t Count = M.Args.size() - 2;
	for (size_t Index = 2; Index < M.Args.size(); ++Index)
	{
		if (M.Args[Index].Type != 'f')
		{
			Reject(Result, "frame values must all be float32");
			return;
		}
	}
	if (Names_.empty())
	{
		++Result.WaitingForNames;
		return;
	}
	if (Count != Names_.size())
	{
		// The sender changed its curve set: frames sent just before the change (old length) or
		// just after it, before every chunk of the new list arrived (its length), are expected
		// and dropped quietly; any other length is a broken sender.
		if (Count == PreviousCount_)
		{
			++Result.Stale;
		}
		else if (HasPending_ && Count == static_cast<size_t>(PendingTotal_))
		{
			++Result.WaitingForNames;
		}
		else
		{
			Reject(Result, "frame has " + std::to_string(Count) + " values but the names list has " +
				std::to_string(Names_.size()));
		}
		return;
	}
	Frame F;
	F.FrameNumber = M.Args[0].Int;
	F.CaptureTime = M.Args[1].Double;
	F.NamesGeneration = NamesGeneration_;
	F.Values.reserve(Count);
	for (size_t Index = 2; Index < M.Args.size(); ++Index)
	{
		F.Values.push_back(M.Args[Index].Float);
	}
	Result.Frames.push_back(std::move(F));
}

void FrameAssembler::ResetPending(int32_t Crc, int32_t Total, int32_t Count)
{
	HasPending_ = true;
	PendingCrc_ = Crc;
	PendingTotal_ = Total;
	PendingCount_ = Count;
	ChunkSeen_.assign(static_cast<size_t>(Count), false);
	PendingNames_.assign(static_cast<size_t>(Total), std::string());
	NameSeen_.assign(static_cast<size_t>(Total), false);
}

void FrameAssembler::HandleNames(const osc::Message& M, FeedResult& Result)
{
	constexpr size_t kHeader = 6;
	if (M.Args.size() < kHeader + 1)
	{
		Reject(Result, "names chunk needs 6 int32 header fields and at least one name");
		return;
	}
	for (size_t Index = 0; Index < M.Args.size(); ++Index)
	{
		const char Expected = Index < kHeader ? 'i' : 's';
		if (M.Args[Index].Type != Expected)
		{
			Reject(Result, "names chunk must be 6 int32 then strings");
			return;
		}
	}
	const int32_t Version = M.Args[0].Int;
	const int32_t ChunkIndex = M.Args[1].Int;
	const int32_t ChunkCount = M.Args[2].Int;
	const int32_t First = M.Args[3].Int;
	const int32_t Total = M.Args[4].Int;
	const int32_t Crc = M.Args[5].Int;
	const int64_t Count = static_cast<int64_t>(M.Args.size() - kHeader);
	if (Version != kProtocolVersion)
	{
		Reject(Result, "unsupported protocol version " + std::to_string(Version));
		return;
	}
	if (ChunkCount < 1 || ChunkCount > kMaxChunks || ChunkIndex < 0 || ChunkIndex >= ChunkCount)
	{
		Reject(Result, "names chunk index/count out of range");
		return;
	}
	if (Total < 1 || Total > kMaxNames || First < 0 || int64_t(First) + Count > int64_t(Total))
	{
		Reject(Result, "names chunk does not fit the announced total");
		return;
	}
	if (!HasPending_ || Crc != PendingCrc_ || Total != PendingTotal_ || ChunkCount != PendingCount_)
	{
		ResetPending(Crc, Total, ChunkCount);
	}
	if (ChunkSeen_[static_cast<size_t>(ChunkIndex)])
	{
		return;  // a repeat of a chunk we hold (the sender re-sends every second)
	}
	for (int64_t Offset = 0; Offset < Count; ++Offset)
	{
		const size_t Slot = static_cast<size_t>(First + Offset);
		if (NameSeen_[Slot])
		{
			HasPending_ = false;
			Reject(Result, "names chunks overlap");
			return;
		}
	}
	for (int64_t Offset = 0; Offset < Count; ++Offset)
	{
		const size_t Slot = static_cast<size_t>(First + Offset);
		PendingNames_[Slot] = M.Args[kHeader + static_cast<size_t>(Offset)].String;
		NameSeen_[Slot] = true;
	}
	ChunkSeen_[static_cast<size_t>(ChunkIndex)] = true;
	for (const bool Seen : ChunkSeen_)
	{
		if (!Seen)
		{
			return;  // wait for the other chunks
		}
	}
	HasPending_ = false;
	for (const bool Seen : NameSeen_)
	{
		if (!Seen)
		{
			Reject(Result, "names chunks leave gaps in the list");
			return;
		}
	}
	if (NamesCrc32(PendingNames_) != PendingCrc_)
	{
		Reject(Result, "names list does not match its CRC-32");
		return;
	}
	if (PendingNames_ != Names_)
	{
		PreviousCount_ = Names_.size();
		Names_.swap(PendingNames_);
		++NamesGeneration_;
		Result.NamesChanged = true;
	}
}

} // namespace medtalk
