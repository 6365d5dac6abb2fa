"""Head rotation, eye saccades and extra blinks from speech energy: procedural, seeded, streaming.

`HeadEyes.step(energy_db)` turns the speech energy of the next frames into head and eye angles,
frame by frame and causally: frame k depends on the energy up to frame k only, so the generator
adds no latency, and a clip gives the same frames whether it is stepped whole or in chunks.

Convention: degrees, in the character's own frame, small angles (so yaw and pitch simply add):
    head_yaw   > 0  the head turns toward the character's left
    head_pitch > 0  the head tilts up (chin up); a nod dips below the rest pitch and comes back
    head_roll  > 0  the head tilts toward the character's left shoulder
    eye_yaw, eye_pitch  the eyes' rotation in the head, with the head's signs; gaze = head + eye
    blink      extra eyelid closure 0..1 on top of the face's own blinks (1 = closed)
Between saccades the eyes counter-rotate the head (vestibulo-ocular reflex), so the gaze stays on
its fixation point, by default the camera, while the head moves.

Published figures used. They are approximate and vary between people; where a config field's number
is our own choice, its comment says so.
- Carpenter 1988, Movements of the Eyes (2nd ed.): saccade main sequence, duration ~ 2.2 ms/deg
  x amplitude + 21 ms.
- Malinov, Epelboim, Herst & Steinman 2000, Vision Research 40: of ~3400 natural saccades 53% were
  under 5 deg and 83% under 15 deg.
- Saslow 1967 (J. Opt. Soc. Am. 57), as summarised in later reviews: saccadic latency ~180-200 ms.
- Bentivoglio et al. 1997, Movement Disorders 12: mean blink rate ~17/min at rest, ~26/min while
  talking, ~4.5/min reading (wide spread between people).
- Evinger, Manning & Sibony 1991, Invest. Ophthalmol. Vis. Sci. 32: the lid closes faster than it
  reopens.
- Evinger et al. 1994, Exp. Brain Res. 100: a blink accompanies 97% of gaze shifts over 33 deg.
- Kendon 1967, Acta Psychologica 26: speakers look away as an utterance starts and back near its
  end; Argyle & Cook 1976, Gaze and Mutual Gaze: speakers look at the listener less than
  listeners look at the speaker.
- Glenberg, Schroeder & Robertson 1998, Memory & Cognition 26: people avert their gaze to think.
- Hadar, Steiner, Grant & Rose 1983, Language and Speech 26: rapid head movements mark stressed
  syllables; junctures (pauses) contrast movement with stillness.
- Graf, Cosatto, Strom & Huang 2002, IEEE Face and Gesture: nods and turns of a few degrees
  align with pitch accents.
- Wallbott 1998, Eur. J. Soc. Psychol. 28; Busso et al. 2007, IEEE TASLP 15: head motion depends
  on emotion: more active in anger and joy, less and lowered in sadness (directions only).
- Campione & Veronis 2002, Speech Prosody: silent pauses fall into brief (< ~0.2 s), medium and
  long (> ~1 s) classes.
- Leigh & Zee, The Neurology of Eye Movements: the VOR gain is close to 1 for distant targets.
- Nystrom & Holmqvist 2010, Behavior Research Methods 42: saccades detected by a peak-velocity
  threshold, their onset and offset by a lower threshold adapted to the fixation noise.
- Martin 2001, IEEE Trans. Speech Audio Process. 9: the noise floor as the minimum of the level
  over a window of about 1.5 s ("minimum statistics").
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .audio import FPS, SAMPLE_RATE
from .rig import EMOTIONS

COLUMNS = ("head_yaw", "head_pitch", "head_roll", "eye_yaw", "eye_pitch", "blink")
SILENCE_DB = -120.0  # energy of digital silence: the floor of frame_energy_db

_LEVEL_TAU_S = 1.0  # running speech level: the loudness a stressed syllable stands out from
_FAST_TAU_S = 0.03  # syllable envelope: follows a syllable's rise within two frames
_TALK_ATTACK_S, _TALK_RELEASE_S = 0.2, 0.8  # head motion picks up fast as speech starts, calms slower
_TURN_PITCH, _TURN_ROLL = 0.3, 0.4  # a turn's pitch and roll: up to these shares of its yaw, either sign
_AVERSION_ELEVATION_DEG = (-15.0, 60.0)  # direction of a look away above the horizontal: sideways and up
_BLINK_CLOSE_SHARE = 1 / 3  # the lid closes in a third of a blink, reopens in the rest (Evinger 1991)
_GAP_SHAPE = 2.0  # gamma shape of fixation and blink gaps: irregular, yet no near-zero gaps


@dataclass(frozen=True)
class EmotionStyle:
    """How an emotion shapes head motion: directions after Wallbott 1998 and Busso et al. 2007
    where they report one (sad lower and calmer, angry and happy livelier); sizes our choice."""

    amplitude: float  # multiplies drift and gestures
    speed: float  # > 1: quicker drift and gestures
    pitch_deg: float  # rest pitch: down when sad, up when surprised


EMOTION_STYLES: dict[str, EmotionStyle] = {
    "angry": EmotionStyle(1.4, 1.3, -1.5),
    "disgust": EmotionStyle(0.9, 0.9, -1.5),
    "fear": EmotionStyle(0.9, 1.3, 1.5),
    "happy": EmotionStyle(1.3, 1.2, 1.0),
    "neutral": EmotionStyle(1.0, 1.0, 0.0),
    "sad": EmotionStyle(0.6, 0.7, -5.0),
    "surprised": EmotionStyle(1.2, 1.2, 4.0),
}


@dataclass(frozen=True)
class HeadEyesConfig:
    """Procedural head and eye motion; every angle in degrees, every time in seconds."""

    enabled: bool = True  # False: step() returns zeros
    seed: int = 0  # the same energy and seed always give the same motion
    head_scale: float = 1.0  # multiplies every head amplitude (per character: calm < 1 < lively)
    saccades: bool = True  # spontaneous saccades and gaze aversion; False holds the gaze on the target
    vor_gain: float = 1.0  # share of head rotation the eyes counter-rotate (~1 for far targets, Leigh & Zee)
    # speech detection, causal, from the frame energy (our choices; speech is about -20..-35 dBFS)
    speech_min_db: float = -55.0  # a quieter frame is never speech
    speech_margin_db: float = 12.0  # a voiced frame stands this far above the running noise floor
    floor_window_s: float = 1.5  # noise floor: the quietest frame of this window (Martin 2001), so a
    # steady sound (a hum) becomes floor, while speech, which dips between syllables, stays above it
    pause_s: float = 0.3  # silence that ends speaking: within-phrase gaps are briefer (Campione & Veronis 2002)
    thinking_pause_s: float = 1.0  # a pause this long after speech may be "thinking" (their long class)
    stress_db: float = 4.0  # a syllable this far above the running speech level counts as stressed
    # head: sizes and speeds set from real talking video (benchmarks/head_eyes.py: ten speakers giving
    # addresses, speaking std ~4.7 yaw, ~3.3 pitch, ~3.1 roll deg, 95th-percentile speeds ~39, ~35,
    # ~17 deg/s, with wide spread between people); the split into drift, nods and turns is our choice
    drift_deg: tuple[float, float, float] = (6.0, 4.0, 3.2)  # yaw, pitch, roll drift std while speaking
    drift_tau_s: float = 0.7  # drift correlation time: a sway of a second or so
    drift_smooth_s: float = 0.05  # critically damped smoothing: the head has mass, no jitter
    pause_motion: float = 0.2  # drift in pauses relative to speech (stillness at junctures, Hadar 1983)
    gesture_probability: float = 0.6  # chance that an onset or a stressed syllable moves the head
    stress_nod_share: float = 0.7  # gestures on stressed syllables that are nods; the rest are turns
    onset_turn_share: float = 0.7  # gestures at speech onsets that are turns; the rest are nods
    gesture_refractory_s: float = 0.7  # fewest seconds from one gesture to the next (at speed 1)
    nod_deg: tuple[float, float] = (2.0, 5.0)  # nod depth range: a few degrees (Graf et al. 2002)
    nod_s: tuple[float, float] = (0.2, 0.45)  # nod duration range, down and back up
    turn_deg: tuple[float, float] = (2.0, 5.0)  # yaw of a new head posture after a turn
    turn_s: float = 0.06  # time constant of the move to a new posture (peak speeds of tens of deg/s)
    turn_hold_s: float = 1.5  # a posture relaxes back to rest with this time constant
    head_limit_deg: tuple[float, float, float] = (20.0, 12.0, 10.0)  # soft limit of yaw, pitch, roll
    # motion about the rest pose: a rare sum of drift and gesture compresses toward it (our choice)
    emotion_smooth_s: float = 0.5  # an emotion switch glides over about this long, never jumps
    # eyes
    saccade_ms_per_deg: float = 2.2  # main-sequence slope (Carpenter 1988)
    saccade_base_ms: float = 21.0  # main-sequence intercept (Carpenter 1988)
    saccade_latency_s: tuple[float, float] = (0.15, 0.25)  # cue to saccade: ~180-200 ms (Saslow 1967)
    fixation_scatter_deg: float = 2.5  # std of fixations about the anchor: median saccade ~4 deg (Malinov 2000)
    fixation_speaking_s: float = 0.7  # mean fixation while speaking (our choice in the ~0.3-1.5 s range)
    fixation_silent_s: float = 1.0  # mean fixation in pauses (our choice)
    min_fixation_s: float = 0.15  # shortest fixation: the next saccade needs time to be programmed
    aversion_deg: tuple[float, float] = (5.0, 15.0)  # how far the gaze turns away, up or sideways
    aversion_s: tuple[float, float] = (1.0, 2.0)  # how long before it returns to the target
    onset_aversion_probability: float = 0.6  # look away as speech starts (Kendon 1967; number ours)
    thinking_aversion_probability: float = 0.5  # look away in a thinking pause (Glenberg 1998; number ours)
    gaze_range_deg: tuple[float, float] = (35.0, 25.0)  # |yaw|, |pitch| limits of a fixation (our choice)
    # blinks
    blinks_speaking_per_min: float = 24.0  # ~26 while talking (Bentivoglio 1997)
    blinks_silent_per_min: float = 15.0  # ~17 at rest (Bentivoglio 1997); a bit under it (our choice)
    blink_s: tuple[float, float] = (0.1, 0.3)  # blink duration range (~100-300 ms, approximate)
    gaze_blink_deg: tuple[float, float] = (10.0, 33.0)  # a saccade's blink chance rises 0 -> 1 (Evinger 1994)
    large_turn_deg: float = 4.0  # a head turn this large (at head_scale 1) may bring a blink (our choice)
    turn_blink_probability: float = 0.4  # chance of that blink (our choice)


def frame_energy_db(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, fps: float = FPS) -> np.ndarray:
    """Mono float audio (full scale 1.0) -> (frames,) float32 RMS level of each frame in dBFS,
    SILENCE_DB for digital silence. Frames follow medtalk_core.audio's rule, `int(n * fps / rate)`
    frames, frame i starting at sample `round(i * rate / fps)` (its num_frames / frame_samples,
    which are fixed to 16 kHz and 60 fps; this takes any rate)."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"samples must be mono (n,), got shape {samples.shape}")
    frames = int(samples.shape[0] * fps / sample_rate)
    if frames == 0:
        return np.zeros(0, dtype=np.float32)
    bounds = np.round(np.arange(frames + 1) * (sample_rate / fps)).astype(np.int64)
    squares = np.square(samples[:bounds[-1]], dtype=np.float64)  # a last partial frame is no frame
    power = np.add.reduceat(squares, bounds[:-1]) / np.diff(bounds)  # (frames,)
    return (10.0 * np.log10(np.maximum(power, 10.0 ** (SILENCE_DB / 10.0)))).astype(np.float32)


