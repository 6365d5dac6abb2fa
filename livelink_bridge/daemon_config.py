"""Typed configuration of `medtalk run`: YAML (`configs/default.yaml`) mapped onto frozen dataclasses.

Every field has a default, so an empty YAML file is a valid config; unknown keys are rejected by
`medtalk_core.config`. Command-line flags override fields with `dataclasses.replace`.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from livelink_bridge.access import Access, AccessConfig
from livelink_bridge.clock import ClockConfig
from livelink_bridge.control.server import ControlConfig
from livelink_bridge.control.state import MAX_INTENSITY
from livelink_bridge.engine import EngineConfig
from livelink_bridge.panel import PanelConfig
from livelink_bridge.sources.mic import MicConfig
from livelink_bridge.sources.monitor import MonitorConfig
from livelink_bridge.sources.network import NetworkConfig
from livelink_bridge.status import StatusConfig
from livelink_bridge.transports.livelink_face import LiveLinkFaceConfig
from livelink_bridge.transports.osc_frames import OscTransportConfig
from livelink_bridge.transports.recorder import RecorderConfig
from medtalk_core.backbones.overrides import BackboneOverrides
from medtalk_core.config import from_mapping, load_yaml
from medtalk_core.curve_sets import check_curve_set
from medtalk_core.errors import ConfigError, MedtalkError
from medtalk_core.expressions import FACE_BOARDS
from medtalk_core.head_eyes import HeadEyesConfig
from medtalk_core.model_choice import ModelChoice, ModelSettings

SourceKind = Literal["mic", "file", "example", "network"]
SOURCE_KINDS: tuple[SourceKind, ...] = typing.get_args(SourceKind)


@dataclass(frozen=True)
class SourceConfig:
    """Where audio comes from."""

    kind: SourceKind = "mic"  # "example" = the packaged English example speech
    path: str | None = None  # audio file for kind "file"
    input_device: str | None = None  # mic: device name (substring) or index; None = system default
    realtime: bool = True  # file: pace chunks in real time (False = as fast as possible)
    loop: bool = False  # file: start over at the end instead of stopping
    chunk_ms: float = 5.0  # file and network: chunk length (a microphone's blocks: mic.block_ms)
    queue_blocks: int = 400  # mic: bounded callback queue (400 x 5 ms = 2 s); overflow is counted
    mic: MicConfig = field(default_factory=MicConfig)  # mic: block size and latency asked of the host API
    input_lost_ms: float = 200.0  # live: no audio this long = input lost; silence (idle frames) fills in
    listen: str = "ws://127.0.0.1:8765"  # network: ws:// or tcp:// address the daemon listens on (127.0.0.1 = this machine only)
    buffer_s: float = 2.0  # network: audio queued ahead of real time at most; a faster client waits
    network: NetworkConfig = field(default_factory=NetworkConfig)  # network: what one client may cost


@dataclass(frozen=True)
class TransportsConfig:
    osc: OscTransportConfig = field(default_factory=OscTransportConfig)
    livelink_face: LiveLinkFaceConfig = field(default_factory=LiveLinkFaceConfig)
    recorder: RecorderConfig = field(default_factory=RecorderConfig)


@dataclass(frozen=True)
class DaemonConfig:
    """Everything `medtalk run` needs; `configs/default.yaml` spells out the defaults."""

    engine: EngineConfig = field(default_factory=EngineConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    model: ModelSettings = field(default_factory=ModelSettings)
    source: SourceConfig = field(default_factory=SourceConfig)
    transports: TransportsConfig = field(default_factory=TransportsConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    status: StatusConfig = field(default_factory=StatusConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    access: AccessConfig = field(default_factory=AccessConfig)  # who may drive the face
    panel: PanelConfig = field(default_factory=PanelConfig)  # the control panel in the browser
    head_eyes: HeadEyesConfig = field(default_factory=HeadEyesConfig)  # head and eye motion (Live Link Face)
    backbones: BackboneOverrides = field(default_factory=BackboneOverrides)  # over the checkpoint's backbones

    def model_choice(self) -> ModelChoice:
        return ModelChoice(self.model, self.backbones)


def validate(cfg: DaemonConfig) -> DaemonConfig:
    """Check value ranges that a type alone cannot; raise ConfigError naming the key."""
    e = cfg.engine
    if e.window_s <= 0 or e.hop_ms <= 0 or e.lookahead_ms < 0 or e.crossfade_ms < 0 or e.transition_s < 0:
        raise ConfigError("engine: window_s and hop_ms must be > 0; lookahead_ms, crossfade_ms, transition_s >= 0")
    if e.hop_ms / 1000 + e.lookahead_ms / 1000 >= e.window_s:
        raise ConfigError("engine: hop_ms + lookahead_ms must be shorter than window_s")
    lo, hi = e.idle.blink_interval_s
    if not 0 < lo <= hi:
        raise ConfigError("engine.idle.blink_interval_s must be two increasing positive numbers")
    if cfg.source.kind not in SOURCE_KINDS:  # the YAML loader checks too; this covers `replace`
        raise ConfigError(f"source.kind must be one of {', '.join(SOURCE_KINDS)}, got {cfg.source.kind!r}")
    if cfg.source.input_lost_ms <= 0:
        raise ConfigError("source.input_lost_ms must be > 0")
    if cfg.source.kind == "file" and not cfg.source.path:
        raise ConfigError("source.kind 'file' needs source.path")
    access = Access(cfg.access)
    if cfg.source.kind == "network":
        from livelink_bridge.sources.listeners import parse_listen_url

        try:
            _, host, _ = parse_listen_url(cfg.source.listen)
        except MedtalkError as exc:
            raise ConfigError(f"source.listen: {exc}") from None
        if cfg.source.buffer_s <= 0:
            raise ConfigError("source.buffer_s must be > 0")
        access.check_exposure(f"the network source ({cfg.source.listen})", host)
        check_network_limits(cfg.source.network)
    if cfg.panel.enabled:
        access.check_exposure(f"the panel ({cfg.panel.host}:{cfg.panel.port})", cfg.panel.host)
        p = cfg.panel
        if not (0 < p.fps <= 60 and 0 < p.status_hz <= 30 and 64 <= p.face_size <= 1024 and p.max_pages >= 1
                and p.max_upload_bytes >= 1024 and p.max_messages_per_s > 0):
            raise ConfigError("panel: fps in (0, 60], status_hz in (0, 30], face_size 64..1024, max_pages >= 1, "
                              "max_upload_bytes >= 1024, max_messages_per_s > 0")
    if cfg.head_eyes.head_scale < 0:
        raise ConfigError("head_eyes.head_scale must be >= 0")
    for folder in cfg.access.image_folders:
        if not Path(folder).is_dir():
            raise ConfigError(f"access.image_folders: {folder} is not a folder")
    if cfg.control.enabled:
        access.check_exposure(f"the control port ({cfg.control.host}:{cfg.control.port})", cfg.control.host)
    if cfg.monitor.enabled and (cfg.source.kind == "mic" or (cfg.source.kind != "network" and not cfg.source.realtime)):
        raise ConfigError("monitor needs a real-time file or network source (a microphone is heard directly)")
    try:
        check_curve_set(cfg.transports.osc.curve_set)
    except ConfigError as exc:
        raise ConfigError(f"transports.osc.curve_set: {exc}") from None
    if cfg.transports.osc.face_board not in FACE_BOARDS:
        raise ConfigError(f"transports.osc.face_board must be one of {', '.join(FACE_BOARDS)}")
    cfg.model_choice().checked()
    if cfg.clock.playout_delay_ms <= 0:
        raise ConfigError("clock.playout_delay_ms must be > 0")
    if not 0.0 <= cfg.control.intensity <= MAX_INTENSITY:
        raise ConfigError(f"control.intensity must be within 0..{MAX_INTENSITY:g}")
    t = cfg.transports
    for key, port in (("control.port", cfg.control.port), ("transports.osc.port", t.osc.port),
                      ("transports.livelink_face.port", t.livelink_face.port)):
        if not 0 <= port <= 65535:  # 0 = any free port
            raise ConfigError(f"{key} must be a UDP port, 0..65535, got {port}")
    return cfg


def check_network_limits(n: NetworkConfig) -> None:
    if not n.sample_rates or any(not 8000 <= rate <= 192000 for rate in n.sample_rates):
        raise ConfigError("source.network.sample_rates must list rates within 8000..192000")
    if n.max_connections < 1 or n.max_queued_messages < 1 or n.max_message_bytes < 1024:
        raise ConfigError("source.network: max_connections and max_queued_messages must be >= 1, "
                          "max_message_bytes >= 1024")
    if n.header_timeout_s <= 0 or n.idle_timeout_s <= 0:
        raise ConfigError("source.network: header_timeout_s and idle_timeout_s must be > 0")


def load_daemon_config(path: str | Path | None) -> DaemonConfig:
    """The daemon config from a YAML file, or the defaults when `path` is None."""
    data = load_yaml(path) if path is not None else {}
    return validate(from_mapping(DaemonConfig, data))
