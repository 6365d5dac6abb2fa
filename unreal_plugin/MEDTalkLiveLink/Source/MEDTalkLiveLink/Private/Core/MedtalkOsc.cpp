// MEDTalk Live Link: portable OSC 1.0 decoding. See MedtalkOsc.h.
#include "MedtalkOsc.h"

#include <cstring>

namespace medtalk::osc
{

const char* StatusText(Status S)
{
	switch (S)
	{
	case Status::Ok: return "ok";
	case Status::Empty: return "empty datagram";
	case Status::BadAlignment: return "size is not a multiple of 4";
	case Status::Truncated: return "truncated";
	case Status::BadAddress: return "bad address";
	case Status::BadTypeTags: return "bad type tag string";
	case Status::UnknownTypeTag: return "unsupported type tag";
	case Status::LengthPastEnd: return "length field past the end";
	case Status::TrailingBytes: return "trailing bytes after the arguments";
	case Status::BundleTooDeep: return "bundles nested too deep";
	case Status::TooManyMessages: return "too many messages in one bundle";
	}
	return "unknown status";
}

std::string Message::TypeTags() const
{
	std::string Tags;
	Tags.reserve(Args.size());
	for (const Arg& A : Args)
	{
		Tags.push_back(A.Type);
	}
	return Tags;
}

static size_t Padded(size_t Bytes)
{
	return (Bytes + 3) & ~static_cast<size_t>(3);
}

bool Reader::ReadU32(uint32_t& Out)
{
	if (Remaining() < 4)
	{
		return false;
	}
	const uint8_t* P = Data + Pos;
	Out = (uint32_t(P[0]) << 24) | (uint32_t(P[1]) << 16) | (uint32_t(P[2]) << 8) | uint32_t(P[3]);
	Pos += 4;
	return true;
}

bool Reader::ReadU64(uint64_t& Out)
{
	uint32_t High = 0;
	uint32_t Low = 0;
	if (Remaining() < 8 || !ReadU32(High) || !ReadU32(Low))
	{
		return false;
	}
	Out = (uint64_t(High) << 32) | Low;
	return true;
}

bool Reader::ReadInt32(int32_t& Out)
{
	uint32_t Bits = 0;
	if (!ReadU32(Bits))
	{
		return false;
	}
	std::memcpy(&Out, &Bits, sizeof(Out));
	return true;
}

bool Reader::ReadInt64(int64_t& Out)
{
	uint64_t Bits = 0;
	if (!ReadU64(Bits))
	{
		return false;
	}
	std::memcpy(&Out, &Bits, sizeof(Out));
	return true;
}

bool Reader::ReadFloat(float& Out)
{
	static_assert(sizeof(float) == 4, "OSC float32 needs a 4-byte float");
	uint32_t Bits = 0;
	if (!ReadU32(Bits))
	{
		return false;
	}
	std::memcpy(&Out, &Bits, sizeof(Out));
	return true;
}

bool Reader::ReadDouble(double& Out)
{
	static_assert(sizeof(double) == 8, "OSC float64 needs an 8-byte double");
	uint64_t Bits = 0;
	if (!ReadU64(Bits))
	{
		return false;
	}
	std::memcpy(&Out, &Bits, sizeof(Out));
	return true;
}

bool Reader::ReadPaddedString(std::string& Out)
{
	const uint8_t* Start = Data + Pos;
	const void* Nul = std::memchr(Start, 0, Remaining());
	if (Nul == nullptr)
	{
		return false;  // unterminated: the NUL would lie past the end
	}
	const size_t Length = static_cast<size_t>(static_cast<const uint8_t*>(Nul) - Start);
	const size_t Total = Padded(Length + 1);
	if (Total > Remaining())
	{
		return false;
	}
	Out.assign(reinterpret_cast<const char*>(Start), Length);
	Pos += Total;
	return true;
}

Status Reader::ReadBlob(std::vector<uint8_t>& Out)
{
	int32_t Length = 0;
	if (!ReadInt32(Length))
	{
		return Status::Truncated;
	}
	if (Length < 0 || Padded(static_cast<size_t>(Length)) > Remaining())
	{
		return Status::LengthPastEnd;
	}
	Out.assign(Data + Pos, Data + Pos + Length);
	Pos += Padded(static_cast<size_t>(Length));
	return Status::Ok;
}

bool Reader::Skip(size_t Bytes)
{
	if (Bytes > Remaining())
	{
		return false;
	}
	Pos += Bytes;
	return true;
}

static Status DecodeArg(Reader& R, char Tag, Arg& A)
{
	A.Type = Tag;
	switch (Tag)
	{
	case 'i':
	case 'c':
	case 'r':
	case 'm':
		return R.ReadInt32(A.Int) ? Status::Ok : Status::Truncated;
	case 'h':
	case 't':
		return R.ReadInt64(A.Int64) ? Status::Ok : Status::Truncated;
	case 'f':
		return R.ReadFloat(A.Float) ? Status::Ok : Status::Truncated;
	case 'd':
		return R.ReadDouble(A.Double) ? Status::Ok : Status::Truncated;
	case 's':
	case 'S':
		return R.ReadPaddedString(A.String) ? Status::Ok : Status::Truncated;
	case 'b':
		return R.ReadBlob(A.Blob);
	case 'T':
		A.Bool = true;
		return Status::Ok;
	case 'F':
		A.Bool = false;
		return Status::Ok;
	case 'N':
	case 'I':
		return Status::Ok;  // nil and impulse carry no bytes
	default:
		return Status::UnknownTypeTag;
	}
}

Status DecodeMessage(const uint8_t* Data, size_t Size, Message& Out)
{
	if (Size == 0)
	{
		return Status::Empty;
	}
	if (Data == nullptr || Size % 4 != 0)
	{
		return Status::BadAlignment;
	}
	Reader R(Data, Size);
	Message Result;
	if (!R.ReadPaddedString(Result.Address) || Result.Address.empty() || Result.Address[0] != '/')
	{
		return Status::BadAddress;
	}
	std::string Tags;
	if (!R.ReadPaddedString(Tags) || Tags.empty() || Tags[0] != ',')
	{
		return Status::BadTypeTags;
	}
	Result.Args.resize(Tags.size() - 1);
	for (size_t Index = 1; Index < Tags.size(); ++Index)
	{
		const Status S = DecodeArg(R, Tags[Index], Result.Args[Index - 1]);
		if (S != Status::Ok)
		{
			return S;
		}
	}
	if (R.Remaining() != 0)
	{
		return Status::TrailingBytes;
	}
	Out = std::move(Result);
	return Status::Ok;
}

static const char kBundleTag[8] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', '\0'};

static Status DecodeInto(const uint8_t* Data, size_t Size, std::vector<Message>& Out, int Depth)
{
	if (Size == 0)
	{
		return Status::Empty;
	}
	if (Data == nullptr || Size % 4 != 0)
	{
		return Status::BadAlignment;
	}
	if (Size < 8 || std::memcmp(Data, kBundleTag, 8) != 0)
	{
		if (Out.size() >= kMaxMessages)
		{
			return Status::TooManyMessages;
		}
		Message M;
		const Status S = DecodeMessage(Data, Size, M);
		if (S == Status::Ok)
		{
			Out.push_back(std::move(M));
		}
		return S;
	}
	if (Depth >= kMaxBundleDepth)
	{
		return Status::BundleTooDeep;
	}
	Reader R(Data, Size);
	int64_t TimeTag = 0;  // read and ignored: frames carry their own capture time
	if (!R.Skip(8) || !R.ReadInt64(TimeTag))
	{
		return Status::Truncated;
	}
	while (R.Remaining() > 0)
	{
		int32_t ElementSize = 0;
		if (!R.ReadInt32(ElementSize))
		{
			return Status::Truncated;
		}
		if (ElementSize < 0 || static_cast<size_t>(ElementSize) > R.Remaining())
		{
			return Status::LengthPastEnd;
		}
		const Status S = DecodeInto(R.Current(), static_cast<size_t>(ElementSize), Out, Depth + 1);
		if (S != Status::Ok)
		{
			return S;
		}
		R.Skip(static_cast<size_t>(ElementSize));
	}
	return Status::Ok;
}

Status DecodePacket(const uint8_t* Data, size_t Size, std::vector<Message>& Out)
{
	std::vector<Message> Decoded;
	const Status S = DecodeInto(Data, Size, Decoded, 0);
	if (S != Status::Ok)
	{
		return S;
	}
	for (Message& M : Decoded)
	{
		Out.push_back(std::move(M));
	}
	return Status::Ok;
}

} // namespace medtalk::osc
