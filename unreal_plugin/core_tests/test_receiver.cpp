// Unit tests of the plugin's receive side outside Unreal, run by CTest under AddressSanitizer
// and UndefinedBehaviorSanitizer: subject routing, the publication rules Live Link needs, the
// shutdown state machine with a sink that blocks like Live Link's lock, the receive loop on a
// fake socket, the status line and the timecode.
#include "MedtalkPublisher.h"
#include "MedtalkReceiver.h"
#include "MedtalkSubjects.h"
#include "MedtalkTimecode.h"
#include "OscTestBuilder.h"
#include "TestHarness.h"

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace medtalk;
using medtalk::test::FrameMessage;
using medtalk::test::NamesChunk;

static std::vector<uint8_t> Names(const std::string& Subject, const std::vector<std::string>& List)
{
	return NamesChunk(Subject, 0, 1, 0, static_cast<int32_t>(List.size()), NamesCrc32(List), List);
}

static DatagramResult Feed(SubjectRouter& R, const std::vector<uint8_t>& Bytes)
{
	std::vector<uint8_t> Exact(Bytes);
	return R.Feed(Exact.data(), Exact.size());
}

// Records what Live Link would receive; SubjectPresent answers from the static pushes unless
// the test "removes" a subject, as the user does in the Live Link panel.
class RecordingSink : public PublishSink
{
public:
	struct Event
	{
		char Kind;                  // 'S' static, 'F' frame
		std::string Subject;
		size_t Count;               // names or values
		int32_t FrameNumber;
	};

	bool SubjectPresent(const std::string& Subject) override
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		++PresenceChecks;
		for (const std::string& Removed : RemovedSubjects)
		{
			if (Removed == Subject)
			{
				return false;
			}
		}
		return true;
	}
	void PushStatic(const std::string& Subject, const std::vector<std::string>& List) override
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		Events.push_back({'S', Subject, List.size(), 0});
		RemovedSubjects.clear();
	}
	void PushFrame(const std::string& Subject, const Frame& F) override
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		Events.push_back({'F', Subject, F.Values.size(), F.FrameNumber});
	}

	std::mutex Mutex;
	std::vector<Event> Events;
	std::vector<std::string> RemovedSubjects;
	int PresenceChecks = 0;
};

static void Deliver(Publisher& P, const DatagramResult& R)
{
	for (const NamesUpdate& U : R.NamesChanged)
	{
		P.OnNames(U);
	}
	for (const SubjectFrame& F : R.Frames)
	{
		P.OnFrame(F);
	}
}

static void TestSubjectRouting()
{
	CHECK(IsValidSubject("MEDTalk") && IsValidSubject("Ada_2") && !IsValidSubject("") && !IsValidSubject("a b"));
	CHECK(!IsValidSubject("a/b") && !IsValidSubject("a*") && !IsValidSubject(std::string(256, 'x')));
	std::string Subject, Kind;
	CHECK(ParseAddress("/medtalk/Ada/frame", Subject, Kind) && Subject == "Ada" && Kind == "frame");
	CHECK(ParseAddress("/medtalk/Bob/names", Subject, Kind) && Subject == "Bob" && Kind == "names");
	CHECK(!ParseAddress("/medtalk/Ada/other", Subject, Kind) && !ParseAddress("/medtalk//frame", Subject, Kind));
	CHECK(!ParseAddress("/medtalk/Ada", Subject, Kind) && !ParseAddress("/other/Ada/frame", Subject, Kind));
	CHECK(!ParseAddress("/medtalk/A*a/frame", Subject, Kind));

	// Two subjects on one socket, each with its own list.
	SubjectRouter All;
	DatagramResult R = Feed(All, Names("Ada", {"a", "b"}));
	CHECK(R.NamesChanged.size() == 1 && R.NamesChanged[0].Subject == "Ada" && R.NamesChanged[0].Names.size() == 2);
	R = Feed(All, Names("Bob", {"x", "y", "z"}));
	CHECK(R.NamesChanged.size() == 1 && R.NamesChanged[0].Subject == "Bob");
	R = Feed(All, FrameMessage("Ada", 1, 1.0, {1.0f, 2.0f}));
	CHECK(R.Frames.size() == 1 && R.Frames[0].Subject == "Ada" && R.Frames[0].Values.Values.size() == 2);
	R = Feed(All, FrameMessage("Bob", 7, 1.0, {1.0f, 2.0f, 3.0f}));
	CHECK(R.Frames.size() == 1 && R.Frames[0].Subject == "Bob" && R.Frames[0].Values.FrameNumber == 7);
	R = Feed(All, FrameMessage("Bob", 8, 1.0, {1.0f, 2.0f}));  // Ada's size, Bob's subject
	CHECK(R.Rejected == 1 && R.Error.rfind("Bob: ", 0) == 0);
	CHECK(All.SubjectCount() == 2);
	R = Feed(All, FrameMessage("Cy", 1, 1.0, {1.0f}));
	CHECK(R.WaitingForNames == 1 && R.Rejected == 0);

	// A filter keeps one subject and reports the others as ignored.
	SubjectRouter OnlyAda("Ada");
	R = Feed(OnlyAda, Names("Bob", {"x"}));
	CHECK(R.Ignored == 1 && R.NamesChanged.empty() && R.IgnoredAddress == "/medtalk/Bob/names");
	CHECK(Feed(OnlyAda, Names("Ada", {"a"})).NamesChanged.size() == 1);

	// Invented subjects stop at kMaxSubjects.
	SubjectRouter Bounded;
	int Over = 0;
	for (size_t Index = 0; Index < kMaxSubjects + 10; ++Index)
	{
		Over += Feed(Bounded, Names("S" + std::to_string(Index), {"a"})).OverSubjectLimit;
	}
	CHECK(Bounded.SubjectCount() == kMaxSubjects && Over == 10);
	// Malformed datagrams are rejected as a whole.
	std::vector<uint8_t> Cut = Names("Ada", {"a"});
	Cut.resize(Cut.size() - 4);
	CHECK(Feed(All, Cut).Rejected == 1);
}

