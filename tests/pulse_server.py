"""Test helper: a private PulseAudio server with null sinks as virtual microphones.

Everything lives in one temporary folder (its runtime dir, its ALSA config) and every client
is pointed at it through `env`, so no system daemon is needed or touched. PortAudio on Debian
has no PulseAudio host API: it reaches PulseAudio through ALSA's pulse plugin
(libasound2-plugins), which the ALSA config written here makes the default device, plus one
named device, `medtalk_vmic`, bound to the monitor of the sink `vmic`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

VMIC_DEVICE = "medtalk_vmic"  # the ALSA (PortAudio) device recording the monitor of sink "vmic"

_ASOUNDRC = f"""pcm.!default {{ type pulse }}
ctl.!default {{ type pulse }}
pcm.{VMIC_DEVICE} {{
  type pulse
  device "vmic.monitor"
  hint {{ show on description "MEDTalk test microphone (monitor of the null sink vmic)" }}
}}
"""


class PulseUnavailable(RuntimeError):
    """PulseAudio is not installed or would not start here (the reason is the message)."""


class PulseServer:
    """`start()` runs `pulseaudio` on a private socket; `close()` stops it."""

    def __init__(self, root: Path, realtime: bool = False) -> None:
        self.root = Path(root)
        self.realtime = realtime  # ask for a high nice level and real-time scheduling, as a desktop's server has
        runtime = self.root / "run"
        config = self.root / "config"
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), PULSE_RUNTIME_PATH=str(runtime / "pulse"),
                        XDG_CONFIG_HOME=str(config), PULSE_SERVER=f"unix:{runtime / 'pulse' / 'native'}")
        self.proc: subprocess.Popen | None = None
        self.log = self.root / "pulseaudio.log"

    def start(self, timeout_s: float = 10.0) -> "PulseServer":
        for tool in ("pulseaudio", "pactl", "paplay"):
            if shutil.which(tool) is None:
                raise PulseUnavailable(f"{tool} not installed (bash .ci/install installs pulseaudio, pulseaudio-utils)")
        (self.root / "run" / "pulse").mkdir(parents=True, exist_ok=True)
        (self.root / "config" / "alsa").mkdir(parents=True, exist_ok=True)
        (self.root / "config" / "alsa" / "asoundrc").write_text(_ASOUNDRC)
        socket = self.env["PULSE_SERVER"].removeprefix("unix:")
        # -n: no default.pa, only the modules named here; never exit on idle; no pid file, so a
        # system daemon (if any) is neither found nor disturbed.
        cmd = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=false",
               "--system=false", "--log-target=stderr", "--log-level=error",
               "-L", f"module-native-protocol-unix auth-anonymous=1 socket={socket}"]
        if self.realtime:  # granted where the process may (root, or CAP_SYS_NICE); otherwise ignored
            cmd[1:1] = ["--high-priority=yes", "--realtime=yes"]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PulseUnavailable(f"pulseaudio exited with {self.proc.returncode}: {self._log_tail()}")
            if self.pactl("info", check=False).returncode == 0:
                return self
            time.sleep(0.1)
        self.close()
        raise PulseUnavailable(f"pulseaudio did not answer within {timeout_s:.0f} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines() if self.log.is_file() else []
        return lines[-1] if lines else "no log output"

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, check=check,
                              timeout=10)

    def add_microphone(self, name: str, rate: int, channels: int = 2) -> int:
        """A null sink `name` (what is played into it comes out of its monitor, `name`.monitor,
        as from a microphone) made the default source; returns its module id (unplug with it)."""
        out = self.pactl("load-module", "module-null-sink", f"sink_name={name}", f"rate={rate}",
                         f"channels={channels}").stdout
        self.pactl("set-default-source", f"{name}.monitor")
        return int(out.strip())

    def unplug(self, module: int) -> None:
        """Unload the microphone's module (one already gone is fine: tests unplug on the way out)."""
        self.pactl("unload-module", str(module), check=False)

    def play(self, sink: str, wav: Path) -> subprocess.Popen:
        """Play `wav` into `sink` (speech into the virtual microphone); low latency, so the sink
        runs in small blocks rather than its idle 2 s ones."""
        return subprocess.Popen(["paplay", f"--device={sink}", "--latency-msec=20", str(wav)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
