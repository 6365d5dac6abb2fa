// MEDTalk Live Link: the source's settings as shown in the Live Link panel's details when the
// source is selected. Editing Port, Bind Address or Subject restarts the receiver with the new
// values (FMEDTalkLiveLinkSource::OnSettingsChanged) and updates the connection string, so a
// preset saved afterwards re-creates the source as edited.
#pragma once

#include "CoreMinimal.h"
#include "LiveLinkSourceSettings.h"
#include "MEDTalkLiveLinkSettings.h"

#include "MEDTalkLiveLinkSourceSettings.generated.h"

UCLASS()
class MEDTALKLIVELINK_API UMEDTalkLiveLinkSourceSettings : public ULiveLinkSourceSettings
{
	GENERATED_BODY()

public:
	/** UDP port the daemons send to (medtalk run --osc HOST:PORT). */
	UPROPERTY(EditAnywhere, Category = "MEDTalk", meta = (ClampMin = 1, ClampMax = 65535))
	int32 Port = 9000;

	/** Local IPv4 address to listen on: 0.0.0.0 = every network interface, 127.0.0.1 = this machine only. */
	UPROPERTY(EditAnywhere, Category = "MEDTalk")
	FString BindAddress = TEXT("0.0.0.0");

	/** Publish only this daemon subject (medtalk run --subject NAME); empty publishes every subject that arrives. */
	UPROPERTY(EditAnywhere, Category = "MEDTalk")
	FString Subject;

	FMEDTalkLiveLinkSettings ToSettings() const;
	void SetFrom(const FMEDTalkLiveLinkSettings& InSettings);
};
