"""Where each backbone slot's model lives on this machine, set at run time over what a checkpoint stores.

A checkpoint records its backbones (name, path, options). A user with local copies overrides
them, per slot, from the `backbones:` section of a daemon/bake YAML or with
`--backbone SLOT=PATH` (repeatable; `SLOT.name=`, `SLOT.device=`, `SLOT.dtype=` set the rest):

    backbones:
      audio_content: {path: /models/wav2vec2-base-960h, device: cuda, dtype: float16}
      transcriber: {name: none}

Flags win over the YAML, the YAML over the checkpoint. A local path that does not exist is
refused here, before any model loads, naming the slot and the path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import ConfigError
from . import KINDS, BackboneConfig, BackboneSpec

DTYPES = {"float32": False, "float16": True}  # dtype -> the pretrained adapters' `fp16` load option
FLAG_KEYS = ("path", "name", "device", "dtype")


@dataclass(frozen=True)
class SlotOverride:
    name: str | None = None  # registry name (e.g. "none" to switch the transcriber off); None = keep
    path: str | None = None  # hub id or local folder/file; None = keep the checkpoint's
    device: str | None = None  # "cpu", "cuda", "cuda:1" (pretrained backbones); None = keep
    dtype: str | None = None  # "float32" | "float16" (GPU only); None = keep
    options: dict[str, Any] = field(default_factory=dict)  # merged over the checkpoint's options

    def __post_init__(self) -> None:
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ConfigError(f"backbone dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")


@dataclass(frozen=True)
class BackboneOverrides:
    audio_content: SlotOverride = field(default_factory=SlotOverride)
    audio_emotion: SlotOverride = field(default_factory=SlotOverride)
    transcriber: SlotOverride = field(default_factory=SlotOverride)
    text: SlotOverride = field(default_factory=SlotOverride)
    guidance: SlotOverride = field(default_factory=SlotOverride)

    def merged(self, later: "BackboneOverrides") -> "BackboneOverrides":
        """These overrides with every field that `later` sets taking its place (options merged)."""
        slots = {}
        for kind in KINDS:
            a, b = getattr(self, kind), getattr(later, kind)
            slots[kind] = SlotOverride(*(getattr(b, f) if getattr(b, f) is not None else getattr(a, f)
                                         for f in ("name", "path", "device", "dtype")),
                                       options={**a.options, **b.options})
        return BackboneOverrides(**slots)


def looks_local(path: str) -> bool:
    """A path written like a file system path (a hub id is `org/name` or a bare size like `base`)."""
    return path.startswith(("/", ".", "~")) or Path(path).expanduser().exists()


def parse_flags(flags: Iterable[str]) -> BackboneOverrides:
    """`--backbone` values (`SLOT=PATH` or `SLOT.KEY=VALUE`) -> overrides; one clear line for a mistake."""
    slots: dict[str, dict[str, str]] = {}
    for flag in flags:
        target, sep, value = flag.partition("=")
        kind, _, key = target.partition(".")
        key = key or "path"
        if not sep or not value:
            raise ConfigError(f"--backbone takes SLOT=PATH (e.g. text=/models/roberta), got {flag!r}")
        if kind not in KINDS:
            raise ConfigError(f"--backbone {flag}: unknown slot {kind!r}; slots: {', '.join(KINDS)}")
        if key not in FLAG_KEYS:
            raise ConfigError(f"--backbone {flag}: unknown key {key!r}; keys: {', '.join(FLAG_KEYS)}")
        slots.setdefault(kind, {})[key] = value
    return BackboneOverrides(**{kind: SlotOverride(**values) for kind, values in slots.items()})


def check_paths(overrides: BackboneOverrides) -> None:
    """Refuse a local path that is not there, before anything loads."""
    for kind in KINDS:
        path = getattr(overrides, kind).path
        if path is not None and looks_local(path) and not Path(path).expanduser().exists():
            raise ConfigError(f"backbone {kind}: local model not found: {Path(path).expanduser()} "
                              f"(set by --backbone {kind}=... or backbones.{kind}.path)")


def apply_overrides(cfg: BackboneConfig, overrides: BackboneOverrides | None) -> BackboneConfig:
    """The checkpoint's backbone config with the overrides applied; local paths checked."""
    if overrides is None:
        return cfg
    check_paths(overrides)
    slots = {}
    for kind in KINDS:
        spec: BackboneSpec = getattr(cfg, kind)
        o: SlotOverride = getattr(overrides, kind)
        if o.name is not None and o.name != spec.name:  # another implementation: the old path and options do not apply
            spec = BackboneSpec(o.name)
        options = {**spec.options, **o.options}
        if o.device is not None:
            options["device"] = o.device
        if o.dtype is not None:
            options["fp16"] = DTYPES[o.dtype]
        slots[kind] = BackboneSpec(spec.name, o.path if o.path is not None else spec.path, options)
    return BackboneConfig(**slots)
