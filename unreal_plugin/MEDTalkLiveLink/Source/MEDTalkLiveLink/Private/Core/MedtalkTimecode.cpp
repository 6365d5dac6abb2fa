// MEDTalk Live Link: frames since local midnight. See MedtalkTimecode.h.
#include "MedtalkTimecode.h"

#include <cmath>
#include <ctime>

namespace medtalk
{

FrameOfDay FrameOfLocalDay(double UnixSeconds, int32_t Fps)
{
	const double Whole = std::floor(UnixSeconds);
	const std::time_t Seconds = static_cast<std::time_t>(Whole);
	std::tm Local{};
#if defined(_WIN32)
	localtime_s(&Local, &Seconds);
#else
	localtime_r(&Seconds, &Local);
#endif
	// Wall-clock seconds since midnight, as Python's naive datetime arithmetic gives them.
	const double SinceMidnight = Local.tm_hour * 3600.0 + Local.tm_min * 60.0 + Local.tm_sec + (UnixSeconds - Whole);
	const double Frames = SinceMidnight * Fps;
	FrameOfDay Out;
	Out.Frame = static_cast<int32_t>(std::floor(Frames));
	Out.SubFrame = static_cast<float>(Frames - std::floor(Frames));
	if (Out.SubFrame >= 1.0f)  // float rounding of a value just below 1
	{
		Out.SubFrame = 0.0f;
		++Out.Frame;
	}
	return Out;
}

} // namespace medtalk
