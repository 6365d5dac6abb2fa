"""Typed configuration: YAML files mapped onto (nested) dataclasses, unknown keys rejected.

A typo in a config must never be silently ignored, so every key has to name a field.
"""

from __future__ import annotations

import dataclasses
import json
import math
import reprlib
import types
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

import yaml

from .errors import ConfigError

T = TypeVar("T")


def from_mapping(cls: type[T], data: Mapping[str, Any] | None, where: str = "") -> T:
    """Build dataclass `cls` from `data`, recursing into nested dataclass fields."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config section {where or cls.__name__!r} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"unknown config key: {where + '.' if where else ''}{key}")
        kwargs[key] = _coerce(hints[key], value, f"{where + '.' if where else ''}{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field without a default was left out
        raise ConfigError(f"config {where or cls.__name__}: {exc}") from None


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _coerce(non_none[0], value, where) if len(non_none) == 1 else value
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"config key {where} must be one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)
    if origin in (tuple, list):
        return _sequence(origin, args, value, where)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (not isinstance(value, hint) or (hint is int and isinstance(value, bool))):
        raise ConfigError(f"config key {where} must be {hint.__name__}, got {_short(value)}")
    if hint is float and not math.isfinite(value):  # a NaN compares false to every range check after it
        raise ConfigError(f"config key {where} must be a finite number, got {value!r}")
    return value


def _sequence(origin: Any, args: tuple, value: Any, where: str) -> Any:
    """A YAML list for a tuple[...] / list[...] field; fixed-length tuples must match their length."""
    fixed = origin is tuple and args and Ellipsis not in args
    if not isinstance(value, (list, tuple)) or (fixed and len(value) != len(args)):
        want = f"a list of {len(args)} values" if fixed else "a list"
        raise ConfigError(f"config key {where} must be {want}, got {_short(value)}")
    if fixed:
        return tuple(_coerce(a, v, where) for a, v in zip(args, value))
    item = args[0] if args else Any
    items = [_coerce(item, v, where) for v in value] if item is not Any else list(value)
    return tuple(items) if origin is tuple else items


_REPR = reprlib.Repr()  # bounded: a YAML alias bomb is tiny as parsed but endless when printed whole
_REPR.maxstring = _REPR.maxother = 80


def _short(value: Any) -> str:
    text = _REPR.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with one clear error for a missing, unreadable or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text (a binary file?)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    return parse_yaml(text, path)


def parse_yaml(text: str, path: str | Path) -> dict[str, Any]:
    """YAML text read from `path` -> its mapping ({} when empty); ConfigError naming the file."""
    try:
        data = yaml.safe_load(text)
    except Exception as exc:  # hostile text raises more than YAMLError: RecursionError when nested
        # thousands deep, ValueError from a bad !!int or date, AttributeError from a bad !!timestamp
        raise ConfigError(f"config file {path} is not valid YAML: {_parse_error(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at top level")
    return data


def parse_json(text: str, path: str | Path) -> Any:
    """JSON text read from `path` -> its value; ConfigError naming the file for malformed or
    hostile text (nested too deeply, an integer of thousands of digits)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {_parse_error(exc)}") from None


def _parse_error(exc: Exception) -> str:
    """One line for the CLI: YAML errors span several lines with a caret drawing."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return " ".join(str(exc).split())[:300]


def load_config(cls: type[T], path: str | Path) -> T:
    """Load YAML file `path` into dataclass `cls`."""
    return from_mapping(cls, load_yaml(path), where="")


def to_mapping(obj: Any) -> dict[str, Any]:
    """Dataclass -> plain dict (tuples become lists) for writing YAML/JSON beside checkpoints."""
    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(obj))