static void TestPublisherTicks()
{
	RecordingSink Sink;
	Publisher P(Sink);
	SubjectRouter R;
	Deliver(P, Feed(R, Names("Ada", {"a", "b"})));
	Deliver(P, Feed(R, FrameMessage("Ada", 0, 0.0, {1.0f, 2.0f})));
	CHECK(Sink.Events.empty());  // nothing before the static data is pushed
	CHECK(P.Tick());            // arms: frames of an earlier list would drain during this tick
	CHECK(Sink.Events.empty());
	CHECK(P.Tick());            // pushes the static data
	CHECK(Sink.Events.size() == 1 && Sink.Events[0].Kind == 'S' && Sink.Events[0].Count == 2);
	Deliver(P, Feed(R, FrameMessage("Ada", 1, 0.0, {1.0f, 2.0f})));
	Deliver(P, Feed(R, FrameMessage("Ada", 2, 0.0, {1.0f, 2.0f})));
	CHECK(Sink.Events.size() == 3 && Sink.Events[1].Kind == 'F' && Sink.Events[2].FrameNumber == 2);
	// Ticks while the subject is present push nothing: a static push would clear its frames.
	for (int Index = 0; Index < 5; ++Index)
	{
		CHECK(P.Tick());
	}
	CHECK(Sink.Events.size() == 3 && Sink.PresenceChecks == 5);

	// The curve set changes mid-stream: no frame of either list reaches Live Link with the
	// other list's static data, and the new static data waits a tick.
	Deliver(P, Feed(R, Names("Ada", {"x", "y", "z"})));
	Deliver(P, Feed(R, FrameMessage("Ada", 3, 0.0, {1.0f, 2.0f})));        // stale: dropped by the router
	Deliver(P, Feed(R, FrameMessage("Ada", 4, 0.0, {1.0f, 2.0f, 3.0f})));  // new list, not pushed yet
	CHECK(Sink.Events.size() == 3);
	CHECK(P.Tick() && Sink.Events.size() == 3);
	CHECK(P.Tick() && Sink.Events.size() == 4 && Sink.Events[3].Kind == 'S' && Sink.Events[3].Count == 3);
	Deliver(P, Feed(R, FrameMessage("Ada", 5, 0.0, {1.0f, 2.0f, 3.0f})));
	CHECK(Sink.Events.size() == 5 && Sink.Events[4].Count == 3);
	size_t StaticCount = 0;
	size_t Current = 0;
	for (const RecordingSink::Event& E : Sink.Events)
	{
		if (E.Kind == 'S')
		{
			Current = E.Count;
			++StaticCount;
		}
		else
		{
			CHECK(E.Count == Current);  // every frame matches the static data before it
		}
	}
	CHECK(StaticCount == 2);
	const PublisherCounts Counts = P.Counts();
	CHECK(Counts.FramesPushed == 3 && Counts.FramesDropped == 2 && Counts.StaticPushes == 2);
	CHECK(Counts.Subjects == std::vector<std::string>{"Ada"});
}

