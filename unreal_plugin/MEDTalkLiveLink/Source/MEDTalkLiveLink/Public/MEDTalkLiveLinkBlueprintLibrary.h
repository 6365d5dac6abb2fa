// MEDTalk Live Link: add the source from a Blueprint (or C++) at run time, e.g. in a packaged
// game where there is no Live Link panel and no preset loaded.
#pragma once

#include "CoreMinimal.h"
#include "ILiveLinkSource.h"
#include "Kismet/BlueprintFunctionLibrary.h"

#include "MEDTalkLiveLinkBlueprintLibrary.generated.h"

UCLASS()
class MEDTALKLIVELINK_API UMEDTalkLiveLinkBlueprintLibrary : public UBlueprintFunctionLibrary
{
	GENERATED_BODY()

public:
	/**
	 * Adds a MEDTalk Bridge source to Live Link: it listens on Port and publishes every daemon
	 * subject that arrives (or only Subject, if set). Returns false, and logs why, if a value is
	 * invalid or Live Link is not loaded. The handle works with Live Link's own Blueprint nodes
	 * (Remove Source, Is Source Still Valid).
	 */
	UFUNCTION(BlueprintCallable, Category = "MEDTalk|Live Link", meta = (AdvancedDisplay = "BindAddress,Subject"))
	static bool CreateMEDTalkLiveLinkSource(FLiveLinkSourceHandle& SourceHandle, int32 Port = 9000,
		const FString& BindAddress = TEXT("0.0.0.0"), const FString& Subject = TEXT(""));
};
