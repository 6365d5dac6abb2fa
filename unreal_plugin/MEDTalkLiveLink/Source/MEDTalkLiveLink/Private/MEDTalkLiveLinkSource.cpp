// MEDTalk Live Link source. Unreal-facing and kept mechanical: an FSocket behind the core's
// DatagramSocket, Live Link behind the core's PublishSink, the core's ReceiveLoop on an
// FRunnableThread. What each Live Link call is relied on to do is cited from engine source in
// unreal_plugin/README.md ("Engine behaviour this plugin relies on").
#include "MEDTalkLiveLinkSource.h"

#include "Common/UdpSocketBuilder.h"
#include "Core/MedtalkReceiver.h"
#include "Core/MedtalkTimecode.h"
#include "HAL/PlatformTime.h"
#include "HAL/Runnable.h"
#include "HAL/RunnableThread.h"
#include "ILiveLinkClient.h"
#include "IPAddress.h"
#include "Interfaces/IPv4/IPv4Address.h"
#include "Interfaces/IPv4/IPv4Endpoint.h"
#include "LiveLinkTypes.h"
#include "MEDTalkLiveLinkSourceFactory.h"
#include "MEDTalkLiveLinkSourceSettings.h"
#include "Misc/FrameRate.h"
#include "Misc/QualifiedFrameTime.h"
#include "Roles/LiveLinkBasicRole.h"
#include "Roles/LiveLinkBasicTypes.h"
#include "SocketSubsystem.h"
#include "Sockets.h"
#include "UObject/UnrealType.h"  // FPropertyChangedEvent

#include <string>

#define LOCTEXT_NAMESPACE "MEDTalkLiveLinkSource"

DEFINE_LOG_CATEGORY_STATIC(LogMEDTalkLiveLink, Log, All);

namespace
{
	constexpr int32 SocketBufferBytes = 2 * 1024 * 1024;  // room for bursts while the thread is busy

	FName SubjectName(const std::string& Subject)
	{
		return FName(UTF8_TO_TCHAR(Subject.c_str()));
	}

	// The core's socket interface over an FSocket (non-blocking, bound).
	class FUnrealDatagramSocket final : public medtalk::DatagramSocket
	{
	public:
		explicit FUnrealDatagramSocket(FSocket& InSocket)
			: Socket(InSocket)
			, Sender(ISocketSubsystem::Get(PLATFORM_SOCKETSUBSYSTEM)->CreateInternetAddr())
		{
		}

		virtual bool WaitReadable(int TimeoutMs) override
		{
			return Socket.Wait(ESocketWaitConditions::WaitForRead, FTimespan::FromMilliseconds(TimeoutMs));
		}

		virtual bool Receive(uint8_t* Buffer, size_t Capacity, size_t& Size, std::string& OutSender) override
		{
			uint32 Pending = 0;
			int32 Read = 0;
			if (!Socket.HasPendingData(Pending) ||
				!Socket.RecvFrom(Buffer, static_cast<int32>(Capacity), Read, *Sender) || Read <= 0)
			{
				return false;
			}
			Size = static_cast<size_t>(Read);
			OutSender = TCHAR_TO_UTF8(*Sender->ToString(true));
			return true;
		}

	private:
		FSocket& Socket;
		TSharedRef<FInternetAddr> Sender;
	};
}

// One bound socket and its receive thread. Replaced as a whole when the settings change.
class FMEDTalkReceiver final : public FRunnable, public medtalk::PublishSink
{
public:
	FMEDTalkReceiver(const FMEDTalkLiveLinkSettings& InSettings, ILiveLinkClient& InClient, const FGuid& InSourceGuid)
		: Loop(std::string(TCHAR_TO_UTF8(*InSettings.Subject)), InSettings.Port, *this, [] { return FPlatformTime::Seconds(); })
		, Client(InClient)
		, SourceGuid(InSourceGuid)
	{
		FIPv4Address Address;
		FIPv4Address::Parse(InSettings.BindAddress, Address);  // validated by the settings
		// Exclusive: no AsReusable(), so FUdpSocketBuilder calls SetReuseAddr(false) and a port
		// another program (or a second source) holds makes Bind fail instead of being shared.
		Socket = FUdpSocketBuilder(TEXT("MEDTalkLiveLinkSocket"))
			.AsNonBlocking()
			.BoundToEndpoint(FIPv4Endpoint(Address, InSettings.Port))
			.WithReceiveBufferSize(SocketBufferBytes)
			.Build();
		if (Socket == nullptr)
		{
			ISocketSubsystem* Sockets = ISocketSubsystem::Get(PLATFORM_SOCKETSUBSYSTEM);
			const ESocketErrors Error = Sockets->GetLastErrorCode();
			const FString Why = Error == SE_EADDRINUSE
				? FString(TEXT("in use by another program or source"))
				: FString::Printf(TEXT("%s (is %s an address of this machine?)"), Sockets->GetSocketError(Error), *InSettings.BindAddress);
			UE_LOG(LogMEDTalkLiveLink, Error, TEXT("Cannot open UDP %s:%u: %s"), *InSettings.BindAddress,
				static_cast<uint32>(InSettings.Port), *Why);
			Loop.SetBindError(std::string(TCHAR_TO_UTF8(*Why)));
			Life.RequestStop();  // never started: finished at once
			return;
		}
		DatagramSocket = MakeUnique<FUnrealDatagramSocket>(*Socket);
		Life.Start();
		Thread = FRunnableThread::Create(this, TEXT("MEDTalkLiveLinkReceiver"), 128 * 1024, TPri_AboveNormal);
		if (Thread == nullptr)
		{
			Loop.SetBindError("could not start the receive thread");
			Life.MarkFinished();
		}
	}