static void TestRepublishRemovedSubject()
{
	RecordingSink Sink;
	Publisher P(Sink);
	SubjectRouter R;
	Deliver(P, Feed(R, Names("Ada", {"a"})));
	Deliver(P, Feed(R, Names("Bob", {"b", "c"})));
	P.Tick();
	P.Tick();
	CHECK(Sink.Events.size() == 2);
	// The user removes Bob in the Live Link panel: Bob's static data is pushed again on the
	// next tick (once), and his frames flow again; Ada is untouched.
	Sink.RemovedSubjects.push_back("Bob");
	CHECK(P.Tick());
	CHECK(Sink.Events.size() == 3 && Sink.Events[2].Kind == 'S' && Sink.Events[2].Subject == "Bob");
	CHECK(P.Tick() && Sink.Events.size() == 3);
	Deliver(P, Feed(R, FrameMessage("Bob", 9, 0.0, {1.0f, 2.0f})));
	CHECK(Sink.Events.size() == 4 && Sink.Events[3].Subject == "Bob");
	CHECK(P.Counts().Republished == 1);
}

static void TestLifecycle()
{
	Lifecycle Never;
	CHECK(Never.Get() == Lifecycle::State::Idle);
	CHECK(Never.RequestShutdown());  // no thread: can be destroyed at once
	CHECK(!Never.Start());           // and cannot start any more

	Lifecycle L;
	CHECK(L.Start() && !L.Start());
	CHECK(!L.StopRequested());
	CHECK(!L.RequestShutdown());  // running: not yet
	CHECK(L.StopRequested() && L.Get() == Lifecycle::State::Stopping);
	CHECK(!L.RequestShutdown());  // asked again (Live Link does, every tick): still not
	L.MarkFinished();
	CHECK(L.RequestShutdown() && L.RequestShutdown());
}

// A socket fed by the test; WaitReadable blocks on a condition variable up to the timeout, as
// a real socket does, so the loop notices a stop request without spinning.
class FakeSocket : public DatagramSocket
{
public:
	void Push(std::vector<uint8_t> Datagram)
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		Queue.push_back(std::move(Datagram));
		Ready.notify_all();
	}
	bool WaitReadable(int TimeoutMs) override
	{
		std::unique_lock<std::mutex> Lock(Mutex);
		++Waits;
		return Ready.wait_for(Lock, std::chrono::milliseconds(TimeoutMs), [&] { return !Queue.empty(); });
	}
	bool Receive(uint8_t* Buffer, size_t Capacity, size_t& Size, std::string& Sender) override
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		if (Queue.empty())
		{
			return false;
		}
		const std::vector<uint8_t> D = std::move(Queue.front());
		Queue.pop_front();
		Size = std::min(D.size(), Capacity);
		std::copy(D.begin(), D.begin() + static_cast<std::ptrdiff_t>(Size), Buffer);
		Sender = "127.0.0.1:50000";
		return true;
	}
	int WaitCount()
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		return Waits;
	}

private:
	std::mutex Mutex;
	std::condition_variable Ready;
	std::deque<std::vector<uint8_t>> Queue;
	int Waits = 0;
};

// A sink whose PushFrame blocks while the test holds LiveLinkLock, as PushSubjectFrameData
// blocks while FLiveLinkClient::DoPendingWork holds its pending-frames lock.
class LockingSink : public PublishSink
{
public:
	bool SubjectPresent(const std::string&) override { return true; }
	void PushStatic(const std::string&, const std::vector<std::string>&) override
	{
		std::lock_guard<std::mutex> Lock(LiveLinkLock);
		++Statics;
	}
	void PushFrame(const std::string&, const Frame&) override
	{
		Entered.store(true);
		std::lock_guard<std::mutex> Lock(LiveLinkLock);
		++Frames;
	}
	std::mutex LiveLinkLock;
	std::atomic<bool> Entered{false};
	int Statics = 0;
	int Frames = 0;
};

