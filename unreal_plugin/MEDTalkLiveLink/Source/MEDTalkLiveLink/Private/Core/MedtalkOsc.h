// MEDTalk Live Link: portable OSC 1.0 decoding (C++17, no Unreal types).
//
// Every read is bounds-checked against the datagram: a malformed or hostile packet is
// rejected with a Status, never read past its end. Exceptions and RTTI are not used, so the
// same files compile inside an Unreal module (which disables both) and in the CMake tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace medtalk::osc
{

enum class Status
{
	Ok,
	Empty,              // zero-length datagram
	BadAlignment,       // OSC packets are a multiple of 4 bytes
	Truncated,          // an argument or header runs past the end
	BadAddress,         // address missing, unterminated or not starting with '/'
	BadTypeTags,        // type tag string missing, unterminated or not starting with ','
	UnknownTypeTag,     // a tag this decoder does not support (arrays included)
	LengthPastEnd,      // a blob size or bundle element size points past the end (or is negative)
	TrailingBytes,      // bytes left after the last argument
	BundleTooDeep,      // nested bundles deeper than kMaxBundleDepth
	TooManyMessages,    // a bundle holding more than kMaxMessages messages
};

const char* StatusText(Status S);

constexpr int kMaxBundleDepth = 8;
constexpr size_t kMaxMessages = 4096;

struct Arg
{
	char Type = 0;                 // the OSC type tag: i f d h t s S b c r m T F N I
	int32_t Int = 0;               // i, c, r, m (raw 32 bits)
	int64_t Int64 = 0;             // h, t (timetag bits)
	float Float = 0.0f;            // f
	double Double = 0.0;           // d
	bool Bool = false;             // T (true) / F (false)
	std::string String;            // s, S
	std::vector<uint8_t> Blob;     // b
};

struct Message
{
	std::string Address;
	std::vector<Arg> Args;

	// The type tags of the arguments, without the leading ',' ("id" + "f"...).
	std::string TypeTags() const;
};

// Big-endian cursor over one buffer; every read checks the bytes it needs are there.
class Reader
{
public:
	Reader(const uint8_t* InData, size_t InSize) : Data(InData), Size(InSize) {}

	bool ReadInt32(int32_t& Out);
	bool ReadInt64(int64_t& Out);
	bool ReadFloat(float& Out);
	bool ReadDouble(double& Out);
	bool ReadPaddedString(std::string& Out);           // NUL-terminated, padded to 4
	Status ReadBlob(std::vector<uint8_t>& Out);        // int32 size + bytes, padded to 4
	bool Skip(size_t Bytes);

	size_t Offset() const { return Pos; }
	size_t Remaining() const { return Size - Pos; }
	const uint8_t* Current() const { return Data + Pos; }

private:
	bool ReadU32(uint32_t& Out);
	bool ReadU64(uint64_t& Out);

	const uint8_t* Data;
	size_t Size;
	size_t Pos = 0;
};

// Decodes one OSC message (not a bundle).
Status DecodeMessage(const uint8_t* Data, size_t Size, Message& Out);

// Decodes a datagram holding a message or a (nested) bundle; messages are appended in order.
// On any error nothing is appended.
Status DecodePacket(const uint8_t* Data, size_t Size, std::vector<Message>& Out);

} // namespace medtalk::osc