	virtual ~FMEDTalkReceiver() override
	{
		// Reached only through FMEDTalkLiveLinkSource::DestroyReceiver or its destructor, after a
		// stop request: the thread starts no Live Link call after it (PushFrame checks), so the
		// join waits at most for one call in flight and one medtalk::kWaitMs socket wait.
		Life.RequestStop();
		if (Thread != nullptr)
		{
			Thread->Kill(true);
			delete Thread;
		}
		DatagramSocket.Reset();
		if (Socket != nullptr)
		{
			Socket->Close();
			ISocketSubsystem::Get(PLATFORM_SOCKETSUBSYSTEM)->DestroySocket(Socket);
		}
	}

	bool IsBound() const { return Socket != nullptr; }

	//~ FRunnable
	virtual uint32 Run() override
	{
		Loop.Run(Life, *DatagramSocket);
		return 0;
	}
	virtual void Stop() override { Life.RequestStop(); }

	//~ medtalk::PublishSink. SubjectPresent and PushStatic run on the game thread (Update),
	// PushFrame on the receive thread.
	virtual bool SubjectPresent(const std::string& Subject) override
	{
		return Client.GetSubjectRole_AnyThread(FLiveLinkSubjectKey(SourceGuid, SubjectName(Subject))) != nullptr;
	}

	virtual void PushStatic(const std::string& Subject, const std::vector<std::string>& Names) override
	{
		FLiveLinkStaticDataStruct StaticDataStruct(FLiveLinkBaseStaticData::StaticStruct());
		FLiveLinkBaseStaticData& StaticData = *StaticDataStruct.Cast<FLiveLinkBaseStaticData>();
		StaticData.PropertyNames.Reserve(static_cast<int32>(Names.size()));
		for (const std::string& Name : Names)
		{
			StaticData.PropertyNames.Add(FName(UTF8_TO_TCHAR(Name.c_str())));
		}
		UE_LOG(LogMEDTalkLiveLink, Log, TEXT("Subject %s: %d curve names"), UTF8_TO_TCHAR(Subject.c_str()), StaticData.PropertyNames.Num());
		Client.PushSubjectStaticData_AnyThread(FLiveLinkSubjectKey(SourceGuid, SubjectName(Subject)),
			ULiveLinkBasicRole::StaticClass(), MoveTemp(StaticDataStruct));
	}

	virtual void PushFrame(const std::string& Subject, const medtalk::Frame& Frame) override
	{
		if (Life.StopRequested())
		{
			return;  // no new Live Link call once a stop was asked for (see the destructor)
		}
		FLiveLinkFrameDataStruct FrameDataStruct(FLiveLinkBaseFrameData::StaticStruct());
		FLiveLinkBaseFrameData& FrameData = *FrameDataStruct.Cast<FLiveLinkBaseFrameData>();
		// The capture time on the daemon's clock as the source time: FLiveLinkWorldTime(double)
		// starts its offset to the engine clock from this frame, and Live Link's continuous
		// clock-offset estimate refines it (LiveLinkTypes.h).
		FrameData.WorldTime = FLiveLinkWorldTime(Frame.CaptureTime);
		// The same 60 fps time of day the Live Link Face route sends, for Take Recorder.
		const medtalk::FrameOfDay Timecode = medtalk::FrameOfLocalDay(Frame.CaptureTime);
		FrameData.MetaData.SceneTime = FQualifiedFrameTime(
			FFrameTime(FFrameNumber(Timecode.Frame), Timecode.SubFrame), FFrameRate(medtalk::kTimecodeFps, 1));
		FrameData.PropertyValues.SetNumUninitialized(static_cast<int32>(Frame.Values.size()));
		FMemory::Memcpy(FrameData.PropertyValues.GetData(), Frame.Values.data(), Frame.Values.size() * sizeof(float));
		Client.PushSubjectFrameData_AnyThread(FLiveLinkSubjectKey(SourceGuid, SubjectName(Subject)), MoveTemp(FrameDataStruct));
	}

	medtalk::Lifecycle Life;
	medtalk::ReceiveLoop Loop;

private:
	ILiveLinkClient& Client;
	FGuid SourceGuid;
	FSocket* Socket = nullptr;
	TUniquePtr<FUnrealDatagramSocket> DatagramSocket;
	FRunnableThread* Thread = nullptr;
};

