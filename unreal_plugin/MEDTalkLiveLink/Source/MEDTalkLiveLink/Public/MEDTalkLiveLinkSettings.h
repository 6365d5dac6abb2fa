// MEDTalk Live Link: what the creation panel asks for, and its connection-string form (used by
// Live Link presets to re-create the source).
#pragma once

#include "CoreMinimal.h"

struct MEDTALKLIVELINK_API FMEDTalkLiveLinkSettings
{
	/** UDP port the daemon sends frames to (medtalk run --osc-port, default 9000). */
	uint16 Port = 9000;

	/** OSC subject of the daemon (/medtalk/<Subject>/...); also the Live Link subject name. */
	FString Subject = TEXT("MEDTalk");

	/** "Port=9000 Subject=MEDTalk" */
	FString ToConnectionString() const;

	/** Parses ToConnectionString's form; false (Out untouched) if the port or subject is invalid. */
	static bool FromConnectionString(const FString& ConnectionString, FMEDTalkLiveLinkSettings& Out);

	/** A subject usable in an OSC address: non-empty ASCII without spaces or OSC special characters. */
	static bool IsValidSubject(const FString& Subject);
};
