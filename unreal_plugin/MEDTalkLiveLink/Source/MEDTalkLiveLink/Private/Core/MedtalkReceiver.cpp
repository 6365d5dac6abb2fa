// MEDTalk Live Link: receive loop, shutdown state machine, status. See MedtalkReceiver.h.
#include "MedtalkReceiver.h"

#include <cstdio>
#include <utility>

namespace medtalk
{

bool Lifecycle::Start()
{
	int Expected = static_cast<int>(State::Idle);
	return Value.compare_exchange_strong(Expected, static_cast<int>(State::Running));
}

void Lifecycle::RequestStop()
{
	int Expected = static_cast<int>(State::Running);
	if (Value.compare_exchange_strong(Expected, static_cast<int>(State::Stopping)))
	{
		return;
	}
	Expected = static_cast<int>(State::Idle);
	Value.compare_exchange_strong(Expected, static_cast<int>(State::Finished));
}

bool Lifecycle::StopRequested() const
{
	return Get() != State::Running;
}

void Lifecycle::MarkFinished()
{
	Value.store(static_cast<int>(State::Finished));
}

void RateMeter::Add(double Now)
{
	if (WindowStart < 0.0)
	{
		WindowStart = Now;
	}
	else if (Now - WindowStart >= 1.0)
	{
		LastRate = static_cast<double>(InWindow) / (Now - WindowStart);
		WindowStart = Now;
		InWindow = 0;
	}
	++InWindow;
	LastAdd = Now;
}

double RateMeter::Rate(double Now) const
{
	if (LastAdd < 0.0 || Now - LastAdd >= 2.0)
	{
		return 0.0;
	}
	return LastRate;
}

static std::string Join(const std::vector<std::string>& Items)
{
	std::string Out;
	for (const std::string& Item : Items)
	{
		Out += (Out.empty() ? "" : ", ") + Item;
	}
	return Out;
}

std::string StatusLine(const StatusSnapshot& S)
{
	const std::string Port = std::to_string(S.Port);  // no digit grouping: "9000", not "9,000"
	if (!S.BindError.empty())
	{
		return "Cannot open UDP port " + Port + ": " + S.BindError;
	}
	const std::string From = S.LastSender.empty() ? std::string() : " from " + S.LastSender;
	if (!S.LastError.empty())
	{
		return "Rejected a packet" + From + ": " + S.LastError;
	}
	if (S.FramesPushed == 0)
	{
		if (!S.IgnoredAddress.empty())
		{
			return "Receiving " + S.IgnoredAddress + From +
				(S.Filter.empty() ? std::string(", not a MEDTalk address") : ", not subject " + S.Filter);
		}
		if (S.Datagrams == 0)
		{
			return "Waiting for data on UDP port " + Port;
		}
		return (S.NamesSeen ? "Waiting for frames" : "Waiting for curve names") + From;
	}
	const std::string Subjects = Join(S.Subjects);
	if (S.SecondsSinceFrame > kIdleSeconds)
	{
		char Seconds[32];
		std::snprintf(Seconds, sizeof(Seconds), "%.0f", S.SecondsSinceFrame);
		return "No frames for " + std::string(Seconds) + " s (daemon stopped or muted?): " + Subjects + From;
	}
	char Fps[32];
	std::snprintf(Fps, sizeof(Fps), "%.0f", S.Fps);
	return "Active: " + Subjects + ", " + Fps + " fps" + From;
}

ReceiveLoop::ReceiveLoop(std::string Filter, int Port, PublishSink& Sink, std::function<double()> InNow)
	: Router(Filter)
	, Pub(Sink)
	, Now(std::move(InNow))
{
	Status.Port = Port;
	Status.Filter = std::move(Filter);
}

void ReceiveLoop::SetBindError(const std::string& Error)
{
	std::lock_guard<std::mutex> Lock(StatusMutex);
	Status.BindError = Error;
}

void ReceiveLoop::Run(Lifecycle& Life, DatagramSocket& Socket)
{
	std::vector<uint8_t> Buffer(65536);  // one UDP datagram at most
	std::string Sender;
	while (!Life.StopRequested())
	{
		if (!Socket.WaitReadable(kWaitMs))
		{
			continue;
		}
		size_t Size = 0;
		while (!Life.StopRequested() && Socket.Receive(Buffer.data(), Buffer.size(), Size, Sender))
		{
			HandleDatagram(Buffer.data(), Size, Sender);
		}
	}
	Life.MarkFinished();
}

void ReceiveLoop::HandleDatagram(const uint8_t* Data, size_t Size, const std::string& Sender)
{
	// An exact-size copy: a read past the datagram is a read past the allocation, which the
	// sanitizers in core_tests catch.
	const std::vector<uint8_t> Datagram(Data, Data + Size);
	const DatagramResult Result = Router.Feed(Datagram.empty() ? nullptr : Datagram.data(), Datagram.size());
	for (const NamesUpdate& Update : Result.NamesChanged)
	{
		Pub.OnNames(Update);
	}
	for (const SubjectFrame& Frame : Result.Frames)
	{
		Pub.OnFrame(Frame);
	}
	const PublisherCounts Counts = Pub.Counts();
	const double At = Now();
	std::lock_guard<std::mutex> Lock(StatusMutex);
	const bool NewFrames = Counts.FramesPushed > Status.FramesPushed;
	for (uint64_t Index = Status.FramesPushed; Index < Counts.FramesPushed; ++Index)
	{
		Rate.Add(At);
	}
	++Status.Datagrams;
	Status.NamesSeen = Status.NamesSeen || !Result.NamesChanged.empty();
	Status.LastSender = Sender;
	Status.FramesPushed = Counts.FramesPushed;
	Status.Subjects = Counts.Subjects;
	Status.Rejected += static_cast<uint64_t>(Result.Rejected);
	if (Result.Rejected > 0)
	{
		Status.LastError = Result.Error;
	}
	else if (NewFrames)
	{
		Status.LastError.clear();
	}
	if (Result.Ignored > 0)
	{
		Status.IgnoredAddress = Result.IgnoredAddress;
	}
	if (NewFrames)
	{
		LastFrameTime = At;
	}
}

StatusSnapshot ReceiveLoop::Snapshot() const
{
	const double At = Now();
	std::lock_guard<std::mutex> Lock(StatusMutex);
	StatusSnapshot Out = Status;
	Out.Fps = Rate.Rate(At);
	Out.SecondsSinceFrame = LastFrameTime < 0.0 ? -1.0 : At - LastFrameTime;
	return Out;
}

} // namespace medtalk
