// Unit tests of the portable OSC core, run by CTest (one case per test, by name) under
// AddressSanitizer and UndefinedBehaviorSanitizer: any read past a buffer aborts the test.
//
// Every packet is copied into a heap buffer of exactly its size before decoding, so that a
// read even one byte past the end is caught.
#include "MedtalkFrameAssembler.h"
#include "MedtalkOsc.h"
#include "OscTestBuilder.h"
#include "TestHarness.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace medtalk;
using medtalk::osc::Status;
using medtalk::test::FrameMessage;
using medtalk::test::NamesChunk;
using medtalk::test::OscBuilder;

// Decodes from an exact-size heap copy (see file comment).
static Status Decode(const std::vector<uint8_t>& Bytes, std::vector<osc::Message>& Out, size_t Size)
{
	std::vector<uint8_t> Exact(Bytes.begin(), Bytes.begin() + static_cast<std::ptrdiff_t>(Size));
	return osc::DecodePacket(Exact.empty() ? nullptr : Exact.data(), Exact.size(), Out);
}

static Status Decode(const std::vector<uint8_t>& Bytes, std::vector<osc::Message>& Out)
{
	return Decode(Bytes, Out, Bytes.size());
}

// Applies every message of one datagram to one assembler (the plugin routes through
// SubjectRouter::Feed; these tests look at a single subject's assembler directly).
struct DatagramFeed : FeedResult
{
	Status OscStatus = Status::Ok;
	int Ignored = 0;  // messages for another subject or address
};

static DatagramFeed Feed(FrameAssembler& A, const std::vector<uint8_t>& Bytes)
{
	DatagramFeed R;
	std::vector<osc::Message> Messages;
	R.OscStatus = Decode(Bytes, Messages);
	if (R.OscStatus != Status::Ok)
	{
		R.Rejected = 1;
		return R;
	}
	for (const osc::Message& M : Messages)
	{
		if (!A.Apply(M, R))
		{
			++R.Ignored;
		}
	}
	return R;
}

static bool SameBits(float A, float B)
{
	uint32_t X, Y;
	std::memcpy(&X, &A, 4);
	std::memcpy(&Y, &B, 4);
	return X == Y;
}

static std::vector<uint8_t> AllTypesMessage()
{
	OscBuilder B;
	B.Str("/all/types").Str(",ifdhtsSbcrmTFNI");
	B.I32(-123456).F32(-1.5f).F64(1.0 / 3.0).I64(-(int64_t(1) << 40)).I64(int64_t(0x0102030405060708));
	B.Str("hello").Str("sym").Blob({1, 2, 3, 4, 5}).I32('x').U32(0xFF8000FFu).U32(0x00903C7Fu);
	return B.Bytes;
}

static void TestValidMessage()
{
	OscBuilder B;
	B.Str("/medtalk/S/frame").Str(",ifs").I32(42).F32(0.25f).Str("abc");
	std::vector<osc::Message> Out;
	CHECK(Decode(B.Bytes, Out) == Status::Ok);
	CHECK(Out.size() == 1);
	if (Out.size() == 1)
	{
		CHECK(Out[0].Address == "/medtalk/S/frame");
		CHECK(Out[0].TypeTags() == "ifs");
		CHECK(Out[0].Args[0].Int == 42);
		CHECK(Out[0].Args[1].Float == 0.25f);
		CHECK(Out[0].Args[2].String == "abc");
	}
	// A string whose length is a multiple of 4 still needs a full word of NULs.
	OscBuilder C;
	C.Str("/abc").Str(",s").Str("wxyz");
	CHECK(C.Bytes.size() == 8 + 4 + 8);
	Out.clear();
	CHECK(Decode(C.Bytes, Out) == Status::Ok && Out.size() == 1 && Out[0].Args[0].String == "wxyz");
	// No arguments at all.
	OscBuilder D;
	D.Str("/x").Str(",");
	Out.clear();
	CHECK(Decode(D.Bytes, Out) == Status::Ok && Out.size() == 1 && Out[0].Args.empty());
}