class SpeechTracker:
    """Causal speech state from the frame energy: speaking, speech onsets, stressed syllables and
    the moment a pause becomes a thinking pause. One `update` per frame, in order."""

    def __init__(self, cfg: HeadEyesConfig, fps: float = FPS) -> None:
        self.cfg = cfg
        self._dt = 1.0 / fps
        self._window = max(1, round(cfg.floor_window_s * fps))  # frames
        self._level_alpha = 1.0 - math.exp(-self._dt / _LEVEL_TAU_S)
        self._fast_alpha = 1.0 - math.exp(-self._dt / _FAST_TAU_S)
        self.reset()

    def reset(self) -> None:
        self._frame = 0
        self._quietest: deque[tuple[int, float]] = deque()  # (frame, dB), rising: its head is the floor
        self._level_db = SILENCE_DB  # running level of voiced frames
        self._fast_db = SILENCE_DB  # syllable envelope
        self._stressed = False  # the envelope is above level + stress_db
        self.silence_s = math.inf  # since the last voiced frame; inf before any speech

    def update(self, energy_db: float) -> tuple[bool, bool, bool, bool]:
        """One frame -> (speaking, onset, stress, thinking): speaking now; speech starts after a
        pause; a syllable rises past the speech level; the pause just became a thinking pause."""
        cfg = self.cfg
        while self._quietest and self._quietest[-1][1] >= energy_db:
            self._quietest.pop()
        self._quietest.append((self._frame, energy_db))
        if self._quietest[0][0] <= self._frame - self._window:
            self._quietest.popleft()
        self._frame += 1
        gate_db = max(self._quietest[0][1] + cfg.speech_margin_db, cfg.speech_min_db)
        voiced = energy_db > gate_db
        onset = voiced and self.silence_s >= cfg.pause_s
        if voiced and self._level_db == SILENCE_DB:
            self._level_db = energy_db  # the first voiced frame sets the level
        elif voiced:
            self._level_db += self._level_alpha * (energy_db - self._level_db)
        self._fast_db += self._fast_alpha * (max(energy_db, gate_db) - self._fast_db)
        was_stressed, self._stressed = self._stressed, self._fast_db > self._level_db + cfg.stress_db
        before = self.silence_s
        self.silence_s = 0.0 if voiced else self.silence_s + self._dt
        thinking = before < cfg.thinking_pause_s <= self.silence_s
        stress = voiced and self._stressed and not was_stressed
        return self.silence_s < cfg.pause_s, onset, stress, thinking


