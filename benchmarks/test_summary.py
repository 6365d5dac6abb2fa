"""The test part of benchmarks/gpu_check.sh: a pytest JUnit XML file -> markdown rows (totals, every
GPU test's outcome, every failure).

    python benchmarks/test_summary.py JUNIT.xml TABLE.md
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from md_table import append_rows  # noqa: E402

GPU_TESTS = ("test_cuda", "gpu")  # test_cuda.py and the gpu-marked tests, by name


def outcome(case: ET.Element) -> tuple[str, str]:
    for tag in ("failure", "error", "skipped"):
        node = case.find(tag)
        if node is not None:
            return tag, (node.get("message") or "").splitlines()[0][:160] if node.get("message") else ""
    return "passed", ""


def main() -> None:
    junit, table = Path(sys.argv[1]), sys.argv[2]
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    counts: dict[str, int] = {}
    rows = []
    for case in cases:
        state, message = outcome(case)
        counts[state] = counts.get(state, 0) + 1
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        if state in ("failure", "error") or any(k in name for k in GPU_TESTS):
            rows.append((name, state, message.replace("|", "/")))
    total = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("passed", "failure", "error", "skipped"))
    append_rows(table, "Test suite with CUDA visible (pytest)", ("test", "outcome", "message"),
                [(f"all {len(cases)} tests", total, "")] + rows)
    print(total)


if __name__ == "__main__":
    main()
