// MEDTalk Live Link module: no start-up work; Live Link finds the source factory through
// reflection (every ULiveLinkSourceFactory subclass appears in the "+ Source" menu).
#include "Modules/ModuleManager.h"

IMPLEMENT_MODULE(FDefaultModuleImpl, MEDTalkLiveLink)
