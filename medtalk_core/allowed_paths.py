"""Paths that a file or a message names, followed only into folders the user chose.

A bake sidecar, a guidance manifest or a network message is written by someone other than the
person running the command, and may name `/etc/shadow`, `../../etc/hostname` or `~/.bashrc`.
Such a path is resolved (symlinks and `..` included) and used only when it lies under one of the
allowed folders. Anything else gets the same refusal whether or not it exists, so the refusal
tells nothing about the rest of the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import MedtalkError


class PathNotAllowedError(MedtalkError):
    """A named path lies outside every allowed folder (or cannot be resolved)."""


@dataclass(frozen=True)
class AllowedFolders:
    roots: tuple[Path, ...]  # resolved folders; a named path must resolve to one of them or below

    @classmethod
    def of(cls, folders: Iterable[str | Path]) -> "AllowedFolders":
        """The folders resolved (symlinks followed), duplicates dropped, order kept."""
        return cls(tuple(dict.fromkeys(Path(f).resolve() for f in folders)))

    def resolve(self, text: str, base: Path | None = None, what: str = "path") -> Path:
        """`text` as written in a file (relative to `base`, that file's folder; else to the current
        folder) -> its real path when that lies under an allowed folder; else PathNotAllowedError
        "<what> outside the allowed folders: <text>". `~` is not expanded: a path starting with it
        names a home folder, which a file does not get to reach, and is refused the same way."""
        refused = PathNotAllowedError(f"{what} outside the allowed folders: {text}")
        if text.startswith("~"):
            raise refused
        path = Path(text)
        if base is not None:
            path = base / path  # an absolute `text` stays itself
        try:
            real = path.resolve()  # follows symlinks, folds `..`; a missing file resolves too
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
            raise refused from None
        if not any(real.is_relative_to(root) for root in self.roots):
            raise refused
        return real
