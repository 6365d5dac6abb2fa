"""`medtalk run --panel`: a control panel in the browser (docs/LIVE.md, "The panel").

One `websockets` server serves the page's three files (bundled under `assets/panel/`, no CDN)
over plain HTTP and the page's WebSocket on `/ws`. The page gets:
- the face: the geometry `medtalk preview` draws from (`medtalk_core.face_drawing`), computed
  once per published frame for all pages, at most `fps` a second;
- the status: the stream's health and the current guidance, a few times a second;
and sends the control messages of `control.messages` as JSON (the same checks as every other
control path) and photos as binary messages (size- and pixel-capped, kept in a private temporary
folder, applied as image guidance).

It costs the stream nothing: the daemon's sender only hands over a reference to the frame it
sent (`offer`); one publisher thread does the drawing maths; each page has a one-slot mailbox and
its own sending thread, so a slow page gets fewer frames (dropped, never queued) and holds up
nobody. Access: the token in the page's URL (printed at start; `access.token` when set, else a
new one each run) opens the WebSocket; a page's `Origin` must be the panel's own or allowed;
pages are capped in number, control messages in rate.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import numpy as np

from medtalk_core.allowed_paths import AllowedFolders
from medtalk_core.errors import MedtalkError
from medtalk_core.face_drawing import PALETTE, face_geometry
from medtalk_core.image_files import check_image_file
from medtalk_core.rig import EMOTIONS

from livelink_bridge.access import Access, is_loopback
from livelink_bridge.control.hotkeys import INTENSITY_STEP
from livelink_bridge.control.messages import MAX_INTENSITY, DecodeRules, StatusQuery, decode_json, image_request
from livelink_bridge.control.server import TokenBucket
from livelink_bridge.control.state import GuidanceState
from livelink_bridge.frames import HeadEyesHold, RigFrame
from livelink_bridge.loop_thread import LoopThread
from livelink_bridge.quiet_log import QuietLog, library_logger
from livelink_bridge.sources.listeners import peer_address

logger = logging.getLogger(__name__)

STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/panel.js": ("panel.js", "text/javascript; charset=utf-8"),
          "/panel.css": ("panel.css", "text/css; charset=utf-8")}
# The page loads only its own files and talks only to its own server.
_CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'"
_KEPT_UPLOADS = 4  # photos kept in the temporary folder (the newest applies; older ones may be building)


@dataclass(frozen=True)
class PanelConfig:
    enabled: bool = False  # `medtalk run --panel [HOST:PORT]`
    host: str = "127.0.0.1"
    port: int = 8766
    fps: float = 30.0  # face frames to each page at most; a slow page gets fewer
    face_size: int = 200  # pixels of the drawn face
    status_hz: float = 4.0  # status updates to each page
    max_pages: int = 8  # pages (tabs) connected at once; one more is refused
    max_upload_bytes: int = 8 * 1024 * 1024  # one photo
    max_messages_per_s: float = 20.0  # control messages from one page; past it, the page waits


class _Page:
    """One connected page: the newest face and status waiting to go (one slot each, latest wins),
    and the thread that sends them."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._slots: dict[str, str] = {}
        self._ready = threading.Condition()
        self.sent = 0
        self.dropped = 0  # faces replaced before they could be sent (a slow page)
        self.sender = LoopThread("medtalk-panel-page", self._send_loop)

    def post(self, kind: str, payload: str) -> None:
        with self._ready:
            self.dropped += kind == "face" and kind in self._slots
            self._slots[kind] = payload
            self._ready.notify()

    def _send_loop(self, stopping: threading.Event) -> None:
        from websockets.exceptions import ConnectionClosed

        while not stopping.is_set():
            with self._ready:
                if not self._slots:
                    self._ready.wait(0.1)
                slots, self._slots = self._slots, {}
            try:
                for payload in slots.values():
                    self.connection.send(payload)
                    self.sent += 1
            except ConnectionClosed:
                return


