"""What the benchmarks share about devices: --device / --fp16 for a checkpoint's pretrained
backbone slots, a device's printable name, and peak GPU memory."""

from __future__ import annotations

from pathlib import Path

import torch

BUILT_IN = ("logmel", "prosody", "pocketsphinx", "hashed", "lexicon", "none")  # numpy / CPU-only backbones


def backbone_overrides(checkpoint: str | Path | None, device: str | None, fp16: bool):
    """`device` and float16 for the checkpoint's pretrained backbone slots (built-in ones run on
    the CPU and take neither). None = the shipped model the daemon loads."""
    from medtalk_core import checkpoint as ckpt
    from medtalk_core.backbones.overrides import BackboneOverrides, SlotOverride
    from medtalk_core.inference import DEFAULT_MODEL_DIR, LIVE_MODEL_DIR

    shipped = LIVE_MODEL_DIR if (LIVE_MODEL_DIR / ckpt.CONFIG_NAME).is_file() else DEFAULT_MODEL_DIR  # as load_animator
    stored = ckpt.read_config(checkpoint or shipped)["backbones"]
    slots = {kind: SlotOverride(device=device, dtype="float16" if fp16 else None)
             for kind, spec in stored.items() if spec["name"] not in BUILT_IN}
    return BackboneOverrides(**slots)


def device_name(device: torch.device) -> str:
    """"cpu" or "cuda:0 (NVIDIA H200)"."""
    if device.type != "cuda":
        return str(device)
    return f"{device} ({torch.cuda.get_device_name(device)})"


def peak_gpu_mb() -> float | None:
    """Peak memory torch allocated on the current CUDA device so far (None without CUDA)."""
    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return torch.cuda.max_memory_allocated() / 2**20
