// MEDTalk Live Link source: one UDP port, every daemon subject that arrives on it (or one, with
// a subject filter) published as a Basic-role subject whose property names are the curve names
// received. The receive thread, its shutdown and the publication rules live in the portable
// core (Private/Core, tested outside Unreal); this class adapts them to ILiveLinkSource.
#pragma once

#include "CoreMinimal.h"
#include "ILiveLinkSource.h"
#include "MEDTalkLiveLinkSettings.h"
#include "Templates/UniquePtr.h"

class FMEDTalkReceiver;
class ILiveLinkClient;
class ULiveLinkSourceSettings;
class UMEDTalkLiveLinkSourceSettings;

class MEDTALKLIVELINK_API FMEDTalkLiveLinkSource : public ILiveLinkSource
{
public:
	explicit FMEDTalkLiveLinkSource(const FMEDTalkLiveLinkSettings& InSettings);
	virtual ~FMEDTalkLiveLinkSource() override;

	//~ ILiveLinkSource
	virtual void ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid) override;
	virtual void InitializeSettings(ULiveLinkSourceSettings* InSettings) override;
	virtual void Update() override;
	virtual bool IsSourceStillValid() const override;
	virtual bool RequestSourceShutdown() override;
	virtual FText GetSourceType() const override;
	virtual FText GetSourceMachineName() const override;
	virtual FText GetSourceStatus() const override;
	virtual TSubclassOf<ULiveLinkSourceSettings> GetSettingsClass() const override;
	virtual void OnSettingsChanged(ULiveLinkSourceSettings* InSettings, const FPropertyChangedEvent& PropertyChangedEvent) override;

private:
	void StartReceiver();
	// Only once the receive thread has finished (the join cannot block).
	void DestroyReceiver();

	FMEDTalkLiveLinkSettings Settings;
	// Edited settings waiting for the running receiver to finish (applied in Update).
	TOptional<FMEDTalkLiveLinkSettings> PendingSettings;
	ILiveLinkClient* Client = nullptr;
	FGuid SourceGuid;
	// Owned by Live Link (created from GetSettingsClass); valid while the source is registered.
	UMEDTalkLiveLinkSourceSettings* SettingsObject = nullptr;
	TUniquePtr<FMEDTalkReceiver> Receiver;
	bool bShuttingDown = false;
};
