// MEDTalk Live Link source: a UDP receive thread decoding our OSC frames with the portable
// core and pushing a Basic-role subject (property names = the curve names received).
#pragma once

#include "CoreMinimal.h"
#include "HAL/Runnable.h"
#include "HAL/ThreadSafeBool.h"
#include "ILiveLinkSource.h"
#include "MEDTalkLiveLinkSettings.h"

#include <atomic>
#include <memory>

class FRunnableThread;
class FSocket;
class ILiveLinkClient;

namespace medtalk { class FrameAssembler; struct Frame; }

class MEDTALKLIVELINK_API FMEDTalkLiveLinkSource : public ILiveLinkSource, public FRunnable
{
public:
	explicit FMEDTalkLiveLinkSource(const FMEDTalkLiveLinkSettings& InSettings);
	virtual ~FMEDTalkLiveLinkSource() override;

	//~ ILiveLinkSource
	virtual void ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid) override;
	virtual bool IsSourceStillValid() const override;
	virtual bool RequestSourceShutdown() override;
	virtual FText GetSourceType() const override;
	virtual FText GetSourceMachineName() const override;
	virtual FText GetSourceStatus() const override;

	//~ FRunnable (the receive thread)
	virtual uint32 Run() override;
	virtual void Stop() override;

private:
	void HandleDatagram(const uint8* Data, int32 Size);
	void PushStaticData();
	void PushFrame(const medtalk::Frame& Frame);
	void SetStatus(const FText& InStatus);

	const FMEDTalkLiveLinkSettings Settings;
	ILiveLinkClient* Client = nullptr;
	FGuid SourceGuid;
	FLiveLinkSubjectKey SubjectKey;

	FSocket* Socket = nullptr;
	FRunnableThread* Thread = nullptr;
	FThreadSafeBool bStopping = false;
	TArray<uint8> ReceiveBuffer;

	// Touched only by the receive thread.
	std::unique_ptr<medtalk::FrameAssembler> Assembler;
	TArray<FName> PropertyNames;

	// Read by the Live Link panel on the game thread.
	mutable FCriticalSection StatusLock;
	FText Status;
	FString Machine;
	std::atomic<int64> FramesReceived{0};
	std::atomic<int64> PacketsRejected{0};
	std::atomic<double> LastFrameSeconds{0.0};  // FPlatformTime::Seconds() of the last frame
};
