#include "MEDTalkLiveLinkSettings.h"

#include "Misc/Parse.h"

FString FMEDTalkLiveLinkSettings::ToConnectionString() const
{
	return FString::Printf(TEXT("Port=%u Subject=%s"), static_cast<uint32>(Port), *Subject);
}

bool FMEDTalkLiveLinkSettings::FromConnectionString(const FString& ConnectionString, FMEDTalkLiveLinkSettings& Out)
{
	int32 ParsedPort = 0;
	FString ParsedSubject;
	if (!FParse::Value(*ConnectionString, TEXT("Port="), ParsedPort) ||
		!FParse::Value(*ConnectionString, TEXT("Subject="), ParsedSubject))
	{
		return false;
	}
	if (ParsedPort < 1 || ParsedPort > 65535 || !IsValidSubject(ParsedSubject))
	{
		return false;
	}
	Out.Port = static_cast<uint16>(ParsedPort);
	Out.Subject = ParsedSubject;
	return true;
}

bool FMEDTalkLiveLinkSettings::IsValidSubject(const FString& InSubject)
{
	if (InSubject.IsEmpty())
	{
		return false;
	}
	for (const TCHAR Ch : InSubject)
	{
		// Same rule as the daemon (livelink_bridge/transports/osc_frames.py).
		if (Ch <= 32 || Ch > 126 || FCString::Strchr(TEXT("/#*,?[]{}"), Ch) != nullptr)
		{
			return false;
		}
	}
	return true;
}