static void TestAllTypeTags()
{
	std::vector<osc::Message> Out;
	CHECK(Decode(AllTypesMessage(), Out) == Status::Ok);
	CHECK(Out.size() == 1);
	if (Out.size() != 1)
	{
		return;
	}
	const std::vector<osc::Arg>& A = Out[0].Args;
	CHECK(Out[0].TypeTags() == "ifdhtsSbcrmTFNI");
	CHECK(A[0].Int == -123456);
	CHECK(A[1].Float == -1.5f);
	CHECK(A[2].Double == 1.0 / 3.0);
	CHECK(A[3].Int64 == -(int64_t(1) << 40));
	CHECK(A[4].Int64 == int64_t(0x0102030405060708));
	CHECK(A[5].String == "hello");
	CHECK(A[6].String == "sym");
	CHECK((A[7].Blob == std::vector<uint8_t>{1, 2, 3, 4, 5}));
	CHECK(A[8].Int == 'x');
	CHECK(static_cast<uint32_t>(A[9].Int) == 0xFF8000FFu);
	CHECK(static_cast<uint32_t>(A[10].Int) == 0x00903C7Fu);
	CHECK(A[11].Bool == true);
	CHECK(A[12].Bool == false);
	CHECK(A[13].Type == 'N' && A[14].Type == 'I');
	// Special float values pass through bit for bit.
	const float Specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, 1e-45f, 3.4028235e38f, std::nanf("")};
	for (const float V : Specials)
	{
		OscBuilder B;
		B.Str("/f").Str(",f").F32(V);
		Out.clear();
		CHECK(Decode(B.Bytes, Out) == Status::Ok && SameBits(Out[0].Args[0].Float, V));
	}
}

static std::vector<uint8_t> Bundle(const std::vector<std::vector<uint8_t>>& Elements)
{
	OscBuilder B;
	B.Str("#bundle").I64(1);
	for (const std::vector<uint8_t>& E : Elements)
	{
		B.I32(static_cast<int32_t>(E.size())).Raw(E);
	}
	return B.Bytes;
}

static void TestBundles()
{
	OscBuilder M1, M2, M3;
	M1.Str("/one").Str(",i").I32(1);
	M2.Str("/two").Str(",i").I32(2);
	M3.Str("/three").Str(",i").I32(3);
	const std::vector<uint8_t> Nested = Bundle({M1.Bytes, Bundle({M2.Bytes}), M3.Bytes});
	std::vector<osc::Message> Out;
	CHECK(Decode(Nested, Out) == Status::Ok);
	CHECK(Out.size() == 3);
	if (Out.size() == 3)
	{
		CHECK(Out[0].Address == "/one" && Out[1].Address == "/two" && Out[2].Address == "/three");
	}
	// An empty bundle is valid and holds nothing.
	Out.clear();
	CHECK(Decode(Bundle({}), Out) == Status::Ok && Out.empty());
	// Too deep.
	std::vector<uint8_t> Deep = M1.Bytes;
	for (int Level = 0; Level <= osc::kMaxBundleDepth; ++Level)
	{
		Deep = Bundle({Deep});
	}
	Out.clear();
	CHECK(Decode(Deep, Out) == Status::BundleTooDeep && Out.empty());
	// Element sizes past the end, negative, or cut.
	std::vector<uint8_t> Past = Bundle({M1.Bytes});
	Past[16] = 0x7F;  // element size high byte
	Out.clear();
	CHECK(Decode(Past, Out) == Status::LengthPastEnd && Out.empty());
	std::vector<uint8_t> Negative = Bundle({M1.Bytes});
	Negative[16] = 0xFF;
	CHECK(Decode(Negative, Out) == Status::LengthPastEnd);
	OscBuilder Cut;
	Cut.Str("#bundle").I64(1).I32(8).Raw(M1.Bytes);  // says 8, the message is longer
	CHECK(Decode(Cut.Bytes, Out = {}) != Status::Ok);
	// A bad element rejects the whole bundle: nothing half-applied.
	OscBuilder Bad;
	Bad.Str("/bad").Str(",x");
	Out.clear();
	CHECK(Decode(Bundle({M1.Bytes, Bad.Bytes}), Out) == Status::UnknownTypeTag && Out.empty());
	// Header only, timetag cut.
	OscBuilder Short;
	Short.Str("#bundle").I32(0);
	CHECK(Decode(Short.Bytes, Out) == Status::Truncated);
}