class PanelServer:
    """`start()` serves the page and its WebSocket; `offer(frame)` (the daemon's sender thread)
    hands over each frame sent; `close()` ends everything. `url` is the address to open."""

    def __init__(self, state: GuidanceState, cfg: PanelConfig, access: Access, rules: DecodeRules,
                 status: Callable[[], dict[str, Any]]) -> None:
        self.state = state
        self.cfg = cfg
        self.access = access
        self.rules = rules
        self._status = status
        self.token = access.token or secrets.token_urlsafe(18)  # the page's key: in its URL
        self.host, self.port = cfg.host, cfg.port
        self.pages: set[_Page] = set()
        self.refused = 0
        self.log = QuietLog(logger, "panel: refusals", per_s=2)
        self._lock = threading.Lock()
        self._frame: RigFrame | None = None  # the newest frame sent (set by offer, a reference only)
        self._held = HeadEyesHold()  # the head of the newest frame that had one (stand-ins have none)
        self._frame_seq = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._publisher = LoopThread("medtalk-panel", self._publish)
        self._uploads = Path(tempfile.mkdtemp(prefix="medtalk-panel-"))  # mode 0700: this user's only
        self._upload_rules = DecodeRules(rules.max_string_bytes, AllowedFolders.of([self._uploads]))
        self._upload_count = 0
        # The facts the page needs, from their one source: labels, colours, the hotkeys' step.
        self._hello = json.dumps({"type": "hello", "emotions": EMOTIONS, "palette": PALETTE,
                                  "intensity_step": INTENSITY_STEP, "max_intensity": MAX_INTENSITY})

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

    # --- lifecycle ---
    def start(self) -> "PanelServer":
        from websockets.sync.server import serve

        try:
            self._server = serve(self._handle, self.cfg.host, self.cfg.port, compression=None,
                                 process_request=self._http, max_size=self.cfg.max_upload_bytes, max_queue=2,
                                 open_timeout=5.0, ping_interval=None,
                                 logger=library_logger("livelink_bridge.panel.websockets"))
        except OSError as exc:
            raise MedtalkError(f"cannot serve the panel on {self.cfg.host}:{self.cfg.port}: {exc}") from None
        self.host, self.port = self._server.socket.getsockname()[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="medtalk-panel-http", daemon=True)
        self._thread.start()
        self._publisher.start()
        logger.info("panel: serving on http://%s:%d (the URL to open, with its token, is printed at start)",
                    self.host, self.port)
        return self

    def close(self) -> None:
        self._publisher.stop()
        if self._server is not None:
            self._server.shutdown()
            self._thread.join()
            self._server = None
        shutil.rmtree(self._uploads, ignore_errors=True)

    # --- the daemon's sender thread ---
    def offer(self, frame: RigFrame) -> None:
        """The frame just sent; kept by reference, drawn later by the publisher (if at all)."""
        self._frame = frame
        self._frame_seq += 1

    # --- the publisher thread: one face and one status for every page ---
    def _publish(self, stopping: threading.Event) -> None:
        last_seq, next_status = -1, 0.0
        period = 1.0 / self.cfg.fps
        while not stopping.wait(period):
            with self._lock:
                pages = list(self.pages)
            if not pages:
                continue
            frame, seq = self._frame, self._frame_seq
            if frame is not None and seq != last_seq:
                last_seq = seq
                geometry = face_geometry(frame.values, self.cfg.face_size, self._held.rotations(frame))
                face = json.dumps({"type": "face", "geometry": _rounded(geometry)})
                for page in pages:
                    page.post("face", face)
            now = time.monotonic()
            if now >= next_status:
                next_status = now + 1.0 / self.cfg.status_hz
                info = dict(self._status())
                info.update(self.state.snapshot().as_dict())
                status = json.dumps({"type": "status", "status": info})
                for page in pages:
                    page.post("status", status)

    # --- the server's threads ---
    def _http(self, connection: Any, request: Any) -> Any:
        """Plain HTTP for the page's files; the WebSocket only with the token and a good origin."""
        parts = urlsplit(request.path)
        if parts.path != "/ws":
            if parts.path not in STATIC:
                return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
            if not self._host_ok(request):
                return self._refuse(connection, HTTPStatus.FORBIDDEN, "host not served")
            name, kind = STATIC[parts.path]
            return _file_response(connection, name, kind)
        given = parse_qs(parts.query).get("token", [""])[0]
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return self._refuse(connection, HTTPStatus.FORBIDDEN, "wrong or missing token")
        origins = request.headers.get_all("Origin")
        if any(origin != f"http://{request.headers.get('Host', '')}" and origin not in self.access.origins
               for origin in origins):
            return self._refuse(connection, HTTPStatus.FORBIDDEN, f"origin {origins[0][:100]} not allowed")
        with self._lock:
            if len(self.pages) >= self.cfg.max_pages:
                return self._refuse(connection, HTTPStatus.SERVICE_UNAVAILABLE,
                                    f"{self.cfg.max_pages} pages open (panel.max_pages)")
        return None

    def _host_ok(self, request: Any) -> bool:
        """A page on a loopback panel is served to loopback names only: a web page that rebinds
        its own name to 127.0.0.1 gets nothing (and has no token)."""
        if not is_loopback(self.cfg.host):
            return True
        host = urlsplit(f"//{request.headers.get('Host', '')}").hostname or ""
        return is_loopback(host)

    def _refuse(self, connection: Any, status: HTTPStatus, why: str) -> Any:
        self.refused += 1
        self.log.warn("panel: request from %s refused: %s", peer_address(connection), why)
        return connection.respond(status, f"{why}\n")

    def _handle(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        page = _Page(connection)
        page.post("hello", self._hello)  # first: what the page builds its controls and drawing from
        with self._lock:
            self.pages.add(page)
        page.sender.start()
        pace = TokenBucket(self.cfg.max_messages_per_s, max(1, int(self.cfg.max_messages_per_s)))
        logger.info("panel: page connected from %s (%d open)", peer_address(connection), len(self.pages))
        try:
            for message in connection:
                while not pace.take():
                    time.sleep(1.0 / pace.rate)
                try:
                    reply = self._upload(message) if isinstance(message, bytes) else self._control(message)
                except MedtalkError as exc:  # told to the page; nothing changes
                    reply = {"type": "error", "error": str(exc)[:300]}
                page.post("reply", json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            page.sender.stop()
            with self._lock:
                self.pages.discard(page)

    def _control(self, text: str) -> dict[str, Any]:
        request = decode_json(text, self.rules)
        if isinstance(request, StatusQuery):
            raise MedtalkError("the page receives the status without asking")
        self.state.post(request)
        return {"type": "ok", "kind": request.kind}

    def _upload(self, data: bytes) -> dict[str, Any]:
        """A photo from the page: written to the private folder, checked (format, pixels) from its
        header before anything decodes it, then applied as image guidance."""
        with self._lock:  # pages upload on their own threads
            self._upload_count += 1
            number = self._upload_count
        path = self._uploads / f"photo-{number}"
        path.write_bytes(data)
        stale = self._uploads / f"photo-{number - _KEPT_UPLOADS}"
        stale.unlink(missing_ok=True)
        try:
            check_image_file(path)
        except MedtalkError:
            path.unlink(missing_ok=True)
            raise
        self.state.post(image_request(str(path), self._upload_rules))
        return {"type": "ok", "kind": "image"}


def _rounded(geometry: dict[str, Any]) -> Any:
    """The geometry as JSON-ready lists, to 0.1 px (small messages, nothing visible lost)."""
    if isinstance(geometry, dict):
        return {key: _rounded(value) for key, value in geometry.items()}
    if isinstance(geometry, (np.ndarray, tuple, list)):
        return np.round(np.asarray(geometry, dtype=np.float64), 1).tolist()
    if isinstance(geometry, (float, np.floating)):
        return round(float(geometry), 2)
    return geometry


def _file_response(connection: Any, name: str, kind: str) -> Any:
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    body = resources.files("livelink_bridge").joinpath("assets", "panel", name).read_bytes()
    headers = Headers([("Content-Type", kind), ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
                       ("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", _CSP),
                       ("Referrer-Policy", "no-referrer")])
    return Response(HTTPStatus.OK, "OK", headers, body)
