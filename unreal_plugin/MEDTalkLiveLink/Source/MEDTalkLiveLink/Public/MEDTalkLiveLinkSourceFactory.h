// MEDTalk Live Link source factory: the "MEDTalk Bridge" entry of the Live Link window's
// "+ Source" menu, with a creation panel asking for the UDP port, the address to listen on and
// an optional subject filter. Presets re-create sources through CreateSource.
#pragma once

#include "CoreMinimal.h"
#include "LiveLinkSourceFactory.h"
#include "MEDTalkLiveLinkSettings.h"

#include "MEDTalkLiveLinkSourceFactory.generated.h"

UCLASS()
class MEDTALKLIVELINK_API UMEDTalkLiveLinkSourceFactory : public ULiveLinkSourceFactory
{
	GENERATED_BODY()

public:
	virtual FText GetSourceDisplayName() const override;
	virtual FText GetSourceTooltip() const override;
	virtual EMenuType GetMenuType() const override { return EMenuType::SubPanel; }
	virtual TSharedPtr<SWidget> BuildCreationPanel(FOnLiveLinkSourceCreated OnLiveLinkSourceCreated) const override;
	virtual TSharedPtr<ILiveLinkSource> CreateSource(const FString& ConnectionString) const override;
};