static void TestTickNeverWaits()
{
	// The receive thread holds the publisher's lock while it waits inside a push on Live Link's
	// lock: the game thread's Tick gives up for this tick instead of waiting.
	LockingSink Sink;
	Publisher P(Sink);
	SubjectRouter R;
	Deliver(P, Feed(R, Names("Ada", {"a"})));
	P.Tick();
	P.Tick();
	CHECK(Sink.Statics == 1);
	std::unique_lock<std::mutex> Held(Sink.LiveLinkLock);
	const DatagramResult Frame = Feed(R, FrameMessage("Ada", 1, 0.0, {1.0f}));
	std::thread Receiver([&] { Deliver(P, Frame); });
	while (!Sink.Entered.load())
	{
		std::this_thread::yield();
	}
	CHECK(!P.Tick());
	Held.unlock();
	Receiver.join();
	CHECK(P.Tick() && Sink.Frames == 1);
}

static void TestShutdownWhileSinkBlocked()
{
	LockingSink Sink;
	double Clock = 100.0;
	ReceiveLoop Loop("", 9000, Sink, [&] { return Clock; });
	FakeSocket Socket;
	Lifecycle Life;
	CHECK(Life.Start());
	std::thread Thread([&] { Loop.Run(Life, Socket); });

	Socket.Push(Names("Ada", {"a", "b"}));
	// Two ticks publish the static data (the game thread does this in Update()); wait until the
	// thread has applied the names first.
	while (Loop.Snapshot().Datagrams < 1)
	{
		std::this_thread::yield();
	}
	while (Sink.Statics == 0)
	{
		Loop.Tick();
	}

	// The game thread takes Live Link's lock (DoPendingWork), the receive thread blocks in a push.
	std::unique_lock<std::mutex> Held(Sink.LiveLinkLock);
	Socket.Push(FrameMessage("Ada", 1, 1.0, {1.0f, 2.0f}));
	while (!Sink.Entered.load())
	{
		std::this_thread::yield();
	}
	// RequestSourceShutdown from under that lock: returns at once, and says "not yet", as many
	// times as it is asked. A join here would never return.
	for (int Index = 0; Index < 1000; ++Index)
	{
		CHECK(!Life.RequestShutdown());
	}
	CHECK(Life.Get() == Lifecycle::State::Stopping);
	Held.unlock();  // DoPendingWork ends
	while (!Life.RequestShutdown())
	{
		std::this_thread::yield();
	}
	Thread.join();  // cannot block: Run() has returned
	CHECK(Sink.Frames == 1);
}

static void TestReceiveLoop()
{
	RecordingSink Sink;
	double Clock = 10.0;
	std::mutex ClockMutex;
	auto Now = [&] { std::lock_guard<std::mutex> Lock(ClockMutex); return Clock; };
	ReceiveLoop Loop("", 9000, Sink, Now);
	CHECK(StatusLine(Loop.Snapshot()) == "Waiting for data on UDP port 9000");
	FakeSocket Socket;
	Lifecycle Life;
	CHECK(Life.Start());
	std::thread Thread([&] { Loop.Run(Life, Socket); });
	Socket.Push(Names("Ada", {"a"}));
	Socket.Push(Names("Bob", {"b"}));
	while (Loop.Snapshot().Datagrams < 2)
	{
		std::this_thread::yield();
	}
	CHECK(StatusLine(Loop.Snapshot()) == "Waiting for frames from 127.0.0.1:50000");
	Loop.Tick();
	Loop.Tick();
	// 120 frames per subject over two seconds of the injected clock: 120 fps in all.
	for (int Index = 0; Index < 240; ++Index)
	{
		{
			std::lock_guard<std::mutex> Lock(ClockMutex);
			Clock = 10.0 + Index / 120.0;
		}
		Socket.Push(FrameMessage(Index % 2 ? "Bob" : "Ada", Index, 0.0, {0.5f}));
		while (Loop.Snapshot().Datagrams < static_cast<uint64_t>(3 + Index))
		{
			std::this_thread::yield();
		}
	}
	StatusSnapshot S = Loop.Snapshot();
	CHECK(S.FramesPushed == 240 && S.Subjects == (std::vector<std::string>{"Ada", "Bob"}));
	CHECK(S.Fps > 119.0 && S.Fps < 121.0);
	CHECK(StatusLine(S) == "Active: Ada, Bob, 120 fps from 127.0.0.1:50000");
	// A rejected packet shows until a good frame follows.
	Socket.Push(FrameMessage("Ada", 1, 0.0, {1.0f, 2.0f, 3.0f}));
	while (Loop.Snapshot().Datagrams < 243)
	{
		std::this_thread::yield();
	}
	CHECK(StatusLine(Loop.Snapshot()) == "Rejected a packet from 127.0.0.1:50000: Ada: frame has 3 values but the names list has 1");
	Socket.Push(FrameMessage("Ada", 2, 0.0, {1.0f}));
	while (Loop.Snapshot().Datagrams < 244)
	{
		std::this_thread::yield();
	}
	CHECK(StatusLine(Loop.Snapshot()).rfind("Active: ", 0) == 0);
	{
		std::lock_guard<std::mutex> Lock(ClockMutex);
		Clock += 3.0;
	}
	CHECK(StatusLine(Loop.Snapshot()) == "No frames for 3 s (daemon stopped or muted?): Ada, Bob from 127.0.0.1:50000");
	CHECK(Loop.Snapshot().Fps == 0.0);
	while (!Life.RequestShutdown())
	{
		std::this_thread::yield();
	}
	Thread.join();
	CHECK(Socket.WaitCount() >= 1);
}

