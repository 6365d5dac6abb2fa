"""The live daemon: owns the audio source, the streaming engine, the output clock, the
transports, the control server, hotkeys, the guidance and transcription workers and the status
line, and closes them all in one `close()` (docs/ARCHITECTURE.md).

The caller's thread runs the loop: read audio -> engine -> output clock; live, a sender thread
takes frames off the clock at their deadlines and hands them to the transports. The audio
callback, the control server, the hotkeys and the two workers (child processes: descriptions and
photos, transcripts) each run on their own and talk to the loop only through queues and the
GuidanceState; the loop itself waits for nothing but the model.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from medtalk_core import model_choice
from medtalk_core.audio import zero_nonfinite
from medtalk_core.inference_mode import rules

from livelink_bridge.access import Access, image_folders
from livelink_bridge.clock import FrameClock
from livelink_bridge.continuation import Continuation
from livelink_bridge.control.hotkeys import Hotkeys
from livelink_bridge.control.messages import DecodeRules
from livelink_bridge.control.server import ControlServer
from livelink_bridge.control.state import ControlInbox, GuidanceState
from livelink_bridge.daemon_config import DaemonConfig
from livelink_bridge.engine import StreamingEngine
from livelink_bridge.frames import RigFrame
from livelink_bridge.guidance_worker import AnimatorRecipe, GuidanceWorker
from livelink_bridge.head_motion import HeadMotion
from livelink_bridge.panel import PanelServer
from livelink_bridge.process_tuning import ProcessTuning
from livelink_bridge.sources import AudioChunk, AudioSource, example_path
from livelink_bridge.sources.file import FileSource
from livelink_bridge.sources.gapless import GaplessSource
from livelink_bridge.sources.mic import MicSource
from livelink_bridge.sources.monitor import AudioMonitor
from livelink_bridge.stall import StallGuard
from livelink_bridge.status import StatusLine, StreamStats
from livelink_bridge.transcribe_worker import SpeechSegmenter, TranscribeWorker, transcriber_factory
from livelink_bridge.transports import Transport

if TYPE_CHECKING:
    from medtalk_core.inference import Animator

logger = logging.getLogger(__name__)

_MAX_WAIT_S = 0.02  # longest a wait for audio (loop) or for a deadline (sender) lasts
_IDLE_WAIT_S = 0.002  # the sender's pause when a deadline has passed but nothing can be sent
_CHILD_START_WAIT_S = 20.0  # longest the stream waits at start for the guidance child to load
_FILLER_GRACE_S = 0.5  # after filled-in silence, frames still made from it leave the engine this long


def build_source(cfg: DaemonConfig, control: ControlInbox | None = None, access: Access | None = None) -> AudioSource:
    """The configured audio source; a network source's control messages go to `control`, and
    its clients are let in by `access`."""
    s = cfg.source
    if s.kind == "mic":
        return MicSource(s.input_device, queue_blocks=s.queue_blocks, config=s.mic)
    if s.kind == "network":
        from livelink_bridge.sources.listeners import network_source

        return network_source(s.listen, chunk_ms=s.chunk_ms, buffer_s=s.buffer_s, control=control,
                              max_control_per_s=cfg.control.max_reads_per_s, limits=s.network, access=access)
    path = example_path() if s.kind == "example" else s.path
    return FileSource(path, realtime=s.realtime, loop=s.loop, chunk_ms=s.chunk_ms,
                      resampler=rules(cfg.model.mode).resampler)


def build_transports(cfg: DaemonConfig) -> list[Transport]:
    t = cfg.transports
    out: list[Transport] = []
    if t.osc.enabled:
        from livelink_bridge.transports.osc_frames import OscFrameTransport

        out.append(OscFrameTransport(t.osc.host, t.osc.port, subject=t.osc.subject, curve_set=t.osc.curve_set,
                                     face_board=t.osc.face_board, rotations=t.osc.rotations))
    if t.livelink_face.enabled:
        from livelink_bridge.transports.livelink_face import LiveLinkFaceTransport

        lf = t.livelink_face
        out.append(LiveLinkFaceTransport(lf.host, lf.port, subject=lf.subject, device_id=lf.device_id))
    if t.recorder.enabled:
        from livelink_bridge.transports.recorder import RecorderTransport

        out.append(RecorderTransport(t.recorder.directory))
    return out


LIVE_MODEL = "shipped:live"  # the daemon's model when none is configured


def load_animator(cfg: DaemonConfig) -> "Animator":
    """The configured checkpoint, else the shipped live model (bounded lookahead), else the shipped
    default model."""
    return model_choice.load_animator(cfg.model_choice(), default=LIVE_MODEL)


class Daemon:
    """`start()` loads and opens everything, `run()` streams until stopped or the file ends,
    `stop()` (any thread, signal handlers included) asks the loop to end, `close()` releases all."""

    def __init__(self, cfg: DaemonConfig, animator: "Animator | None" = None, source: AudioSource | None = None,
                 transports: list[Transport] | None = None) -> None:
        self.cfg = cfg
        self.animator = animator
        self.source = source  # the audio input as built
        self.timeline: GaplessSource | None = None  # live: the source with silence wherever it delivers nothing
        self.transports = transports
        self.stats = StreamStats()
        self._zeroed_samples = 0  # non-finite samples that reached the loop, set to 0
        self.access = Access(cfg.access)
        self.image_folders = image_folders(cfg.access)  # where a client's image guidance may be read
        # control from the audio stream, once ready
        self.inbox = ControlInbox(DecodeRules(cfg.control.max_string_bytes, self.image_folders))
        self._stop = threading.Event()
        self._sender_done = threading.Event()
        self._clock_lock = threading.Lock()  # the loop pushes frames, the sender takes them
        self.head_motion = HeadMotion(cfg.head_eyes)  # head and eyes of the final frames
        self.engine: StreamingEngine | None = None
        self.clock: FrameClock | None = None
        self.state: GuidanceState | None = None
        self.control: ControlServer | None = None
        self.hotkeys: Hotkeys | None = None
        self.panel: PanelServer | None = None
        self.worker: TranscribeWorker | None = None
        self.guidance_worker: GuidanceWorker | None = None
        self.segmenter: SpeechSegmenter | None = None
        self.stall: StallGuard | None = None
        self.status: StatusLine | None = None
        self.monitor: AudioMonitor | None = None
        self._guidance_version = -1
        self._send_errors = 0
        self._learn_from = 0.0  # the adaptive delay learns from frames made after this time
        self.tuning: ProcessTuning | None = None

    @property
    def _input(self) -> AudioSource:
        """What the loop reads: the gapless timeline when live, else the source itself."""
        return self.timeline if self.timeline is not None else self.source

    @property
    def realtime(self) -> bool:
        return self.cfg.source.kind in ("mic", "network") or self.cfg.source.realtime

    # --- lifecycle ---
    def start(self) -> "Daemon":
        cfg = self.cfg
        if self.source is None:  # first: a missing audio file fails before any model loads
            self.source = build_source(cfg, self.inbox, self.access)
        self.tuning = ProcessTuning(cfg.model.threads)
        self.tuning.apply()
        if self.animator is None:
            self.animator = load_animator(cfg)
        # Once, at the engine's own window size, so the first real hop is not the slow one.
        self.animator.warmup(cfg.engine.window_s)
        self.tuning.freeze_heap()
        c = cfg.control
        self.state = GuidanceState(self.animator, c.emotion, c.strength, c.intensity, c.max_string_bytes,
                                   head_eyes=cfg.head_eyes.enabled)
        if self.animator.backbones.guidance is not None:  # descriptions and photos: built in a child process
            self.guidance_worker = GuidanceWorker(AnimatorRecipe.of(self.animator), self.state.prepared).start()
            self.state.preparer = self.guidance_worker
        self.inbox.connect(self.state)  # a network stream's JSON control messages: the same state as OSC
        snap = self.state.snapshot()
        self._guidance_version = snap.version
        self.engine = StreamingEngine(self.animator, cfg.engine, guidance=snap.feature, catch_up=self.realtime)
        if self.realtime:
            k = cfg.clock
            # The audio monitor is heard a fixed delay after capture: the face must keep to it.
            adaptive = k.adaptive and not cfg.monitor.enabled
            self.clock = FrameClock(k.playout_delay_ms / 1000.0, k.max_hold_frames,
                                    max_delay_s=k.max_playout_delay_ms / 1000.0 if adaptive else None,
                                    continuation=Continuation(k.continuation, cfg.engine.idle))
            if self.source.end_frame is not None:
                self.clock.set_end(self.source.end_frame)
        if self.transports is None:
            self.transports = build_transports(cfg)
        if not self.transports:
            logger.warning("no transport enabled: frames are computed but go nowhere")
        for t in self.transports:
            t.open()
        if cfg.model.transcribe and self.animator.transcriber is not None:
            spec = self.animator.checkpoint.backbones.transcriber
            self.segmenter = SpeechSegmenter()
            self.worker = TranscribeWorker(transcriber_factory(spec), process=True).start()
        if self.realtime:  # a stall of any length is bridged by a counted gap, never a crash
            self.stall = StallGuard(self.engine, self.segmenter)
        if c.enabled:
            self.control = ControlServer(self.state, c, status=lambda: self.stats.as_dict(), access=self.access,
                                         image_folders=self.image_folders).start()
        if cfg.panel.enabled:
            self.panel = PanelServer(self.state, cfg.panel, self.access, self.inbox.rules,
                                     status=lambda: self.stats.as_dict()).start()
            print(f"panel: {self.panel.url}", flush=True)  # the page's key is in it: for this terminal only
        if c.hotkeys and Hotkeys.available():
            self.hotkeys = Hotkeys(self.state, on_quit=self.stop).start()
        self.stats.source = {"file": f"file:{cfg.source.path}", "network": cfg.source.listen}.get(cfg.source.kind,
                                                                                                   cfg.source.kind)
        if cfg.monitor.enabled:
            self.monitor = AudioMonitor(cfg.clock.playout_delay_ms / 1000.0, cfg.monitor.device,
                                        cfg.monitor.buffer_s).start()
        self.status = StatusLine(self.stats, lambda: self.state.snapshot().as_dict(), cfg.status.interval_s).start()
        if self.realtime:  # the output clock needs a timeline that goes on while the input delivers nothing
            self.timeline = GaplessSource(self.source, cfg.source.input_lost_ms / 1000.0)
        if self.guidance_worker is not None:
            self._await_guidance_worker()
        self._input.start()
        if self.clock is not None and self._input.input_latency_s > 0:  # known once the device is open
            self.clock.playout.raise_base(self._input.input_latency_s)
            logger.info("playout delay %.0f ms (%.0f ms input latency included)", 1000 * self.clock.delay_s,
                        1000 * self._input.input_latency_s)
        self.stats.capture_clock = self._input.clock_name
        return self

    def _await_guidance_worker(self) -> None:
        """Start the stream once the guidance child has loaded (or after `_CHILD_START_WAIT_S`):
        its start-up (torch, the model, the landmark graph) beside the first frames made them late,
        and taught the adaptive delay a peak it then took a minute to forget."""
        started = time.monotonic()
        while not self.guidance_worker.ready.wait(0.1):
            if self.guidance_worker.failure is not None or self._stop.is_set():
                return
            if time.monotonic() - started > _CHILD_START_WAIT_S:
                logger.warning("guidance: the descriptions and photos process is still loading; streaming meanwhile")
                return

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Release everything, newest first; safe to call twice and after a failed start."""
        for name in ("status", "hotkeys", "panel", "control", "worker", "guidance_worker", "monitor"):
            part = getattr(self, name)
            if part is not None:
                part.close()
                setattr(self, name, None)
        if self.source is not None:
            self._input.close()
        for t in self.transports or []:
            t.close()
        self.transports = []
        if self.tuning is not None:  # leave the process's settings as we found them
            self.tuning.restore()
            self.tuning = None
        if self.stats.frames_sent:
            logger.info("stopped: %d frames sent, %d late, latency p50 %s ms, p95 %s ms",
                        self.stats.frames_sent, self.stats.late_frames,
                        _fmt(self.stats.latency_ms(50)), _fmt(self.stats.latency_ms(95)))

    def __enter__(self) -> "Daemon":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the loop ---
    def run(self) -> int:
        """Stream until `stop()`, or (file without loop) until the last frame is sent. Returns 0.

        Live, a sender thread owns the output clock and the transports, so frames leave on time
        even while this thread is inside a model run; with --fast this thread sends directly."""
        if self.engine is None:
            raise RuntimeError("Daemon.run() before start()")
        sender = None
        if self.clock is not None:
            sender = threading.Thread(target=self._send_loop, name="medtalk-sender", daemon=True)
            sender.start()
        try:
            while not self._stop.is_set():
                self._feed(self._input.read(_MAX_WAIT_S))
                self._poll_control()
                self._deliver(self.engine.process())
                self.status.update(time.time())
                if self._input.exhausted:
                    self._deliver(self.engine.finish())
                    break
            if sender is not None:
                with self._clock_lock:
                    self.clock.drain()
                while sender.is_alive() and not self._stop.is_set():  # the last frames leave on time
                    sender.join(0.05)
                    self.status.update(time.time())
        finally:
            self._sender_done.set()
            if sender is not None:
                sender.join()
        return 0

    def _send_loop(self) -> None:
        """Sender thread: sleep to the next frame's deadline, send what is due, repeat.

        It never spins: a thread busy in Python takes the GIL from the model's thread at every
        torch call (docs/LIVE.md, "The real-time path"), so when nothing could be sent although
        a deadline has passed (the stream is ending) it sleeps like any other wait."""
        while not self._sender_done.is_set() and not self._stop.is_set():
            with self._clock_lock:
                if self.clock.finished:
                    return
                deadline = self.clock.deadline()
            now = time.time()
            if deadline is None or deadline > now:
                self._stop.wait(_MAX_WAIT_S if deadline is None else min(_MAX_WAIT_S, deadline - now))
                continue
            with self._clock_lock:
                frames = self.clock.due(time.time())
                self.stats.late_frames = self.clock.late_frames
                self.stats.dropped_frames = self.clock.dropped_frames
                self.stats.skipped_frames = self.clock.skipped_frames
                self.stats.continued_frames = self.clock.held_frames
                self.stats.playout_delay_ms = 1000.0 * self.clock.delay_s
            if not frames:
                self._stop.wait(_IDLE_WAIT_S)
            self._send(frames)

    def _feed(self, chunks: list[AudioChunk]) -> None:
        if self.stall is not None:
            chunks = self.stall.admit(chunks)
            self.stats.gaps, self.stats.gap_s = self.stall.gaps, self.stall.lost_s
            self.stats.longest_gap_s = self.stall.longest_s
        muted = self.state.snapshot().muted
        for chunk in chunks:
            if self.monitor is not None:
                self.monitor.push(chunk)  # heard as it is: mute silences the face, not the monitor
            samples, bad = zero_nonfinite(chunk.samples)  # one NaN would poison every window it is in
            self._zeroed_samples += bad
            samples = np.zeros_like(samples) if muted else samples
            if self.segmenter is not None:
                for segment in self.segmenter.feed(samples):
                    self.worker.submit(segment)
            self.engine.insert_audio(samples, chunk.capture_time)
        level = self._input.level_db  # NaN when the chunk held NaN samples
        self.stats.input_level_db = level if math.isfinite(level) else -120.0
        self.stats.input_lost = self.timeline is not None and self.timeline.input_lost
        if self.stats.input_lost:  # silence filled in late: the adaptive delay must not learn from its frames
            self._learn_from = time.time() + _FILLER_GRACE_S
        self.stats.overflows = self._input.overflows
        self.stats.bad_samples = self._zeroed_samples + self._input.bad_samples

    def _poll_control(self) -> None:
        self.state.apply_pending()  # cheap: descriptions and photos are built by the guidance worker
        snap = self.state.snapshot()
        if snap.version != self._guidance_version:
            self._guidance_version = snap.version
            self.engine.set_guidance(snap.feature)
        if self.worker is not None:
            for text in self.worker.results():
                self.engine.add_transcript(text.start_frame, text.end_frame, text.text)

    def _deliver(self, frames: list[RigFrame]) -> None:
        self.stats.model_runs = self.engine.runs
        if frames:
            frames = self.head_motion.annotate(frames, self.state.snapshot(), self.engine.level_db)
        if self.clock is not None:
            provisional = self.engine.provisional()
            now = time.time()
            with self._clock_lock:
                self.clock.push(frames, now if now >= self._learn_from else None)
                self.clock.offer(provisional)
        else:
            self._send(frames)

    def _send(self, frames: list[RigFrame]) -> None:
        for frame in frames:
            packets = 0
            for t in self.transports:
                try:
                    t.send_frame(frame)
                    packets += 1
                except OSError as exc:  # an unreachable receiver must not stop the stream
                    self._send_errors += 1
                    if self._send_errors in (1, 10, 100) or self._send_errors % 1000 == 0:
                        logger.warning("sending to %s failed (%d so far): %s", type(t).__name__,
                                       self._send_errors, exc)
            self.stats.record_send(frame.capture_time, time.time(), packets)
        if frames and self.panel is not None:
            self.panel.offer(frames[-1])


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"