static void TestTruncated()
{
	const std::vector<std::vector<uint8_t>> Packets = {
		AllTypesMessage(),
		FrameMessage("S", 7, 12.5, {0.1f, 0.2f, 0.3f}),
		NamesChunk("S", 0, 1, 0, 2, 0, {"alpha", "beta"}),
		Bundle({AllTypesMessage(), FrameMessage("S", 1, 1.0, {1.0f})}),
	};
	for (size_t Index = 0; Index < Packets.size(); ++Index)
	{
		const std::vector<uint8_t>& P = Packets[Index];
		const bool IsBundle = Index == 3;
		std::vector<osc::Message> Full;
		CHECK(Decode(P, Full) == Status::Ok);
		for (size_t Size = 0; Size < P.size(); ++Size)
		{
			std::vector<osc::Message> Out;
			const Status S = Decode(P, Out, Size);
			if (IsBundle)
			{
				// A bundle cut at an element boundary is a shorter valid bundle.
				CHECK(S == Status::Ok ? Out.size() < Full.size() : Out.empty());
			}
			else
			{
				CHECK(S != Status::Ok);
				CHECK(Out.empty());
			}
		}
	}
	// Aligned truncation inside an argument reports Truncated specifically.
	std::vector<uint8_t> Frame = FrameMessage("S", 7, 12.5, {0.1f, 0.2f, 0.3f});
	std::vector<osc::Message> Out;
	CHECK(Decode(Frame, Out, Frame.size() - 4) == Status::Truncated);
	CHECK(Decode(Frame, Out, Frame.size() - 3) == Status::BadAlignment);
}

static void TestLengthPastEnd()
{
	for (const int32_t Length : {5, 8, 1 << 20, 0x7FFFFFFF, -1, -0x7FFFFFFF - 1})
	{
		OscBuilder B;
		B.Str("/blob").Str(",b").I32(Length).U32(0);  // four bytes follow, fewer than most claims
		std::vector<osc::Message> Out;
		CHECK(Decode(B.Bytes, Out) == Status::LengthPastEnd);
	}
	OscBuilder Exact;
	Exact.Str("/blob").Str(",b").I32(4).U32(0xDEADBEEF);
	std::vector<osc::Message> Out;
	CHECK(Decode(Exact.Bytes, Out) == Status::Ok && Out[0].Args[0].Blob.size() == 4);
	// A string with no NUL before the end.
	OscBuilder NoNul;
	NoNul.Str("/s").Str(",s").Raw({'a', 'b', 'c', 'd'});
	CHECK(Decode(NoNul.Bytes, Out = {}) == Status::Truncated);
}

static void TestWrongTypeTags()
{
	std::vector<osc::Message> Out;
	OscBuilder NoComma;
	NoComma.Str("/x").Str("if").I32(1).F32(1.0f);
	CHECK(Decode(NoComma.Bytes, Out) == Status::BadTypeTags);
	OscBuilder NoTags;
	NoTags.Str("/x");
	CHECK(Decode(NoTags.Bytes, Out) == Status::BadTypeTags);
	OscBuilder Unknown;
	Unknown.Str("/x").Str(",iq").I32(1).I32(2);
	CHECK(Decode(Unknown.Bytes, Out) == Status::UnknownTypeTag);
	OscBuilder Array;
	Array.Str("/x").Str(",[i]").I32(1);
	CHECK(Decode(Array.Bytes, Out) == Status::UnknownTypeTag);
	OscBuilder NoSlash;
	NoSlash.Str("x").Str(",i").I32(1);
	CHECK(Decode(NoSlash.Bytes, Out) == Status::BadAddress);
	OscBuilder Trailing;
	Trailing.Str("/x").Str(",i").I32(1).I32(2);
	CHECK(Decode(Trailing.Bytes, Out) == Status::TrailingBytes);
	OscBuilder TooFew;
	TooFew.Str("/x").Str(",ifd").I32(1).F32(2.0f);
	CHECK(Decode(TooFew.Bytes, Out) == Status::Truncated);
	CHECK(Out.empty());

	// Well-formed OSC, wrong for our protocol: the assembler rejects it.
	FrameAssembler A("S");
	CHECK(Feed(A, NamesChunk("S", 0, 1, 0, 1, NamesCrc32({"n"}), {"n"})).NamesChanged);
	OscBuilder FloatTime;
	FloatTime.Str("/medtalk/S/frame").Str(",iff").I32(1).F32(0.5f).F32(1.0f);
	DatagramFeed R = Feed(A, FloatTime.Bytes);
	CHECK(R.Rejected == 1 && R.Frames.empty() && !R.Error.empty());
	OscBuilder IntValue;
	IntValue.Str("/medtalk/S/frame").Str(",idi").I32(1).F64(0.5).I32(1);
	CHECK(Feed(A, IntValue.Bytes).Rejected == 1);
	OscBuilder StringHeader;
	StringHeader.Str("/medtalk/S/names").Str(",iiiiisss").I32(1).I32(0).I32(1).I32(0).I32(1).Str("x").Str("y").Str("z");
	CHECK(Feed(A, StringHeader.Bytes).Rejected == 1);
}