FMEDTalkLiveLinkSource::FMEDTalkLiveLinkSource(const FMEDTalkLiveLinkSettings& InSettings)
	: Settings(InSettings)
{
}

FMEDTalkLiveLinkSource::~FMEDTalkLiveLinkSource()
{
	// Normally RequestSourceShutdown has already destroyed the receiver. If Live Link gave up
	// waiting (engine exit), the thread has been asked to stop and starts no Live Link call.
	Receiver.Reset();
}

void FMEDTalkLiveLinkSource::ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid)
{
	Client = InClient;
	SourceGuid = InSourceGuid;
	StartReceiver();
}

void FMEDTalkLiveLinkSource::StartReceiver()
{
	if (Client != nullptr && !bShuttingDown)
	{
		Receiver = MakeUnique<FMEDTalkReceiver>(Settings, *Client, SourceGuid);
	}
}

void FMEDTalkLiveLinkSource::DestroyReceiver()
{
	check(!Receiver.IsValid() || Receiver->Life.IsFinished());
	Receiver.Reset();
}

void FMEDTalkLiveLinkSource::InitializeSettings(ULiveLinkSourceSettings* InSettings)
{
	SettingsObject = Cast<UMEDTalkLiveLinkSourceSettings>(InSettings);
	if (SettingsObject != nullptr)
	{
		SettingsObject->SetFrom(Settings);
		SettingsObject->Factory = UMEDTalkLiveLinkSourceFactory::StaticClass();
	}
}

TSubclassOf<ULiveLinkSourceSettings> FMEDTalkLiveLinkSource::GetSettingsClass() const
{
	return UMEDTalkLiveLinkSourceSettings::StaticClass();
}

void FMEDTalkLiveLinkSource::OnSettingsChanged(ULiveLinkSourceSettings* InSettings, const FPropertyChangedEvent& PropertyChangedEvent)
{
	ILiveLinkSource::OnSettingsChanged(InSettings, PropertyChangedEvent);
	UMEDTalkLiveLinkSourceSettings* Edited = Cast<UMEDTalkLiveLinkSourceSettings>(InSettings);
	if (Edited == nullptr || PropertyChangedEvent.ChangeType == EPropertyChangeType::Interactive)
	{
		return;  // not ours, or a slider still being dragged
	}
	const FMEDTalkLiveLinkSettings Wanted = Edited->ToSettings();
	if (!Wanted.IsValid())
	{
		UE_LOG(LogMEDTalkLiveLink, Warning, TEXT("MEDTalk source: invalid settings (%s), keeping %s"),
			*Wanted.ToConnectionString(), *Settings.ToConnectionString());
		Edited->SetFrom(PendingSettings.IsSet() ? PendingSettings.GetValue() : Settings);
		return;
	}
	Edited->SetFrom(Wanted);
	if (Wanted != (PendingSettings.IsSet() ? PendingSettings.GetValue() : Settings))
	{
		PendingSettings = Wanted;
		if (Receiver.IsValid())
		{
			Receiver->Life.RequestStop();  // Update() starts the new receiver once this one has finished
		}
	}
}

void FMEDTalkLiveLinkSource::Update()
{
	if (PendingSettings.IsSet() && (!Receiver.IsValid() || Receiver->Life.IsFinished()))
	{
		DestroyReceiver();
		Settings = PendingSettings.GetValue();
		PendingSettings.Reset();
		StartReceiver();
	}
	if (Receiver.IsValid() && !Receiver->Life.StopRequested())
	{
		Receiver->Loop.Tick();  // static data and re-publication (MedtalkPublisher.h)
	}
}

bool FMEDTalkLiveLinkSource::IsSourceStillValid() const
{
	return !bShuttingDown && Receiver.IsValid() && Receiver->IsBound();
}

bool FMEDTalkLiveLinkSource::RequestSourceShutdown()
{
	// Called by Live Link with its locks held and again each tick until it returns true: ask the
	// thread to stop and never wait for it here.
	bShuttingDown = true;
	PendingSettings.Reset();
	if (Receiver.IsValid() && !Receiver->Life.RequestShutdown())
	{
		return false;
	}
	DestroyReceiver();
	return true;
}

FText FMEDTalkLiveLinkSource::GetSourceType() const
{
	return LOCTEXT("SourceType", "MEDTalk Bridge");
}

FText FMEDTalkLiveLinkSource::GetSourceMachineName() const
{
	return FText::FromString(FString::Printf(TEXT("UDP %s:%u"), *Settings.BindAddress, static_cast<uint32>(Settings.Port)));
}

FText FMEDTalkLiveLinkSource::GetSourceStatus() const
{
	if (PendingSettings.IsSet())
	{
		return LOCTEXT("StatusRestarting", "Restarting with the new settings");
	}
	if (!Receiver.IsValid())
	{
		return LOCTEXT("StatusStopped", "Stopped");
	}
	return FText::FromString(UTF8_TO_TCHAR(medtalk::StatusLine(Receiver->Loop.Snapshot()).c_str()));
}

#undef LOCTEXT_NAMESPACE
