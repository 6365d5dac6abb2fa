"""Audio in: what every source hands the daemon, and the sources themselves.

- `mic`: a microphone (sounddevice), its capture times from `capture_clock`;
- `file`: an audio file, paced in real time or as fast as possible;
- `network` and `listeners`: speech streamed in by another program (WebSocket or TCP);
- `gapless`: silence wherever a live source delivers nothing, so the timeline never stops;
- `resampling`: block-by-block resampling to 16 kHz with no seams;
- `monitor`: the audio played back in sync with the face (an output, fed by the daemon).

Every source hands out `AudioChunk`s: mono float32 at 16 kHz with the capture time (time.time()
clock) of their first sample.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from medtalk_core.audio import rms
from medtalk_core.errors import MedtalkError

logger = logging.getLogger(__name__)

EXAMPLE_NAME = "example_en.wav"


def example_path() -> Path:
    """The packaged English example speech (medtalk_core/assets/example_en.wav)."""
    return Path(str(resources.files("medtalk_core").joinpath(f"assets/{EXAMPLE_NAME}")))


@dataclass(frozen=True)
class AudioChunk:
    samples: np.ndarray  # (n,) float32, mono, 16 kHz
    capture_time: float  # time.time() at which the first sample was captured


class AudioSource(Protocol):
    """What the daemon reads audio from."""

    exhausted: bool  # True once a non-looping source has handed out its last chunk
    level_db: float  # RMS level of the latest chunk, dB full scale
    overflows: int  # input blocks lost (mic queue full or driver overflow)
    bad_samples: int  # non-finite samples the source replaced by silence itself (network floats, before
    #                   resampling); those that reach the daemon are counted there
    input_latency_s: float  # how long before it is handed out a sample was captured, as the input reports it
    clock_name: str  # what capture times follow: "file", "arrival" (network), "adc" or "callback-sample" (mic)

    @property
    def end_frame(self) -> int | None:
        """Rig frames the source holds in all; None for one that never ends (mic, looping file)."""
        ...

    def start(self) -> None: ...

    def read(self, timeout: float) -> list[AudioChunk]: ...

    def close(self) -> None: ...


def device_open_error(direction: str, device: object, exc: Exception, hint: str) -> MedtalkError:
    """One line for an audio device that PortAudio cannot open (it raises several exception
    types for a missing or busy device); `direction` is "input" or "output"."""
    which = f"the default audio {direction}" if device is None else f"audio {direction} {device!r}"
    return MedtalkError(f"cannot open {which}: {exc} ({hint})")


def level_db(samples: np.ndarray) -> float:
    return 20.0 * math.log10(max(rms(samples), 1e-6))