static void TestNamesAssembly()
{
	const std::vector<std::string> Names = {"jawOpen", "mouthCornerPullL", "mouthCornerPullR", "eyeBlinkL", "eyeBlinkR"};
	const int32_t Crc = NamesCrc32(Names);
	CHECK(NamesCrc32({"a", "b"}) == -284716805);  // zlib.crc32(b"a\nb") as a signed int32
	CHECK(NamesCrc32({"CTRL_expressions_jawOpen"}) == -674616610);

	FrameAssembler A("Ada");
	const std::vector<uint8_t> C0 = NamesChunk("Ada", 0, 3, 0, 5, Crc, {"jawOpen", "mouthCornerPullL"});
	const std::vector<uint8_t> C1 = NamesChunk("Ada", 1, 3, 2, 5, Crc, {"mouthCornerPullR", "eyeBlinkL"});
	const std::vector<uint8_t> C2 = NamesChunk("Ada", 2, 3, 4, 5, Crc, {"eyeBlinkR"});
	CHECK(!Feed(A, C2).NamesChanged);
	CHECK(!Feed(A, C0).NamesChanged);
	CHECK(!Feed(A, C0).NamesChanged);  // repeat while assembling
	CHECK(A.Names().empty());
	DatagramFeed R = Feed(A, C1);
	CHECK(R.NamesChanged && R.Rejected == 0);
	CHECK(A.Names() == Names);
	CHECK(A.NamesGeneration() == 1);
	// The periodic re-send of the same list changes nothing.
	Feed(A, C0);
	Feed(A, C1);
	CHECK(!Feed(A, C2).NamesChanged && A.NamesGeneration() == 1);
	// A new list replaces it.
	const std::vector<std::string> Other = {"a", "b"};
	R = Feed(A, NamesChunk("Ada", 0, 1, 0, 2, NamesCrc32(Other), Other));
	CHECK(R.NamesChanged && A.Names() == Other && A.NamesGeneration() == 2);
	// Wrong CRC, gaps, overlaps, bad header values, other versions: rejected, names kept.
	CHECK(Feed(A, NamesChunk("Ada", 0, 1, 0, 2, 12345, {"x", "y"})).Rejected == 1);
	CHECK(Feed(A, NamesChunk("Ada", 0, 2, 0, 4, 7, {"x"})).Rejected == 0);
	CHECK(Feed(A, NamesChunk("Ada", 1, 2, 2, 4, 7, {"z"})).Rejected == 1);  // slot 1 and 3 missing
	CHECK(Feed(A, NamesChunk("Ada", 0, 2, 0, 3, 9, {"x", "y"})).Rejected == 0);
	CHECK(Feed(A, NamesChunk("Ada", 1, 2, 1, 3, 9, {"y", "z"})).Rejected == 1);  // overlaps slot 1
	CHECK(Feed(A, NamesChunk("Ada", 2, 2, 0, 1, 1, {"x"})).Rejected == 1);      // index >= count
	CHECK(Feed(A, NamesChunk("Ada", 0, 0, 0, 1, 1, {"x"})).Rejected == 1);      // zero chunks
	CHECK(Feed(A, NamesChunk("Ada", 0, 1, 1, 1, 1, {"x"})).Rejected == 1);      // past total
	CHECK(Feed(A, NamesChunk("Ada", 0, 1, -1, 1, 1, {"x"})).Rejected == 1);     // negative first
	CHECK(Feed(A, NamesChunk("Ada", 0, 1, 0, kMaxNames + 1, 1, {"x"})).Rejected == 1);
	CHECK(Feed(A, NamesChunk("Ada", 0, 1, 0, 2, NamesCrc32(Other), Other, 2)).Rejected == 1);  // version 2
	CHECK(A.Names() == Other && A.NamesGeneration() == 2);
	// Another subject is ignored, and remembered for the status line.
	R = Feed(A, NamesChunk("Bob", 0, 1, 0, 2, NamesCrc32(Other), Other));
	CHECK(R.Ignored == 1 && R.Rejected == 0);
	// Names and a frame in one bundle are applied in order.
	FrameAssembler B("Ada");
	R = Feed(B, Bundle({NamesChunk("Ada", 0, 1, 0, 2, NamesCrc32(Other), Other), FrameMessage("Ada", 3, 0.5, {1.0f, 2.0f})}));
	CHECK(R.NamesChanged && R.Frames.size() == 1);
}

