"""Append benchmark rows to a markdown results file, one table per section (benchmarks/gpu_check.sh
collects every part's rows in one file this way)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence


def append_rows(path: str | Path, section: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Rows under `## section`; the heading and the table header are written the first time.
    Sections are written one after the other, so a section's rows stay together."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    lines = []
    if f"## {section}\n" not in text:
        lines += ["", f"## {section}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
