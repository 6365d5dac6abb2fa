// MEDTalk Live Link: the frame time both routes stamp on a frame, so that Take Recorder lines
// the plugin's subjects up with Live Link Face ones: the capture time as frames since local
// midnight at 60 fps (livelink_bridge/transports/livelink_face.py frame_time() computes the
// same for the Live Link Face packets). Portable C++17.
#pragma once

#include <cstdint>

namespace medtalk
{

constexpr int32_t kTimecodeFps = 60;  // the daemon's output rate (medtalk_core/audio.py FPS)

struct FrameOfDay
{
	int32_t Frame = 0;      // whole frames since local midnight
	float SubFrame = 0.0f;  // in [0, 1)
};

// UnixSeconds: seconds since 1970 (the daemon's time.time() capture time).
FrameOfDay FrameOfLocalDay(double UnixSeconds, int32_t Fps = kTimecodeFps);

} // namespace medtalk
