"""`medtalk run` flags over the config (conflicts rejected with a clear message), the daemon
config (unknown keys, ranges), the status line and `medtalk devices`."""

from __future__ import annotations

import argparse
import logging

import pytest

from livelink_bridge.cli import main
from livelink_bridge.commands import run as run_cmd
from livelink_bridge.daemon_config import DaemonConfig, load_daemon_config, validate
from livelink_bridge.status import StatusLine, StreamStats, format_status
from medtalk_core.errors import ConfigError, MedtalkError


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    run_cmd.add_arguments(p)
    return p.parse_args(list(argv))


def test_flags_override_the_config():
    cfg = run_cmd.apply_flags(DaemonConfig(), _args(
        "--source", "file:/tmp/a.wav", "--fast", "--osc", "10.0.0.2:7000", "--livelink-face", "127.0.0.1:11111",
        "--control", "off", "--record", "/tmp/rec", "--emotion", "hap", "--curve-set", "expressions",
        "--face-board", "mh4"))
    assert cfg.source.kind == "file" and cfg.source.path == "/tmp/a.wav" and not cfg.source.realtime
    assert (cfg.transports.osc.host, cfg.transports.osc.port) == ("10.0.0.2", 7000)
    assert cfg.transports.osc.curve_set == "expressions" and cfg.transports.osc.face_board == "mh4"
    assert cfg.transports.livelink_face.enabled and cfg.transports.livelink_face.port == 11111
    assert cfg.transports.recorder.enabled and cfg.transports.recorder.directory == "/tmp/rec"
    assert not cfg.control.enabled and cfg.control.emotion == "hap"
    named = run_cmd.apply_flags(DaemonConfig(), _args("--subject", "Bob", "--device-id", "stage-left"))
    assert named.transports.osc.subject == "Bob" and named.transports.livelink_face.subject == "Bob"
    assert named.transports.livelink_face.device_id == "stage-left"
    assert DaemonConfig().transports.livelink_face.device_id is None  # a UUID per run
    example = run_cmd.apply_flags(DaemonConfig(), _args("--source", "example", "--loop"))
    assert example.source.kind == "example" and example.source.loop and example.source.realtime
    net = run_cmd.apply_flags(DaemonConfig(), _args("--source", "ws://0.0.0.0:8800", "--monitor", "2"))
    assert net.source.kind == "network" and net.source.listen == "ws://0.0.0.0:8800"
    assert net.monitor.enabled and net.monitor.device == "2"
    default_out = run_cmd.apply_flags(DaemonConfig(), _args("--source", "example", "--monitor"))
    assert default_out.monitor.enabled and default_out.monitor.device is None
    assert not DaemonConfig().monitor.enabled and DaemonConfig().source.listen.startswith("ws://127.0.0.1:")


@pytest.mark.parametrize("argv,message", [
    (("--source", "mic", "--fast"), "--fast needs a file source"),
    (("--source", "mic", "--loop"), "--loop needs a file source"),
    (("--source", "example", "--input-device", "2"), "--input-device only applies"),
    (("--source", "example", "--fast", "--loop"), "would never end"),
    (("--source", "speaker"), "--source takes"),
    (("--source", "ws://127.0.0.1"), "ws://HOST:PORT or tcp://HOST:PORT"),
    (("--source", "tcp://127.0.0.1:8765", "--fast"), "a network stream comes in real time"),
    (("--monitor",), "a microphone is heard directly"),
    (("--source", "example", "--fast", "--monitor"), "--monitor needs real-time pacing"),
    (("--osc", "localhost"), "HOST:PORT"),
    (("--control", "127.0.0.1:99999"), "HOST:PORT"),
    (("--emotion", "bored"), "unknown emotion"),
])
def test_conflicting_or_bad_flags_are_rejected(argv, message):
    with pytest.raises(MedtalkError, match=message):
        run_cmd.apply_flags(DaemonConfig(), _args(*argv))


def test_realtime_and_fast_are_mutually_exclusive(capsys):
    with pytest.raises(SystemExit):
        _args("--realtime", "--fast")
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("yaml_text,message", [
    ("engine:\n  hop_msec: 20\n", "unknown config key: engine.hop_msec"),
    ("source:\n  kind: radio\n", "source.kind"),
    ("transports:\n  osc:\n    face_board: mh5\n", "transports.osc.face_board must be one of classic, mh4"),
    ("engine:\n  window_s: 0.04\n", "shorter than window_s"),
])
def test_config_rejects_unknown_keys_and_bad_values(tmp_path, yaml_text, message):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_daemon_config(path)


def test_the_defaults_are_valid():
    assert validate(DaemonConfig()) == DaemonConfig()


def test_cli_prints_one_line_for_a_user_mistake(capsys):
    assert main(["run", "--source", "mic", "--fast"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["medtalk run: error: --fast needs a file source: a microphone is real time by nature"]


def test_status_line_is_plain_log_lines_off_a_terminal(caplog):
    stats = StreamStats()
    for i in range(60):
        stats.record_send(capture_time=100.0 + i / 60, now=100.095 + i / 60, packets=2)
    stats.input_level_db = -20.0
    stats.late_frames = 3
    line = format_status(stats, {"guidance": "happy", "intensity": 1.5, "muted": True}, now=101.0)
    assert "happy x1.5 MUTED" in line and "late 3" in line and "sent 120" in line
    assert "95/95 ms" in line and "60.0 fps" in line
    assert "-20 dB" in line and "input lost" not in line  # quiet or loud, it delivers
    stats.input_lost = True
    assert format_status(stats, {}, now=101.0).startswith("input lost ")
    import io

    status = StatusLine(stats, lambda: {"guidance": "sad"}, interval_s=1.0, stream=io.StringIO()).start()
    with caplog.at_level(logging.INFO, logger="livelink_bridge.status"):
        status.update(200.0)
        status.update(200.5)  # within the interval: no new line
        status.update(201.0)
    status.close()
    assert sum("sad" in r.getMessage() for r in caplog.records) == 2


def test_devices_lists_inputs_or_says_there_are_none(capsys):
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "index" in out or "no audio input devices" in out


def test_head_and_eye_motion_is_on_by_default_and_has_an_off_switch():
    assert DaemonConfig().head_eyes.enabled
    assert not run_cmd.apply_flags(DaemonConfig(), _args("--no-head-eyes")).head_eyes.enabled
    assert run_cmd.apply_flags(DaemonConfig(), _args()).head_eyes == DaemonConfig().head_eyes