static void TestCountMismatch()
{
	FrameAssembler A("S");
	DatagramFeed R = Feed(A, FrameMessage("S", 0, 0.0, {1.0f, 2.0f}));
	CHECK(R.WaitingForNames == 1 && R.Frames.empty() && R.Rejected == 0);
	const std::vector<std::string> Names = {"a", "b", "c"};
	Feed(A, NamesChunk("S", 0, 1, 0, 3, NamesCrc32(Names), Names));
	R = Feed(A, FrameMessage("S", 1, 0.0, {1.0f, 2.0f}));
	CHECK(R.Rejected == 1 && R.Frames.empty() && R.Error.find("2 values") != std::string::npos);
	R = Feed(A, FrameMessage("S", 2, 0.0, {1.0f, 2.0f, 3.0f, 4.0f}));
	CHECK(R.Rejected == 1 && R.Frames.empty());
	const std::vector<float> Values = {0.1f, -0.0f, 1e-30f};
	R = Feed(A, FrameMessage("S", -5, 1700000000.0000001, Values));
	CHECK(R.Rejected == 0 && R.Frames.size() == 1);
	if (R.Frames.size() == 1)
	{
		CHECK(R.Frames[0].FrameNumber == -5);
		CHECK(R.Frames[0].CaptureTime == 1700000000.0000001);
		for (size_t I = 0; I < Values.size(); ++I)
		{
			CHECK(SameBits(R.Frames[0].Values[I], Values[I]));
		}
	}
	// The sender switches curve sets: frames sized for the previous list (sent before the
	// switch) are stale, frames sized for the list still being assembled wait; both are dropped
	// without an error. Any other size is still a rejection.
	const std::vector<std::string> Two = {"x", "y"};
	CHECK(Feed(A, NamesChunk("S", 0, 1, 0, 2, NamesCrc32(Two), Two)).NamesChanged);
	R = Feed(A, FrameMessage("S", 3, 0.0, Values));
	CHECK(R.Stale == 1 && R.Rejected == 0 && R.Frames.empty() && R.Error.empty());
	const std::vector<std::string> Four = {"p", "q", "r", "s"};
	CHECK(!Feed(A, NamesChunk("S", 0, 2, 0, 4, NamesCrc32(Four), {"p", "q"})).NamesChanged);
	R = Feed(A, FrameMessage("S", 4, 0.0, {1.0f, 2.0f, 3.0f, 4.0f}));
	CHECK(R.WaitingForNames == 1 && R.Rejected == 0 && R.Frames.empty());
	R = Feed(A, FrameMessage("S", 5, 0.0, {1.0f, 2.0f, 3.0f, 4.0f, 5.0f}));
	CHECK(R.Rejected == 1);
	R = Feed(A, FrameMessage("S", 6, 0.0, {1.0f, 2.0f}));
	CHECK(R.Frames.size() == 1 && R.Frames[0].NamesGeneration == A.NamesGeneration());
}