def speaking_frames(energy_db: np.ndarray, cfg: HeadEyesConfig = HeadEyesConfig(), fps: float = FPS) -> np.ndarray:
    """(frames,) bool: the frames the generator treats as speaking, for head_eyes_stats.motion_statistics."""
    tracker = SpeechTracker(cfg, fps)
    return np.array([tracker.update(e)[0] for e in np.asarray(energy_db, dtype=np.float64).tolist()], dtype=bool)


def _min_jerk(s: float) -> float:
    """Minimum-jerk position 0 -> 1 over s in [0, 1]: zero speed and acceleration at both ends."""
    return s * s * s * (10.0 + s * (6.0 * s - 15.0))


class _Smoothed:
    """Critically damped follower (two one-pole stages): a jump in its goal becomes an S-curve."""

    def __init__(self, value: float) -> None:
        self.mid = self.value = value

    def follow(self, goal: float, alpha: float) -> float:
        self.mid += alpha * (goal - self.mid)
        self.value += alpha * (self.mid - self.value)
        return self.value


class HeadEyes:
    """Streaming generator: `step(energy_db, emotion)` once per block of frames, in order."""

    def __init__(self, cfg: HeadEyesConfig, fps: float = float(FPS)) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.cfg = cfg
        self.fps = float(fps)
        self._dt = 1.0 / self.fps
        self._target = (0.0, 0.0)  # gaze target (yaw, pitch): a setting, kept by reset()
        self.reset()

    def reset(self) -> None:
        """Restart the motion from the seed (the gaze target stays)."""
        # two streams from the seed: drift noise is drawn a block at a time, events one by one;
        # default_rng(seed).spawn(2) gives the same, but Generator.spawn needs numpy 1.25
        self._noise_rng, self._rng = map(np.random.default_rng, np.random.SeedSequence(self.cfg.seed).spawn(2))
        self._speech = SpeechTracker(self.cfg, self.fps)
        self._frame = 0
        self._style = [_Smoothed(v) for v in (1.0, 1.0, 0.0)]  # amplitude, speed, pitch_deg
        self._talk = 0.0  # 0 in a pause .. 1 while speaking, smoothed
        self._drift = [0.0, 0.0, 0.0]  # yaw, pitch, roll: the raw Ornstein-Uhlenbeck state
        self._head = [_Smoothed(0.0) for _ in range(3)]  # smoothed drift
        self._posture_goal = [0.0, 0.0, 0.0]  # set by turns, relaxing to rest
        self._posture = [_Smoothed(0.0) for _ in range(3)]
        self._nod = (-math.inf, 1.0, 0.0)  # start, duration, depth
        self._next_gesture = 0.0
        self._anchor = (0.0, 0.0)  # fixations centre on target + anchor; nonzero while averted
        self._aversion_end = math.inf
        first = self._target
        self._saccade = (first, first, -math.inf, 1e-3)  # from, to, start, duration
        self._next_saccade = self._fixation_gap(speaking=False) if self.cfg.saccades else math.inf
        self._blink = (-math.inf, 0.2)  # start, duration
        self._blink_hazard = 0.0
        self._blink_budget = self._rng.gamma(_GAP_SHAPE, 1.0 / _GAP_SHAPE)

    def set_gaze_target(self, yaw_deg: float, pitch_deg: float) -> None:
        """Where fixations return to (0, 0: straight ahead, at the camera); the eyes get there by a
        saccade after the usual latency."""
        self._target = (float(yaw_deg), float(pitch_deg))
        lo, hi = self.cfg.saccade_latency_s
        self._schedule_saccade(self._frame * self._dt + self._rng.uniform(lo, hi))

    def step(self, energy_db: np.ndarray, emotion: str = "neutral") -> np.ndarray:
        """Energy (dBFS) of the next n frames -> (n, 6) float32 in COLUMNS order."""
        energy = np.asarray(energy_db, dtype=np.float64)
        if energy.ndim != 1:
            raise ValueError(f"energy_db must be (n,), got shape {energy.shape}")
        if emotion not in EMOTION_STYLES:
            raise ValueError(f"unknown emotion {emotion!r}; one of {', '.join(EMOTIONS)}")
        out = np.zeros((energy.shape[0], len(COLUMNS)), dtype=np.float32)
        if not self.cfg.enabled:
            return out
        energy = np.clip(np.nan_to_num(energy, nan=SILENCE_DB), SILENCE_DB, 0.0)
        noise = self._noise_rng.standard_normal((energy.shape[0], 3)).tolist()  # drift: 3 draws a frame
        style = EMOTION_STYLES[emotion]
        for i, e in enumerate(energy.tolist()):
            out[i] = self._next_frame(e, style, noise[i])
        return out

    def _next_frame(self, energy_db: float, style: EmotionStyle, noise: list[float]) -> tuple[float, ...]:
        cfg, dt, t = self.cfg, self._dt, self._frame * self._dt
        self._frame += 1
        speaking, onset, stress, thinking = self._speech.update(energy_db)
        glide = 1.0 - math.exp(-2.0 * dt / cfg.emotion_smooth_s)  # two stages: ~emotion_smooth_s in all
        amplitude, speed, pitch = (s.follow(g, glide) for s, g in
                                   zip(self._style, (style.amplitude, style.speed, style.pitch_deg)))
        talk_tau = _TALK_ATTACK_S if speaking else _TALK_RELEASE_S
        self._talk += (1.0 - math.exp(-dt / talk_tau)) * (float(speaking) - self._talk)
        if (onset or stress) and t >= self._next_gesture and self._rng.random() < cfg.gesture_probability:
            nod_share = 1.0 - cfg.onset_turn_share if onset else cfg.stress_nod_share
            if self._rng.random() < nod_share:
                self._start_nod(t, amplitude, speed)
            else:
                self._start_turn(t, amplitude)
            self._next_gesture = t + cfg.gesture_refractory_s / speed
        head = [cfg.head_scale * limit * math.tanh(angle / limit)  # soft limit: smooth, never a clip
                for angle, limit in zip(self._head_motion(t, noise, amplitude, speed), cfg.head_limit_deg)]
        head[1] += cfg.head_scale * pitch
        if cfg.saccades:
            self._update_aversion(t, onset, thinking)
        if t >= self._next_saccade:
            self._start_saccade(speaking)
        gaze = self._gaze_at(t)
        blink = self._blink_at(t, speaking)
        return (head[0], head[1], head[2], gaze[0] - cfg.vor_gain * head[0], gaze[1] - cfg.vor_gain * head[1], blink)

    # head

    def _head_motion(self, t: float, noise: list[float], gain: float, speed: float) -> list[float]:
        """Drift + posture + nod (yaw, pitch, roll) at head_scale 1, before the soft limit."""
        cfg, dt = self.cfg, self._dt
        keep = math.exp(-dt * speed / cfg.drift_tau_s)  # exact Ornstein-Uhlenbeck step
        kick = math.sqrt(1.0 - keep * keep) * gain * (cfg.pause_motion + (1.0 - cfg.pause_motion) * self._talk)
        smooth = 1.0 - math.exp(-dt * speed / cfg.drift_smooth_s)
        turn = 1.0 - math.exp(-dt * speed / cfg.turn_s)
        relax = math.exp(-dt / cfg.turn_hold_s)
        angles = []
        for axis in range(3):
            self._drift[axis] = keep * self._drift[axis] + kick * cfg.drift_deg[axis] * noise[axis]
            self._posture_goal[axis] *= relax
            angles.append(self._head[axis].follow(self._drift[axis], smooth)
                          + self._posture[axis].follow(self._posture_goal[axis], turn))
        start, duration, depth = self._nod
        if start <= t < start + duration:
            angles[1] -= depth * 0.5 * (1.0 - math.cos(2.0 * math.pi * (t - start) / duration))
        return angles

    def _start_nod(self, t: float, gain: float, speed: float) -> None:
        self._nod = (t, self._rng.uniform(*self.cfg.nod_s) / speed, self._rng.uniform(*self.cfg.nod_deg) * gain)

    def _start_turn(self, t: float, gain: float) -> None:
        yaw = self._rng.choice((-1.0, 1.0)) * self._rng.uniform(*self.cfg.turn_deg) * gain
        turned = abs(yaw - self._posture[0].value)
        self._posture_goal = [yaw, self._rng.uniform(-_TURN_PITCH, _TURN_PITCH) * abs(yaw),
                              self._rng.uniform(-_TURN_ROLL, _TURN_ROLL) * yaw]
        chance = self._rng.random()  # drawn for every turn: the random stream never depends on a turn's size
        if turned >= self.cfg.large_turn_deg and chance < self.cfg.turn_blink_probability:
            self._start_blink(t)

    # eyes

    def _update_aversion(self, t: float, onset: bool, thinking: bool) -> None:
        cfg = self.cfg
        lo, hi = cfg.saccade_latency_s
        if t >= self._aversion_end:  # look back at the target
            self._anchor, self._aversion_end = (0.0, 0.0), math.inf
            self._schedule_saccade(t + self._rng.uniform(lo, hi))
        chance = cfg.onset_aversion_probability if onset else cfg.thinking_aversion_probability if thinking else 0.0
        if chance and self._aversion_end == math.inf and self._rng.random() < chance:
            size = self._rng.uniform(*cfg.aversion_deg)
            elevation = math.radians(self._rng.uniform(*_AVERSION_ELEVATION_DEG))
            side = self._rng.choice((-1.0, 1.0))
            self._anchor = (side * size * math.cos(elevation), size * math.sin(elevation))
            self._aversion_end = t + self._rng.uniform(*cfg.aversion_s)
            self._schedule_saccade(t + self._rng.uniform(lo, hi))

    def _schedule_saccade(self, at: float) -> None:
        """The next saccade at `at`, or as soon after it as the current one allows."""
        _, _, start, duration = self._saccade
        self._next_saccade = max(min(self._next_saccade, at), start + duration + self.cfg.min_fixation_s)

    def _fixation_gap(self, speaking: bool) -> float:
        mean = self.cfg.fixation_speaking_s if speaking else self.cfg.fixation_silent_s
        extra = max(mean - self.cfg.min_fixation_s, 0.0)
        return self.cfg.min_fixation_s + self._rng.gamma(_GAP_SHAPE, extra / _GAP_SHAPE)

    def _start_saccade(self, speaking: bool) -> None:
        """A saccade from the current fixation, starting at the scheduled (sub-frame) time."""
        cfg = self.cfg
        _, origin, _, _ = self._saccade
        start = self._next_saccade
        goal = [self._target[i] + self._anchor[i] for i in range(2)]
        if cfg.saccades:
            goal = [g + cfg.fixation_scatter_deg * self._rng.standard_normal() for g in goal]
        goal = [min(max(g, -limit), limit) for g, limit in zip(goal, cfg.gaze_range_deg)]
        amplitude = math.hypot(goal[0] - origin[0], goal[1] - origin[1])
        duration = (cfg.saccade_ms_per_deg * amplitude + cfg.saccade_base_ms) / 1000.0
        self._saccade = (origin, (goal[0], goal[1]), start, duration)
        self._next_saccade = start + duration + self._fixation_gap(speaking) if cfg.saccades else math.inf
        lo, hi = cfg.gaze_blink_deg
        if amplitude > lo and self._rng.random() < (amplitude - lo) / (hi - lo):
            self._start_blink(start)

    def _gaze_at(self, t: float) -> tuple[float, float]:
        origin, goal, start, duration = self._saccade
        if t >= start + duration:
            return goal
        if t <= start:
            return origin
        s = _min_jerk((t - start) / duration)
        return origin[0] + s * (goal[0] - origin[0]), origin[1] + s * (goal[1] - origin[1])

    # blinks

    def _start_blink(self, at: float) -> None:
        start, duration = self._blink
        if at < start + duration:
            return  # the lid is already closing or opening
        self._blink = (at, self._rng.uniform(*self.cfg.blink_s))
        self._blink_hazard = 0.0
        self._blink_budget = self._rng.gamma(_GAP_SHAPE, 1.0 / _GAP_SHAPE)

    def _blink_at(self, t: float, speaking: bool) -> float:
        """Spontaneous blinks at the speaking or silent rate; the lid shape of the current blink."""
        cfg = self.cfg
        rate = cfg.blinks_speaking_per_min if speaking else cfg.blinks_silent_per_min
        self._blink_hazard += rate / 60.0 * self._dt
        if self._blink_hazard >= self._blink_budget:
            self._start_blink(t)
        start, duration = self._blink
        closing = _BLINK_CLOSE_SHARE * duration
        if t < start or t >= start + duration:
            return 0.0
        if t < start + closing:
            return 0.5 - 0.5 * math.cos(math.pi * (t - start) / closing)
        return 0.5 + 0.5 * math.cos(math.pi * (t - start - closing) / (duration - closing))
