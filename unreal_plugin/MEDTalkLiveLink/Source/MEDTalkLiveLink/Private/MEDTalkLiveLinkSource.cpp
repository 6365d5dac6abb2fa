// MEDTalk Live Link source. Unreal-facing and kept mechanical: sockets and threads in, the
// portable core (Private/Core, unit-tested outside Unreal) decodes, Live Link pushes out.
#include "MEDTalkLiveLinkSource.h"

#include "Common/UdpSocketBuilder.h"
#include "Core/MedtalkFrameAssembler.h"
#include "HAL/PlatformTime.h"
#include "HAL/RunnableThread.h"
#include "ILiveLinkClient.h"
#include "Interfaces/IPv4/IPv4Endpoint.h"
#include "LiveLinkTypes.h"
#include "Misc/FrameRate.h"
#include "Misc/QualifiedFrameTime.h"
#include "Roles/LiveLinkBasicRole.h"
#include "Roles/LiveLinkBasicTypes.h"
#include "SocketSubsystem.h"
#include "Sockets.h"

#define LOCTEXT_NAMESPACE "MEDTalkLiveLinkSource"

DEFINE_LOG_CATEGORY_STATIC(LogMEDTalkLiveLink, Log, All);

namespace
{
	constexpr int32 ReceiveBufferBytes = 65536;          // one UDP datagram at most
	constexpr int32 SocketBufferBytes = 2 * 1024 * 1024; // room for bursts while the thread sleeps
	const FTimespan WaitTime = FTimespan::FromMilliseconds(100);  // how soon Stop() is noticed
	constexpr double NotRespondingSeconds = 1.0;          // status turns "no frames" after this
	const FFrameRate MedtalkFrameRate(60, 1);             // the daemon's fixed output rate
}

FMEDTalkLiveLinkSource::FMEDTalkLiveLinkSource(const FMEDTalkLiveLinkSettings& InSettings)
	: Settings(InSettings)
	, Assembler(std::make_unique<medtalk::FrameAssembler>(std::string(TCHAR_TO_UTF8(*InSettings.Subject))))
	, Status(LOCTEXT("StatusStarting", "Starting"))
	, Machine(FString::Printf(TEXT("UDP :%u"), static_cast<uint32>(InSettings.Port)))
{
	ReceiveBuffer.SetNumUninitialized(ReceiveBufferBytes);
}

FMEDTalkLiveLinkSource::~FMEDTalkLiveLinkSource()
{
	RequestSourceShutdown();
}

void FMEDTalkLiveLinkSource::ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid)
{
	Client = InClient;
	SourceGuid = InSourceGuid;
	SubjectKey = FLiveLinkSubjectKey(SourceGuid, FName(*Settings.Subject));

	const FIPv4Endpoint Endpoint(FIPv4Address::Any, Settings.Port);
	Socket = FUdpSocketBuilder(TEXT("MEDTalkLiveLinkSocket"))
		.AsNonBlocking()
		.AsReusable()
		.BoundToEndpoint(Endpoint)
		.WithReceiveBufferSize(SocketBufferBytes)
		.Build();
	if (Socket == nullptr)
	{
		UE_LOG(LogMEDTalkLiveLink, Error, TEXT("Could not bind UDP port %u (in use by another program or source?)"),
			static_cast<uint32>(Settings.Port));
		SetStatus(FText::Format(LOCTEXT("StatusBindFailed", "Cannot open UDP port {0}"), FText::AsNumber(Settings.Port)));
		return;
	}
	SetStatus(LOCTEXT("StatusWaiting", "Waiting for curve names"));
	Thread = FRunnableThread::Create(this, TEXT("MEDTalkLiveLinkReceiver"), 128 * 1024, TPri_AboveNormal);
}

bool FMEDTalkLiveLinkSource::IsSourceStillValid() const
{
	return !bStopping && Socket != nullptr && Thread != nullptr;
}

bool FMEDTalkLiveLinkSource::RequestSourceShutdown()
{
	Stop();
	if (Thread != nullptr)
	{
		Thread->Kill(true);  // joins: Run() notices bStopping within WaitTime
		delete Thread;
		Thread = nullptr;
	}
	if (Socket != nullptr)
	{
		Socket->Close();
		ISocketSubsystem::Get(PLATFORM_SOCKETSUBSYSTEM)->DestroySocket(Socket);
		Socket = nullptr;
	}
	Client = nullptr;
	return true;
}

FText FMEDTalkLiveLinkSource::GetSourceType() const
{
	return LOCTEXT("SourceType", "MEDTalk Bridge");
}

FText FMEDTalkLiveLinkSource::GetSourceMachineName() const
{
	return FText::FromString(Machine);
}

FText FMEDTalkLiveLinkSource::GetSourceStatus() const
{
	FScopeLock Lock(&StatusLock);
	const double Last = LastFrameSeconds.load();
	if (Last > 0.0 && FPlatformTime::Seconds() - Last > NotRespondingSeconds)
	{
		return LOCTEXT("StatusIdle", "No frames for over a second (daemon stopped or muted?)");
	}
	return Status;
}

