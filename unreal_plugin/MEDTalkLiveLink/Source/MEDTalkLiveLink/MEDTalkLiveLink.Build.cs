// MEDTalk Live Link runtime module: a Live Link source (UDP receive thread + OSC decoding via
// the portable core in Private/Core) and its source factory with a Slate creation panel.
using UnrealBuildTool;

public class MEDTalkLiveLink : ModuleRules
{
	public MEDTalkLiveLink(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = ModuleRules.PCHUsageMode.UseExplicitOrSharedPCHs;
		// The portable core is plain C++17 (std containers, no exceptions, no RTTI).
		CppStandard = CppStandardVersion.Cpp17;

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
