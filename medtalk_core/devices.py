"""Which torch device a model runs on: one rule for the animator, training and every backbone.

None means CUDA when present, else the CPU. Asking for CUDA on a machine without it is a user
mistake (a config or flag), reported in one line naming the fix, never torch's own traceback.
"""

from __future__ import annotations

import torch

from .errors import MedtalkError


class DeviceError(MedtalkError):
    """A requested torch device does not exist on this machine."""


def resolve_device(device: str | torch.device | None) -> torch.device:
    """None -> CUDA when available, else CPU; "cuda" / "cuda:N" must exist here."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(f"unknown torch device {device!r} ({exc}); use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {str(device)!r} requested but CUDA is not available on this machine; "
                              "use device cpu (or leave it unset: CUDA when present, else CPU)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {str(device)!r} requested but this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s)")
    return dev