static void TestStatusLine()
{
	StatusSnapshot S;
	S.Port = 9000;
	S.BindError = "in use by another program or source";
	CHECK(StatusLine(S) == "Cannot open UDP port 9000: in use by another program or source");
	S.BindError.clear();
	S.Port = 12345;
	CHECK(StatusLine(S) == "Waiting for data on UDP port 12345");  // no "12,345"
	S.Datagrams = 3;
	S.LastSender = "10.0.0.2:6000";
	S.IgnoredAddress = "/medtalk/Bob/frame";
	S.Filter = "Ada";
	CHECK(StatusLine(S) == "Receiving /medtalk/Bob/frame from 10.0.0.2:6000, not subject Ada");
	S.Filter.clear();
	S.IgnoredAddress = "/other";
	CHECK(StatusLine(S) == "Receiving /other from 10.0.0.2:6000, not a MEDTalk address");

	RateMeter M;
	CHECK(M.Rate(0.0) == 0.0);
	for (int Index = 0; Index <= 60; ++Index)
	{
		M.Add(Index / 60.0);
	}
	CHECK(M.Rate(1.0) > 59.0 && M.Rate(1.0) < 61.0);
	CHECK(M.Rate(3.5) == 0.0);
}

static void TestTimecode()
{
	// Same instant, same answer as Python's frame_time() (pytest checks that side): with TZ=UTC
	// 1732400000.5 is 22:13:20.5 -> (22*3600 + 13*60 + 20.5) * 60 frames.
	setenv("TZ", "UTC", 1);
	tzset();
	const FrameOfDay A = FrameOfLocalDay(1732400000.5);
	CHECK(A.Frame == (22 * 3600 + 13 * 60 + 20) * 60 + 30 && A.SubFrame == 0.0f);
	const FrameOfDay B = FrameOfLocalDay(1732400000.0 + 1.0 / 120.0);
	CHECK(B.Frame == (22 * 3600 + 13 * 60 + 20) * 60 && B.SubFrame > 0.49f && B.SubFrame < 0.51f);
	const FrameOfDay Midnight = FrameOfLocalDay(1732406400.0);  // 2024-11-24 00:00:00 UTC
	CHECK(Midnight.Frame == 0 && Midnight.SubFrame == 0.0f);
	setenv("TZ", "UTC-2", 1);  // POSIX: two hours east of UTC
	tzset();
	CHECK(FrameOfLocalDay(1732406400.0).Frame == 2 * 3600 * 60);
}

int main(int Argc, char** Argv)
{
	const std::map<std::string, std::function<void()>> Cases = {
		{"subject_routing", TestSubjectRouting},
		{"publisher_ticks", TestPublisherTicks},
		{"republish_removed_subject", TestRepublishRemovedSubject},
		{"tick_never_waits", TestTickNeverWaits},
		{"lifecycle", TestLifecycle},
		{"shutdown_while_sink_blocked", TestShutdownWhileSinkBlocked},
		{"receive_loop", TestReceiveLoop},
		{"status_line", TestStatusLine},
		{"timecode", TestTimecode},
	};
	return medtalk::test::RunCases(Argc, Argv, Cases);
}
