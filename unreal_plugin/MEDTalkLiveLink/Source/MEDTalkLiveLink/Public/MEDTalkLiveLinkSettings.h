// MEDTalk Live Link: what a source listens on, and its connection-string form (stored in Live
// Link presets, which re-create the source through the factory's CreateSource).
#pragma once

#include "CoreMinimal.h"

struct MEDTALKLIVELINK_API FMEDTalkLiveLinkSettings
{
	/** UDP port the daemons send frames to (medtalk run --osc HOST:PORT, default 9000). */
	uint16 Port = 9000;

	/** Local IPv4 address to listen on: 0.0.0.0 = every network interface, 127.0.0.1 = this machine only. */
	FString BindAddress = TEXT("0.0.0.0");

	/** Only this OSC subject (/medtalk/<Subject>/...), or empty for every subject that arrives. */
	FString Subject;

	/** "Port=9000 Bind=0.0.0.0" plus " Subject=Ada" when a subject is set. */
	FString ToConnectionString() const;

	/**
	 * Parses ToConnectionString's form (and the older "Port=9000 Subject=MEDTalk"); false, Out
	 * untouched, if a value is invalid.
	 */
	static bool FromConnectionString(const FString& ConnectionString, FMEDTalkLiveLinkSettings& Out);

	/** Empty, or a subject usable in an OSC address (the core's rule, MedtalkSubjects.h). */
	static bool IsValidSubjectFilter(const FString& InSubject);

	/** A dotted IPv4 address. */
	static bool IsValidBindAddress(const FString& InAddress);

	bool IsValid() const { return Port > 0 && IsValidSubjectFilter(Subject) && IsValidBindAddress(BindAddress); }

	bool operator==(const FMEDTalkLiveLinkSettings& Other) const
	{
		return Port == Other.Port && BindAddress == Other.BindAddress && Subject == Other.Subject;
	}
	bool operator!=(const FMEDTalkLiveLinkSettings& Other) const { return !(*this == Other); }
};
