"""Guidance features built off the real-time path: descriptions and photos become guidance
features in a child process, latest wins.

A description costs a fit against the model (about 0.07 s), a photo a face-landmark graph and
the same fit, the first of each a second or more to load: all of it is Python-heavy work that,
on the model's thread, held the face still, and on another thread of the daemon slowed every
model run through the GIL (`child_process`). So a copy of the animator, rebuilt from the same
checkpoint in a child process, prepares them; it loads and warms its vocabularies, landmark
graph and fitted inverse at start, so even the first request is quick.

At most one request is in flight and one waits: a newer request replaces the waiting one, so a
burst of any size costs at most two preparations. Every request carries the sequence number its
state gave it; a result is handed back with that number, and the state keeps only the newest.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from medtalk_core.errors import MedtalkError
from medtalk_core.guidance import GuidanceSpec

from livelink_bridge.child_process import ChildProcess, lower_priority, serve_requests
from livelink_bridge.loop_thread import LoopThread

logger = logging.getLogger(__name__)

_POLL_S = 0.1  # how often the collector looks for the daemon stopping
CACHE_SIZE = 64  # features of recent descriptions and photos kept in the child
WARMUP_TEXT = "a slight smile with raised brows"  # a facial action: builds the pose fit's inverse


@dataclass(frozen=True)
class AnimatorRecipe:
    """What rebuilds an Animator in another process: the same checkpoint, backbones and mode."""

    checkpoint: str
    device: str
    backbones: Any  # medtalk_core.backbones.BackboneConfig, with the transcriber left out
    mode: str

    @classmethod
    def of(cls, animator: Any) -> "AnimatorRecipe":
        from medtalk_core.backbones import BackboneSpec

        loaded = animator.checkpoint
        if getattr(loaded, "path", None) is None:
            raise MedtalkError("descriptions and photos need an animator loaded from a checkpoint folder")
        backbones = replace(loaded.backbones, transcriber=BackboneSpec("none"))  # not needed there
        return cls(str(loaded.path), str(animator.device), backbones, animator.mode)

    def build(self) -> Any:
        from medtalk_core.inference import Animator

        return Animator.from_checkpoint(self.checkpoint, self.device, backbones=self.backbones, mode=self.mode)


@dataclass(frozen=True)
class Prepared:
    """A finished request: the feature, or why there is none."""

    seq: int
    spec: GuidanceSpec
    feature: np.ndarray | None  # (D,) float32
    error: str | None
    seconds: float  # time the child spent on it


class _Prepare:
    """In the child: the animator, warmed, turning (seq, spec) into a Prepared. A feature is a
    pure function of the request (a photo: of its file's contents), so the latest `CACHE_SIZE`
    are kept: an operator's presets, sent again, apply at once."""

    def __init__(self, recipe: AnimatorRecipe) -> None:
        started = time.perf_counter()
        self.animator = recipe.build()
        self._warm()
        self._cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.ready_s = time.perf_counter() - started

    def _warm(self) -> None:
        a = self.animator
        if a.backbones.guidance is None:
            return
        for spec in (GuidanceSpec(text=WARMUP_TEXT), GuidanceSpec(image=np.zeros((64, 64, 3), np.uint8))):
            try:
                a.guidance(spec)
            except MedtalkError:  # a blank picture has no face: the graph is loaded all the same
                pass

    def __call__(self, item: tuple[int, GuidanceSpec]) -> Prepared:
        seq, spec = item
        started = time.perf_counter()
        try:
            key = _cache_key(spec)
            feature = self._cache.pop(key, None)
            if feature is None:
                feature = self.animator.guidance(spec).detach().float().cpu().numpy()
            self._cache[key] = feature
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            error = None
        except MedtalkError as exc:
            feature, error = None, str(exc)
        except Exception as exc:  # a bug costs this request, never the worker or the stream
            feature, error = None, f"internal error: {type(exc).__name__}: {exc}"
        return Prepared(seq, spec, feature, error, time.perf_counter() - started)


def _cache_key(spec: GuidanceSpec) -> tuple:
    """What a feature depends on: the words, or the picture file as it is now (path, size, time)."""
    if spec.text is not None:
        return ("text", spec.text, spec.strength)
    if not isinstance(spec.image, (str, Path)):  # an array: not worth hashing, never served from the cache
        return ("array", id(spec.image), time.monotonic())
    try:
        stat = os.stat(spec.image)
    except OSError:  # gone: built (and refused) as usual, never served from the cache
        return ("image", str(spec.image), time.monotonic())
    return ("image", str(spec.image), stat.st_size, stat.st_mtime_ns, spec.strength)


def _serve(recipe: AnimatorRecipe, inbox: Any, outbox: Any) -> None:
    lower_priority("mt-guidance")
    try:
        prepare = _Prepare(recipe)
    except Exception as exc:  # a model that cannot load here fails the requests, not the daemon
        outbox.put(("failed", f"{type(exc).__name__}: {exc}"))
        return
    outbox.put(("ready", prepare.ready_s))
    serve_requests(prepare, inbox, outbox)


class GuidanceWorker:
    """`submit(seq, spec)` from any thread; `on_result(Prepared)` is called on the collector
    thread. `start()` spawns the child (it loads in the background); `close()` ends it."""

    def __init__(self, recipe: AnimatorRecipe, on_result: Callable[[Prepared], None]) -> None:
        self.recipe = recipe
        self.on_result = on_result
        self._lock = threading.Lock()
        self._waiting: tuple[int, GuidanceSpec] | None = None  # the newest request not yet sent
        self._in_flight = False
        self._child: ChildProcess | None = None
        self._collector = LoopThread("medtalk-guidance", self._collect)
        self.ready = threading.Event()
        self.failure: str | None = None  # why the child could not start, once it has said so
        self.replaced = 0  # requests superseded before they were sent

    def start(self) -> "GuidanceWorker":
        self._child = ChildProcess(_serve, (self.recipe,), "medtalk-guidance", max_pending=2).start()
        self._collector.start()
        return self

    def submit(self, seq: int, spec: GuidanceSpec) -> None:
        if self.failure is not None:
            raise MedtalkError(f"descriptions and photos are unavailable: {self.failure}")
        with self._lock:
            self.replaced += self._waiting is not None
            self._waiting = (seq, _portable(spec))
            self._send_locked()

    def _send_locked(self) -> None:
        if self._in_flight or self._waiting is None or not self.ready.is_set():
            return
        if self._child.put(self._waiting):
            self._waiting, self._in_flight = None, True

    def _collect(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                item = self._child.get(_POLL_S)
            except (queue.Empty, OSError, ValueError, EOFError):
                if self.failure is None and not self._child.alive:
                    self._status("failed", f"its process ended (exit code {self._child.process.exitcode})")
                continue
            if isinstance(item, tuple):
                self._status(*item)
                continue
            with self._lock:
                self._in_flight = False
                self._send_locked()
            logger.debug("guidance: request %d built in %.0f ms", item.seq, 1000 * item.seconds)
            self.on_result(item)

    def _status(self, what: str, detail: Any) -> None:
        if what == "ready":
            logger.info("guidance: descriptions and photos ready (%.1f s to load and warm)", detail)
            with self._lock:
                self.ready.set()
                self._send_locked()
        else:
            self.failure = str(detail)
            logger.warning("guidance: descriptions and photos unavailable: %s", detail)

    def close(self) -> None:
        self._collector.stop()
        if self._child is not None:
            self._child.close()
            self._child = None


def _portable(spec: GuidanceSpec) -> GuidanceSpec:
    """Paths travel as strings (a spawned child unpickles them on its own)."""
    return replace(spec, image=str(spec.image)) if isinstance(spec.image, Path) else spec