void FMEDTalkLiveLinkSource::SetStatus(const FText& InStatus)
{
	FScopeLock Lock(&StatusLock);
	Status = InStatus;
}

void FMEDTalkLiveLinkSource::Stop()
{
	bStopping = true;
}

uint32 FMEDTalkLiveLinkSource::Run()
{
	while (!bStopping)
	{
		if (!Socket->Wait(ESocketWaitConditions::WaitForRead, WaitTime))
		{
			continue;
		}
		uint32 PendingSize = 0;
		while (!bStopping && Socket->HasPendingData(PendingSize))
		{
			int32 Read = 0;
			if (!Socket->Recv(ReceiveBuffer.GetData(), ReceiveBuffer.Num(), Read) || Read <= 0)
			{
				break;
			}
			HandleDatagram(ReceiveBuffer.GetData(), Read);
		}
	}
	return 0;
}

void FMEDTalkLiveLinkSource::HandleDatagram(const uint8* Data, int32 Size)
{
	const medtalk::FeedResult Result = Assembler->Feed(Data, static_cast<size_t>(Size));
	if (Result.Rejected > 0)
	{
		++PacketsRejected;
		SetStatus(FText::Format(LOCTEXT("StatusRejected", "Rejected a packet: {0}"),
			FText::FromString(UTF8_TO_TCHAR(Result.Error.c_str()))));
	}
	else if (Result.Ignored > 0 && FramesReceived.load() == 0)
	{
		SetStatus(FText::Format(LOCTEXT("StatusOtherSubject", "Receiving {0}, not subject {1}"),
			FText::FromString(UTF8_TO_TCHAR(Assembler->LastIgnoredAddress().c_str())),
			FText::FromString(Settings.Subject)));
	}
	if (Result.NamesChanged)
	{
		PushStaticData();
	}
	for (const medtalk::Frame& Frame : Result.Frames)
	{
		PushFrame(Frame);
	}
	if (!Result.Frames.empty() && Result.Rejected == 0)
	{
		SetStatus(FText::Format(LOCTEXT("StatusActive", "Active: {0} curves, {1} frames"),
			FText::AsNumber(PropertyNames.Num()), FText::AsNumber(FramesReceived.load())));
	}
}

void FMEDTalkLiveLinkSource::PushStaticData()
{
	const std::vector<std::string>& Names = Assembler->Names();
	PropertyNames.Reset(static_cast<int32>(Names.size()));
	for (const std::string& Name : Names)
	{
		PropertyNames.Add(FName(UTF8_TO_TCHAR(Name.c_str())));
	}
	UE_LOG(LogMEDTalkLiveLink, Log, TEXT("Subject %s: %d curve names (list #%llu)"), *Settings.Subject,
		PropertyNames.Num(), static_cast<unsigned long long>(Assembler->NamesGeneration()));

	FLiveLinkStaticDataStruct StaticDataStruct(FLiveLinkBaseStaticData::StaticStruct());
	FLiveLinkBaseStaticData& StaticData = *StaticDataStruct.Cast<FLiveLinkBaseStaticData>();
	StaticData.PropertyNames = PropertyNames;
	if (Client != nullptr)
	{
		// Pushing static data again for the same key replaces the subject's curve list.
		Client->PushSubjectStaticData_AnyThread(SubjectKey, ULiveLinkBasicRole::StaticClass(), MoveTemp(StaticDataStruct));
	}
}

void FMEDTalkLiveLinkSource::PushFrame(const medtalk::Frame& Frame)
{
	FLiveLinkFrameDataStruct FrameDataStruct(FLiveLinkBaseFrameData::StaticStruct());
	FLiveLinkBaseFrameData& FrameData = *FrameDataStruct.Cast<FLiveLinkBaseFrameData>();
	FrameData.WorldTime = FLiveLinkWorldTime(FPlatformTime::Seconds());
	// Scene time: the daemon's frame number on its 60 fps clock, for Take Recorder / timecode.
	FrameData.MetaData.SceneTime = FQualifiedFrameTime(FFrameTime(FFrameNumber(Frame.FrameNumber)), MedtalkFrameRate);
	FrameData.MetaData.StringMetaData.Add(TEXT("CaptureTime"), FString::Printf(TEXT("%.6f"), Frame.CaptureTime));
	FrameData.PropertyValues.SetNumUninitialized(static_cast<int32>(Frame.Values.size()));
	FMemory::Memcpy(FrameData.PropertyValues.GetData(), Frame.Values.data(), Frame.Values.size() * sizeof(float));
	if (Client != nullptr)
	{
		Client->PushSubjectFrameData_AnyThread(SubjectKey, MoveTemp(FrameDataStruct));
	}
	++FramesReceived;
	LastFrameSeconds.store(FPlatformTime::Seconds());
}

#undef LOCTEXT_NAMESPACE
