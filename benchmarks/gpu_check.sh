#!/usr/bin/env bash
# The CUDA path checked and measured in one run (issue 21, docs/GPU.md): (a) the whole test suite
# with CUDA visible, gpu-marked tests included; (b) live latency of the shipped live model and of
# the paper profile (random full-size backbones) in fp32 and fp16 over a few hops / lookaheads;
# (c) bake throughput and peak GPU memory, default model (batched) and paper profile; (d) one
# epoch of each training stage, CUDA against the CPU. Every part appends its rows to one markdown
# table, $OUT/gpu_results.md (OUT defaults to ./gpu_out), printed at the end; the parts' output
# goes to $OUT/gpu_check.log. Each part has a time cap and the whole run a budget (BUDGET_S,
# default 540 s: the device tool's 10-minute command limit with room to spare); a part that fails,
# times out or finds the budget spent writes a row saying so and the run goes on.
#   bash benchmarks/gpu_wheels.sh            # here, once: the wheels the GPU machine lacks, into .whl/
#   bash benchmarks/gpu_check.sh             # there (device run, carry [".whl"]): CUDA, full sizes
#   nice bash benchmarks/gpu_check.sh --dry-run   # anywhere: DEVICE=cpu, tiny sizes, seconds-long parts
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
OUT=${OUT:-$REPO/gpu_out}
mkdir -p "$OUT"
TABLE=$OUT/gpu_results.md
LOG=$OUT/gpu_check.log
PY=${PYTHON:-python3}
BUDGET_S=${BUDGET_S:-540}
export PYTHONUNBUFFERED=1
SCRATCH=$(mktemp -d /tmp/medtalk_gpu_check.XXXXXX)
NOTES=$SCRATCH/notes  # what did not finish, printed under the tables
trap 'rm -rf "$SCRATCH"' EXIT
: >"$TABLE"
: >"$LOG"

if [ "$DRY" = 1 ]; then  # every step of the real run, at sizes a shared 2-core CPU does in minutes
  DEVICE=${DEVICE:-cpu}; SIZE=tiny; LAT_S=2; HOPS="33.3:33.3,66.7:66.7"; CLIPS=6; PAPER_CLIPS=2; LONG_MIN=0.2
  PAPER_LONG_MIN=0; SENTENCES=2; CLIP=tiny; TRAIN_THREADS=2; CPU_THREADS=2
  TESTS=${TESTS:-"tests/test_devices.py tests/test_cuda.py"}
else
  DEVICE=${DEVICE:-cuda}; SIZE=full; LAT_S=10; HOPS="33.3:33.3,66.7:66.7,100:100"; CLIPS=100; PAPER_CLIPS=40
  LONG_MIN=10; PAPER_LONG_MIN=2; SENTENCES=12; CLIP=full; TRAIN_THREADS=2; CPU_THREADS=$(nproc)
  TESTS=${TESTS:-tests}
fi

# The GPU machine has no registry: install the carried wheels (benchmarks/gpu_wheels.sh) beside its
# own torch and transformers, and run the package from this checkout.
if [ "$DRY" = 0 ] && ls .whl/*.whl >/dev/null 2>&1; then  # (a dry run uses this machine's own install)
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SCRATCH/site" .whl/*.whl \
      >>"$LOG" 2>&1 || { echo "installing .whl/ failed (see $LOG)"; tail -20 "$LOG"; exit 1; }
  export PYTHONPATH=$REPO:$SCRATCH/site
else
  export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
fi

START=$(date +%s)
# part NAME CAP_S COMMAND...: run with the smaller of its cap and what is left of the budget.
part() {
  local name=$1 cap=$2
  shift 2
  local left=$((BUDGET_S - ($(date +%s) - START)))
  local limit=$((cap < left ? cap : left))
  if [ "$limit" -lt 10 ]; then
    echo "- $name: not run, the $BUDGET_S s budget was spent" >>"$NOTES"
    return
  fi
  echo "=== $name (limit ${limit} s)" | tee -a "$LOG"
  local t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  local took=$(($(date +%s) - t0))
  echo "=== $name: rc $rc in ${took} s" | tee -a "$LOG"
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "- $name: stopped at its $limit s limit (its rows, if any, are what it finished)" >>"$NOTES"
  elif [ "$rc" != 0 ]; then
    echo "- $name: failed with exit code $rc after $took s (see gpu_check.log)" >>"$NOTES"
  fi
}

machine() {
  $PY - "$TABLE" "$DEVICE" "$DRY" <<'PY'
import os, platform, sys
sys.path.insert(0, "benchmarks")
import torch
from md_table import append_rows
table, device, dry = sys.argv[1:]
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
append_rows(table, "Machine", ("what", "value"), [
    ("run", "dry run (tiny sizes, seconds-long parts)" if dry == "1" else "full run"),
    ("device asked", device), ("GPU", gpu), ("torch", f"{torch.__version__} (CUDA {torch.version.cuda})"),
    ("python", platform.python_version()), ("CPU cores", os.cpu_count())])
PY
}

L="--table $TABLE"
machine
part "tests" 150 $PY -m pytest -q -p no:cacheprovider -rs --junitxml="$SCRATCH/junit.xml" $TESTS
[ -f "$SCRATCH/junit.xml" ] && $PY benchmarks/test_summary.py "$SCRATCH/junit.xml" "$TABLE" >>"$LOG" 2>&1
part "paper checkpoint (random $SIZE backbones)" 90 $PY benchmarks/paper_checkpoint.py --out "$SCRATCH/paper" --size "$SIZE"
PAPER=$SCRATCH/paper/checkpoint
WORDS="the quick brown fox jumps over the lazy dog"  # the text encoder on every hop: the worst case
part "latency, live model" 50 $PY benchmarks/latency.py --duration "$LAT_S" --device "$DEVICE" $L --label "live model"
part "latency, paper fp32" 70 $PY benchmarks/latency.py --duration "$LAT_S" --device "$DEVICE" --checkpoint "$PAPER" \
    --transcript "$WORDS" $L --label "paper ($SIZE), words every hop"
part "latency, paper fp16" 100 $PY benchmarks/latency.py --duration "$LAT_S" --device "$DEVICE" --checkpoint "$PAPER" \
    --fp16 --hops "$HOPS" --transcript "$WORDS" $L --label "paper ($SIZE), words every hop"
part "bake, default model" 70 $PY benchmarks/bake.py --device "$DEVICE" --clips "$CLIPS" --transcribed-clips 0 \
    --long-minutes "$LONG_MIN" $L --label "default model (batched)"
part "bake, paper fp16" 60 $PY benchmarks/bake.py --device "$DEVICE" --checkpoint "$PAPER" --fp16 --clips "$PAPER_CLIPS" \
    --transcribed-clips 0 --long-minutes "$PAPER_LONG_MIN" $L --label "paper ($SIZE)"
part "training, $DEVICE" 90 $PY benchmarks/train_speed.py --device "$DEVICE" --sentences "$SENTENCES" --clip "$CLIP" \
    --threads "$TRAIN_THREADS" $L
[ "$DEVICE" != cpu ] && part "training, cpu" 75 $PY benchmarks/train_speed.py --device cpu --sentences "$SENTENCES" \
    --clip "$CLIP" --threads "$CPU_THREADS" $L
{ printf '\n## Notes\n\n'; cat "$NOTES" 2>/dev/null; echo "- whole run: $(($(date +%s) - START)) s"; } >>"$TABLE"
cat "$TABLE"