static void TestRandomBytes()
{
	std::mt19937 Rng(20261124u);
	std::vector<uint8_t> Noise(64 * 1024);
	for (uint8_t& Byte : Noise)
	{
		Byte = static_cast<uint8_t>(Rng());
	}
	FrameAssembler A("S");
	std::vector<osc::Message> Out;
	// The whole buffer, then many random windows, each as its own exact-size datagram.
	Decode(Noise, Out);
	Feed(A, Noise);
	size_t Accepted = 0;
	for (int Iter = 0; Iter < 20000; ++Iter)
	{
		const size_t Start = Rng() % Noise.size();
		const size_t Size = std::min<size_t>(Rng() % 2048, Noise.size() - Start);
		std::vector<uint8_t> Window(Noise.begin() + static_cast<std::ptrdiff_t>(Start),
			Noise.begin() + static_cast<std::ptrdiff_t>(Start + Size));
		Out.clear();
		if (Decode(Window, Out) == Status::Ok)
		{
			++Accepted;
		}
		const DatagramFeed R = Feed(A, Window);
		CHECK(R.Frames.empty());  // random bytes never form our frame with a names list
	}
	// Noise starting with a valid address and "#bundle" headers reaches the deeper parsers.
	for (int Iter = 0; Iter < 20000; ++Iter)
	{
		OscBuilder B;
		if (Iter % 2 == 0)
		{
			B.Str("/medtalk/S/names").Str(",iiiiiis" + std::string(Rng() % 8, "ifdsbhTN"[Rng() % 8]));
		}
		else
		{
			B.Str("#bundle").I64(0);
		}
		const size_t Extra = (Rng() % 64) * 4;
		for (size_t I = 0; I < Extra; ++I)
		{
			B.Bytes.push_back(Noise[(Iter * 131 + I) % Noise.size()]);
		}
		Out.clear();
		Decode(B.Bytes, Out);
		Feed(A, B.Bytes);
	}
	std::printf("random windows decoded as valid OSC: %zu of 20000\n", Accepted);
}

static void TestMutations()
{
	const std::vector<std::string> Names = {"alpha", "beta", "gamma"};
	const std::vector<std::vector<uint8_t>> Seeds = {
		NamesChunk("S", 0, 1, 0, 3, NamesCrc32(Names), Names),
		FrameMessage("S", 9, 2.0, {1.0f, 2.0f, 3.0f}),
		Bundle({FrameMessage("S", 1, 1.0, {1.0f, 2.0f, 3.0f}), AllTypesMessage()}),
		AllTypesMessage(),
	};
	std::mt19937 Rng(7u);
	FrameAssembler A("S");
	Feed(A, Seeds[0]);
	for (int Iter = 0; Iter < 50000; ++Iter)
	{
		std::vector<uint8_t> P = Seeds[static_cast<size_t>(Iter) % Seeds.size()];
		const int Flips = 1 + static_cast<int>(Rng() % 4);
		for (int F = 0; F < Flips; ++F)
		{
			const size_t At = Rng() % P.size();
			switch (Rng() % 3)
			{
			case 0: P[At] ^= static_cast<uint8_t>(1u << (Rng() % 8)); break;
			case 1: P[At] = static_cast<uint8_t>(Rng()); break;
			default: P[At] = (Rng() % 2) ? 0xFF : 0x7F; break;  // huge or negative length fields
			}
		}
		if (Rng() % 4 == 0)
		{
			P.resize(Rng() % (P.size() + 1));
		}
		std::vector<osc::Message> Out;
		Decode(P, Out);
		const DatagramFeed R = Feed(A, P);
		for (const Frame& F : R.Frames)
		{
			CHECK(F.Values.size() == A.Names().size());
		}
	}
}

int main(int Argc, char** Argv)
{
	const std::map<std::string, std::function<void()>> Cases = {
		{"valid_message", TestValidMessage},
		{"all_type_tags", TestAllTypeTags},
		{"bundles", TestBundles},
		{"truncated", TestTruncated},
		{"length_past_end", TestLengthPastEnd},
		{"wrong_type_tags", TestWrongTypeTags},
		{"names_assembly", TestNamesAssembly},
		{"count_mismatch", TestCountMismatch},
		{"random_bytes", TestRandomBytes},
		{"mutations", TestMutations},
	};
	return medtalk::test::RunCases(Argc, Argv, Cases);
}
