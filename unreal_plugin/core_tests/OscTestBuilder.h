// Test helper: writes OSC datagrams byte by byte (big-endian, padded), including broken ones.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace medtalk::test
{

class OscBuilder
{
public:
	std::vector<uint8_t> Bytes;

	OscBuilder& U32(uint32_t V)
	{
		for (int Shift = 24; Shift >= 0; Shift -= 8)
		{
			Bytes.push_back(static_cast<uint8_t>(V >> Shift));
		}
		return *this;
	}
	// The bits of a 4- or 8-byte value, as the wire's big-endian words take them.
	template <typename T>
	static uint64_t BitsOf(T V)
	{
		static_assert(sizeof(T) == 4 || sizeof(T) == 8, "OSC numbers are 4 or 8 bytes");
		if constexpr (sizeof(T) == 4)
		{
			uint32_t Bits;
			std::memcpy(&Bits, &V, 4);
			return Bits;
		}
		else
		{
			uint64_t Bits;
			std::memcpy(&Bits, &V, 8);
			return Bits;
		}
	}
	OscBuilder& U64(uint64_t Bits)
	{
		U32(static_cast<uint32_t>(Bits >> 32));
		return U32(static_cast<uint32_t>(Bits));
	}
	OscBuilder& I32(int32_t V) { return U32(static_cast<uint32_t>(BitsOf(V))); }
	OscBuilder& F32(float V) { return U32(static_cast<uint32_t>(BitsOf(V))); }
	OscBuilder& I64(int64_t V) { return U64(BitsOf(V)); }
	OscBuilder& F64(double V) { return U64(BitsOf(V)); }
	OscBuilder& Str(const std::string& S)
	{
		Bytes.insert(Bytes.end(), S.begin(), S.end());
		Bytes.push_back(0);
		while (Bytes.size() % 4 != 0)
		{
			Bytes.push_back(0);
		}
		return *this;
	}
	OscBuilder& Blob(const std::vector<uint8_t>& B)
	{
		I32(static_cast<int32_t>(B.size()));
		Bytes.insert(Bytes.end(), B.begin(), B.end());
		while (Bytes.size() % 4 != 0)
		{
			Bytes.push_back(0);
		}
		return *this;
	}
	OscBuilder& Raw(const std::vector<uint8_t>& B)
	{
		Bytes.insert(Bytes.end(), B.begin(), B.end());
		return *this;
	}
};

// A names chunk of our protocol.
inline std::vector<uint8_t> NamesChunk(const std::string& Subject, int32_t Index, int32_t Count, int32_t First,
	int32_t Total, int32_t Crc, const std::vector<std::string>& Names, int32_t Version = 1)
{
	OscBuilder B;
	B.Str("/medtalk/" + Subject + "/names").Str("," + std::string(6, 'i') + std::string(Names.size(), 's'));
	B.I32(Version).I32(Index).I32(Count).I32(First).I32(Total).I32(Crc);
	for (const std::string& N : Names)
	{
		B.Str(N);
	}
	return B.Bytes;
}

// A frame message of our protocol.
inline std::vector<uint8_t> FrameMessage(const std::string& Subject, int32_t Number, double Time,
	const std::vector<float>& Values)
{
	OscBuilder B;
	B.Str("/medtalk/" + Subject + "/frame").Str(",id" + std::string(Values.size(), 'f'));
	B.I32(Number).F64(Time);
	for (const float V : Values)
	{
		B.F32(V);
	}
	return B.Bytes;
}

} // namespace medtalk::test
