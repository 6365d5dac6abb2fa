"""The control panel in a real browser: headless Chromium (Debian's, driven by selenium) against a
real `medtalk run --panel` streaming the example speech. The face canvas changes while speech
plays; a click, a key, a description and a photo change the daemon's guidance; a wrong token, a
foreign origin and one page too many are refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from livelink_bridge.commands.send import request_status
from test_daemon import REPO, _free_port
from udp_receivers import OscCollector, wait_for

FACES = REPO / "tests" / "fixtures" / "faces"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
_WAIT_S = 90


def browser():
    """Headless Chromium from the system (nothing is downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,800"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


@pytest.fixture(scope="module")
def panel_daemon(tmp_path_factory):
    """`medtalk run --panel` on the example speech, looping: (the page's URL, the control port)."""
    if not (CHROMIUM and DRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver (bash .ci/install test installs them)")
    pytest.importorskip("selenium")
    tmp = tmp_path_factory.mktemp("panel")
    cfg = tmp / "run.yaml"
    cfg.write_text("model:\n  transcribe: false\n")
    osc, control, panel = OscCollector(), _free_port(), _free_port()
    log = tmp / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "livelink_bridge.cli", "run", "--config", str(cfg),
                                 "--source", "example", "--loop", "--osc", f"127.0.0.1:{osc.port}",
                                 "--control", f"127.0.0.1:{control}", "--panel", f"127.0.0.1:{panel}"],
                                cwd=REPO, env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        found = wait_for(lambda: re.search(r"panel: (http://\S+)", log.read_text()) and len(osc.frames()) > 60,
                         timeout=_WAIT_S)
        assert found, log.read_text()
        url = re.search(r"panel: (http://\S+)", log.read_text()).group(1)
        yield url, control
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        osc.close()
    text = log.read_text()
    assert proc.returncode == 0 and "Traceback" not in text, text


def _guidance(control: int) -> str:
    return request_status("127.0.0.1", control, 5.0)["guidance"]


def test_the_page_shows_the_moving_face_and_its_controls_drive_the_daemon(panel_daemon):
    from selenium.webdriver.common.by import By

    url, control = panel_daemon
    driver = browser()
    try:
        opened = time.monotonic()
        driver.get(url)
        assert wait_for(lambda: driver.find_element(By.ID, "connection").text == "live", timeout=10)
        assert wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#emotions button"), timeout=10)
        print(f"page live with its controls {time.monotonic() - opened:.2f} s after opening")
        shots = set()
        for _ in range(12):  # the face is drawn from the frames the daemon sends: it moves with the speech
            shots.add(driver.execute_script("return document.getElementById('face').toDataURL()"))
            time.sleep(0.15)
        assert len(shots) > 3
        assert wait_for(lambda: driver.find_element(By.ID, "s-fps").text not in ("-", ""), timeout=5)

        clicked = time.monotonic()
        driver.find_element(By.CSS_SELECTOR, "#emotions button[data-label='happy']").click()
        assert wait_for(lambda: _guidance(control) == "happy", timeout=5)
        print(f"click to the daemon's status: {1000 * (time.monotonic() - clicked):.0f} ms")
        driver.find_element(By.TAG_NAME, "body").send_keys("6")  # the hotkeys: 6 = sad
        assert wait_for(lambda: _guidance(control) == "sad", timeout=5)

        driver.find_element(By.ID, "head-eyes").click()  # the head and eyes switch
        assert wait_for(lambda: request_status("127.0.0.1", control, 5.0)["head_eyes"] is False, timeout=5)
        assert wait_for(lambda: driver.find_element(By.ID, "head-eyes").get_attribute("aria-pressed") == "false")

        box = driver.find_element(By.ID, "description")
        box.send_keys("a tired, reluctant smile")
        driver.find_element(By.CSS_SELECTOR, "#describe button").click()
        assert wait_for(lambda: _guidance(control) == "text: a tired, reluctant smile", timeout=30)

        driver.find_element(By.ID, "photo").send_keys(str(FACES / "london_001_smiling.jpg"))
        assert wait_for(lambda: _guidance(control).startswith("image: photo-"), timeout=30)
        assert wait_for(lambda: "image applied" in driver.find_element(By.ID, "message").text, timeout=5)

        driver.find_element(By.ID, "photo").send_keys(str(REPO / "README.md"))  # not a picture
        assert wait_for(lambda: "is not an image" in driver.find_element(By.ID, "message").text, timeout=5)
        assert _guidance(control).startswith("image: photo-")  # unchanged
    finally:
        driver.quit()


def test_a_wrong_token_a_foreign_origin_and_a_page_too_many_are_refused(panel_daemon):
    from selenium.webdriver.common.by import By

    url, _ = panel_daemon
    driver = browser()
    try:
        driver.get(re.sub(r"token=[^&]+", "token=guess", url))
        assert wait_for(lambda: "refused" in driver.find_element(By.ID, "connection").text, timeout=10)
        assert not driver.find_elements(By.CSS_SELECTOR, "#emotions button")
    finally:
        driver.quit()
    base, token = url.split("/?token=")
    ws_url = base.replace("http://", "ws://") + f"/ws?token={token}"
    with pytest.raises(InvalidStatus) as foreign:
        connect(ws_url, origin="http://evil.example", open_timeout=5).__enter__()
    assert foreign.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        connect(ws_url.replace(token, "guess"), open_timeout=5).__enter__()
    with connect(ws_url, origin=base, open_timeout=5) as page:  # the panel's own origin
        hello = json.loads(page.recv(timeout=5))
        assert hello["type"] == "hello" and hello["emotions"][3] == "happy"
        page.send(json.dumps({"control": "/medtalk/volume", "args": [1]}))
        replies = [json.loads(page.recv(timeout=5)) for _ in range(6)]
        assert {"type": "error", "error": "unknown address /medtalk/volume"} in replies


def test_a_slow_page_gets_the_newest_face_never_a_queue():
    import threading

    from livelink_bridge.panel import _Page

    class SlowConnection:
        """A browser that takes its time: each send waits until the test lets it go."""

        def __init__(self) -> None:
            self.sent: list[str] = []
            self.go = threading.Event()

        def send(self, payload: str) -> None:
            self.go.wait(5)
            self.sent.append(payload)

    connection = SlowConnection()
    page = _Page(connection)
    page.sender.start()
    try:
        page.post("face", "face 0")
        assert wait_for(lambda: not page._slots)  # taken: the sender is inside send()
        for n in range(1, 100):  # the publisher goes on at its own pace
            page.post("face", f"face {n}")
        assert len(page._slots) == 1 and page.dropped == 98
        connection.go.set()
        assert wait_for(lambda: connection.sent == ["face 0", "face 99"])
    finally:
        connection.go.set()
        page.sender.stop()


def test_library_errors_about_a_client_are_one_warning_line(caplog):
    import logging

    from livelink_bridge.quiet_log import library_logger

    log = library_logger("livelink_bridge.test_panel.websockets")
    with caplog.at_level(logging.DEBUG):
        try:
            raise TimeoutError("timed out while closing connection")
        except TimeoutError:
            log.error("keepalive ping failed", exc_info=True)
    (record,) = caplog.records
    assert record.levelname == "WARNING" and record.exc_info is None and "Traceback" not in caplog.text
    assert record.getMessage() == "keepalive ping failed: TimeoutError: timed out while closing connection"
