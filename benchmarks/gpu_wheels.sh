#!/usr/bin/env bash
# Wheels for benchmarks/gpu_check.sh on the lent GPU machine, which has no package registry but
# has torch, transformers, numpy, scipy, pyyaml, safetensors, rich, matplotlib, threadpoolctl,
# pytest, timm and regex (/work/.library/device/KINDS.md). Run it here, where pip works; it
# fills .whl/ (git-ignored), which the device call carries (carry: [".whl"]).
#   bash benchmarks/gpu_wheels.sh
# What is left out, and why (the whole call may carry 64 MiB, the repository included):
#   faster-whisper: ctranslate2 (43 MB) + av (36 MB) alone exceed what is left, so the paper
#     profile runs with transcriber none there (the daemon transcribes in its own process, off the
#     per-hop path) and the faster-whisper tests skip;
#   mediapipe (about 35 MB): the photo-guidance tests skip.
# emotion2vec needs funasr and, of funasr's own requirements, only those it imports for
# emotion2vec from a local folder (checked by blocking the rest): kaldiio, librosa, omegaconf, antlr4.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEST=.whl
mkdir -p "$DEST"
CORE="cffi==2.0.0 pycparser==3.0 soundfile==0.14.0 soxr==1.1.0 python-osc==1.10.2 sounddevice==0.5.6 pocketsphinx==5.0.4"
CLIP="open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.7.0"
EMOTION2VEC="funasr==1.4.16 kaldiio==2.18.1 librosa==0.11.0 audioread==3.1.0 omegaconf==2.3.1"
PLATFORMS=""
for p in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1 manylinux_2_24 manylinux_2_31 manylinux_2_34 manylinux_2_35; do
  PLATFORMS="$PLATFORMS --platform ${p}_x86_64"
done
# The GPU machine's python3 is CPython 3.12 on x86-64.
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $PLATFORMS \
    -d "$DEST" $CORE $CLIP $EMOTION2VEC
# antlr4's runtime (omegaconf's grammar) is published as source only: build its pure-Python wheel here.
ls "$DEST"/antlr4_python3_runtime-4.9.3-*.whl >/dev/null 2>&1 || \
    $PY -m pip wheel -q --no-deps -w "$DEST" "antlr4-python3-runtime==4.9.3"
du -ch "$DEST"/*.whl | tail -1
echo "carry .whl in the device call (docs/GPU.md)"
