#include "MEDTalkLiveLinkSourceSettings.h"

FMEDTalkLiveLinkSettings UMEDTalkLiveLinkSourceSettings::ToSettings() const
{
	FMEDTalkLiveLinkSettings Out;
	Out.Port = static_cast<uint16>(FMath::Clamp(Port, 1, 65535));
	Out.BindAddress = BindAddress.TrimStartAndEnd();
	Out.Subject = Subject.TrimStartAndEnd();
	return Out;
}

void UMEDTalkLiveLinkSourceSettings::SetFrom(const FMEDTalkLiveLinkSettings& InSettings)
{
	Port = InSettings.Port;
	BindAddress = InSettings.BindAddress;
	Subject = InSettings.Subject;
	ConnectionString = InSettings.ToConnectionString();
}
