"""The guidance worker: descriptions and photos built in a child process, latest wins, and the
child's cache of recent features."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from livelink_bridge.guidance_worker import AnimatorRecipe, GuidanceWorker, _Prepare
from medtalk_core.guidance import GuidanceSpec
from udp_receivers import wait_for

FACES = Path(__file__).resolve().parent / "fixtures" / "faces"


class _Counting:
    def __init__(self) -> None:
        self.calls = 0

    def guidance(self, spec):
        import torch

        self.calls += 1
        return torch.full((4,), float(self.calls))


def _prepare() -> _Prepare:
    prepare = _Prepare.__new__(_Prepare)  # the child's object without loading a model
    prepare.animator = _Counting()
    prepare._cache = OrderedDict()
    return prepare


def test_a_description_or_photo_sent_again_comes_from_the_cache(tmp_path):
    prepare = _prepare()
    first = prepare((1, GuidanceSpec(text="a tired smile")))
    again = prepare((2, GuidanceSpec(text="a tired smile")))
    assert prepare.animator.calls == 1 and np.array_equal(first.feature, again.feature) and again.seq == 2
    photo = tmp_path / "face.jpg"
    photo.write_bytes((FACES / "london_001_smiling.jpg").read_bytes())
    prepare((3, GuidanceSpec(image=str(photo))))
    prepare((4, GuidanceSpec(image=str(photo))))
    assert prepare.animator.calls == 2
    photo.write_bytes((FACES / "pexels_scowl.jpg").read_bytes())  # another picture under the same name
    prepare((5, GuidanceSpec(image=str(photo))))
    assert prepare.animator.calls == 3


def test_the_worker_builds_in_a_child_process_and_the_newest_request_wins(tiny_checkpoint):
    from medtalk_core.inference import Animator

    animator = Animator.from_checkpoint(tiny_checkpoint, "cpu")
    results, done = [], threading.Event()

    def on_result(prepared) -> None:
        results.append(prepared)
        done.set()

    worker = GuidanceWorker(AnimatorRecipe.of(animator), on_result).start()
    try:
        for seq, text in enumerate(["a big grin", "raised brows", "a frown", "furrowed brows"], start=1):
            worker.submit(seq, GuidanceSpec(text=text))  # sent before the child is ready: all but the last wait
        assert wait_for(lambda: any(r.seq == 4 for r in results), timeout=120)
    finally:
        worker.close()
    assert [r.seq for r in results] == [4] and results[0].error is None
    assert results[0].feature.shape == (animator.guidance_dim,) and worker.replaced == 3
    expected = animator.guidance(GuidanceSpec(text="furrowed brows")).numpy()
    assert np.allclose(results[0].feature, expected, atol=1e-5)  # the same model, rebuilt in the child
