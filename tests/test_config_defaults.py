"""configs/default.yaml spells out the built-in defaults, every one: the parts' config classes are
the only place a default lives, and the shipped file must not drift from them."""

from __future__ import annotations

from pathlib import Path

from livelink_bridge.daemon_config import DaemonConfig, load_daemon_config

REPO = Path(__file__).resolve().parents[1]


def test_default_yaml_equals_the_built_in_defaults():
    assert load_daemon_config(REPO / "configs" / "default.yaml") == DaemonConfig()


def test_default_yaml_names_every_field():
    """Not only equal: every field is written out, so a user sees each setting once."""
    import dataclasses

    import yaml

    def missing(cls, data, prefix=""):
        out = []
        for f in dataclasses.fields(cls):
            key = prefix + f.name
            if f.name not in data:
                out.append(key)
            elif dataclasses.is_dataclass(f.default_factory() if f.default_factory is not dataclasses.MISSING
                                          else f.default) and isinstance(data[f.name], dict) and data[f.name]:
                sub = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                out += missing(type(sub), data[f.name], key + ".")
        return out

    data = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    assert missing(DaemonConfig, data) == []
