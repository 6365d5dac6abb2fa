// MEDTalk Live Link runtime module: a Live Link source (UDP receive thread + OSC decoding via
// the portable core in Private/Core), its editable settings, its source factory with a Slate
// creation panel, and a Blueprint function that adds the source at run time.
using UnrealBuildTool;

public class MEDTalkLiveLink : ModuleRules
{
	public MEDTalkLiveLink(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = ModuleRules.PCHUsageMode.UseExplicitOrSharedPCHs;
		// No CppStandard line: the portable core (Private/Core) is C++17 that also builds as the
		// engine's default C++20, and UE 5.7+ refuses Cpp17 (reported, see README).

		PublicDependencyModuleNames.AddRange(new string[]
		{
			"Core",
			"CoreUObject",
			"Engine",
			"LiveLinkInterface",
		});

		PrivateDependencyModuleNames.AddRange(new string[]
		{
			"Sockets",
			"Networking",
			"Slate",
			"SlateCore",
			"InputCore",
		});
	}
}
