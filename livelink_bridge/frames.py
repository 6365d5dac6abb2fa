"""The units the daemon moves around: one timestamped frame of the 174 rig controls, and the
text of a stretch of speech."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medtalk_core.rig import NUM_CONTROLS
from medtalk_core.rotation_curves import rotation_curves


@dataclass(frozen=True)
class RigFrame:
    """One 60 fps output frame, as produced by the streaming engine or a bake."""

    index: int  # frame number since the stream started (0, 1, 2, ...), never reset mid-stream
    capture_time: float  # seconds (time.time() clock) of the audio this frame animates
    values: np.ndarray  # (174,) float32, rig column order, clamped to rig.valid_ranges()
    head_eyes: np.ndarray | None = None  # (6,) medtalk_core.head_eyes.COLUMNS, on final live frames

    def __post_init__(self) -> None:
        # Reject a wrong shape here, once, rather than as a garbled packet in Unreal later.
        values = np.asarray(self.values, dtype=np.float32)
        if values.shape != (NUM_CONTROLS,):
            raise ValueError(f"RigFrame.values must have shape ({NUM_CONTROLS},), got {values.shape}")
        object.__setattr__(self, "values", values)


class HeadEyesHold:
    """The head and eyes of the newest final frame, for frames that carry none (the clock's
    stand-ins): the head holds where it was instead of snapping to rest. One per consumer."""

    def __init__(self) -> None:
        self.head_eyes: np.ndarray | None = None

    def of(self, frame: RigFrame) -> np.ndarray | None:
        """The frame's (6,) head_eyes, or the last one seen; None before any."""
        if frame.head_eyes is not None:
            self.head_eyes = frame.head_eyes
        return self.head_eyes

    def rotations(self, frame: RigFrame) -> np.ndarray:
        """The frame's (9,) rotation curves (`medtalk_core.rotation_curves`), its gaze controls
        with the held head and eyes."""
        head_eyes = self.of(frame)
        return rotation_curves(frame.values[None], None if head_eyes is None else head_eyes[None])[0]


@dataclass(frozen=True)
class SegmentText:
    """What was said in the speech of frames [start_frame, end_frame): the transcriber's answer,
    and what the engine's windows read for the FIM text branch."""

    start_frame: int
    end_frame: int
    text: str
