#include "MEDTalkLiveLinkBlueprintLibrary.h"

#include "Features/IModularFeatures.h"
#include "ILiveLinkClient.h"
#include "MEDTalkLiveLinkSettings.h"
#include "MEDTalkLiveLinkSource.h"

DEFINE_LOG_CATEGORY_STATIC(LogMEDTalkLiveLinkBlueprint, Log, All);

bool UMEDTalkLiveLinkBlueprintLibrary::CreateMEDTalkLiveLinkSource(FLiveLinkSourceHandle& SourceHandle, int32 Port,
	const FString& BindAddress, const FString& Subject)
{
	FMEDTalkLiveLinkSettings Settings;
	Settings.Port = static_cast<uint16>(FMath::Clamp(Port, 0, 65535));
	Settings.BindAddress = BindAddress.TrimStartAndEnd();
	Settings.Subject = Subject.TrimStartAndEnd();
	if (Port < 1 || Port > 65535 || !Settings.IsValid())
	{
		UE_LOG(LogMEDTalkLiveLinkBlueprint, Error, TEXT("Create MEDTalk Live Link Source: invalid settings (port %d, bind %s, subject '%s')"),
			Port, *BindAddress, *Subject);
		return false;
	}
	IModularFeatures& Features = IModularFeatures::Get();
	if (!Features.IsModularFeatureAvailable(ILiveLinkClient::ModularFeatureName))
	{
		UE_LOG(LogMEDTalkLiveLinkBlueprint, Error, TEXT("Create MEDTalk Live Link Source: Live Link is not loaded (enable the Live Link plugin)"));
		return false;
	}
	ILiveLinkClient& Client = Features.GetModularFeature<ILiveLinkClient>(ILiveLinkClient::ModularFeatureName);
	TSharedPtr<ILiveLinkSource> Source = MakeShared<FMEDTalkLiveLinkSource>(Settings);
	if (!Client.AddSource(Source).IsValid())
	{
		UE_LOG(LogMEDTalkLiveLinkBlueprint, Error, TEXT("Create MEDTalk Live Link Source: Live Link did not add the source"));
		return false;
	}
	SourceHandle.SetSourcePointer(Source);
	return true;
}
