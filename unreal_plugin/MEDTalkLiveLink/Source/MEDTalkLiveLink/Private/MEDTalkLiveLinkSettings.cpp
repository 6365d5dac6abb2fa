#include "MEDTalkLiveLinkSettings.h"

#include "Core/MedtalkSubjects.h"
#include "Interfaces/IPv4/IPv4Address.h"
#include "Misc/Parse.h"

FString FMEDTalkLiveLinkSettings::ToConnectionString() const
{
	FString Out = FString::Printf(TEXT("Port=%u Bind=%s"), static_cast<uint32>(Port), *BindAddress);
	if (!Subject.IsEmpty())
	{
		Out += FString::Printf(TEXT(" Subject=%s"), *Subject);
	}
	return Out;
}

bool FMEDTalkLiveLinkSettings::FromConnectionString(const FString& ConnectionString, FMEDTalkLiveLinkSettings& Out)
{
	int32 ParsedPort = 0;
	if (!FParse::Value(*ConnectionString, TEXT("Port="), ParsedPort) || ParsedPort < 1 || ParsedPort > 65535)
	{
		return false;
	}
	FMEDTalkLiveLinkSettings Parsed;
	Parsed.Port = static_cast<uint16>(ParsedPort);
	FParse::Value(*ConnectionString, TEXT("Bind="), Parsed.BindAddress);     // absent: every interface
	FParse::Value(*ConnectionString, TEXT("Subject="), Parsed.Subject);      // absent: every subject
	if (!Parsed.IsValid())
	{
		return false;
	}
	Out = Parsed;
	return true;
}

bool FMEDTalkLiveLinkSettings::IsValidSubjectFilter(const FString& InSubject)
{
	return InSubject.IsEmpty() || medtalk::IsValidSubject(std::string(TCHAR_TO_UTF8(*InSubject)));
}

bool FMEDTalkLiveLinkSettings::IsValidBindAddress(const FString& InAddress)
{
	FIPv4Address Parsed;
	return FIPv4Address::Parse(InAddress, Parsed);
}
