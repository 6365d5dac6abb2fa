#!/usr/bin/env bash
# Reproduce the shipped models (medtalk_core/assets/{default,live,live_1frame}_model/) from scratch:
# synthetic seven-emotion clips from our own generator plus pseudo-labelled real speech, the
# `tiny_robust` profile (temporal encoders, level-split log-mel front end) with the built-in
# backbones, audio augmentation in ACM and FIM (configs/train/mixed.yaml). Every step is
# resumable: re-run the script after an interruption and it continues where it stopped.
#
# The real speech (all permissively licensed; none of it is committed). Download each on a machine
# with network access and point the variables at the folders:
#   LIBRISPEECH  Mini LibriSpeech train-clean-5 (openslr.org/31; CC BY 4.0): the folder holding
#                <speaker>/<chapter>/*.flac + *.trans.txt. 1,519 utterances, 28 speakers; we take
#                20 per speaker. (A public copy: github.com/zhangrui0712/Voice-Age, LibriSpeech/train-clean-5.)
#   AN4          CMU AN4 (CMU licence, any use): the folder holding etc/*.transcription and wav/.
#                1,078 utterances, about 80 speakers. (A public copy: github.com/adagioNeo/VoiceInterpreter, an4/.)
#   ARCTIC       CMU ARCTIC prompts read by one US speaker (CC0): a folder of .wav with same-named
#                .txt; we take 700. (github.com/rhasspy/dataset-voice-cathy, data/.)
# Non-commercial sets (RAVDESS, TESS, CREMA-D, ...) must never go into a shipped model.
#
#   LIBRISPEECH=... AN4=... ARCTIC=... bash benchmarks/train_default.sh
# CPU only; on an idle 2-core machine about 35 min to the three models (measured 2026-12-06:
# synthetic set 3 min, corpus alignments 6 min, feature and augmentation caching 3 min,
# cross-reconstruction 7 min, ACM + FIM 5 min per model), then the reports below take as long again.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-runs/synth}            # synthetic EmoFace-layout set (300 sentences x 7 emotions)
REAL=${REAL:-runs/real}             # pseudo-rig sets, one folder per corpus
RUNS=${RUNS:-runs/mixed}            # training runs and evaluations
CACHE=$RUNS/feature_cache           # backbone features (clean and augmented) shared by both models
MEDTALK=${MEDTALK:-medtalk}

[ -f "$DATA/manifest.csv" ] || $MEDTALK synth --out "$DATA" --sentences 300 --seed 0 --workers 2
sets=("$DATA")
corpus() {  # corpus VAR LAYOUT PREFIX NAME [LIMIT]
  local root=${!1:-}
  if [ -z "$root" ]; then echo "$1 is not set: training without the $4 corpus" >&2; return; fi
  [ -f "$REAL/$4/manifest.csv" ] || $MEDTALK synth --corpus "$root" --layout "$2" --prefix "$3" \
      --out "$REAL/$4" --workers 2 ${5:+--limit $5}
  sets+=("$REAL/$4")
}
corpus LIBRISPEECH librispeech ls_ ls 20
corpus AN4 an4 an4_ an4
corpus ARCTIC folder arctic_ arctic 700

# The default model: all four stages on every set (cross-reconstruction on the rigs, ACM and FIM
# on clean and augmented audio).
[ -f "$RUNS/default/fim/config.json" ] || $MEDTALK train --config configs/train/mixed.yaml --data "${sets[@]}" \
    --out "$RUNS/default" --cache "$CACHE" --resume --no-progress
mkdir -p medtalk_core/assets/default_model
cp "$RUNS/default/fim/model.safetensors" "$RUNS/default/fim/config.json" medtalk_core/assets/default_model/

# A streaming model: the default's cross-reconstruction stage, then ACM and FIM retrained with the
# audio paths' lookahead bounded to FRAMES frames, so that it streams as trained.
lookahead_model() {  # lookahead_model FRAMES RUN_DIR ASSET_DIR
  local init=(--init "$RUNS/default/cross_recon")  # ACM starts from it; FIM from ACM in RUN_DIR
  for stage in acm fim; do
    [ -f "$2/$stage/config.json" ] || $MEDTALK train --config configs/train/mixed.yaml --data "${sets[@]}" \
        --future-frames "$1" --stage "$stage" "${init[@]}" --out "$2" --cache "$CACHE" --resume --no-progress
    init=()
  done
  mkdir -p "medtalk_core/assets/$3"
  cp "$2/fim/model.safetensors" "$2/fim/config.json" "medtalk_core/assets/$3/"
}
# The live daemon's model: 2 frames ahead (it streams at 33 ms lookahead).
lookahead_model 2 "$RUNS/live_f2" live_model
# The low-latency profile's model (configs/low_latency.yaml names it shipped:live_1frame): 1 frame
# ahead (17 ms lookahead).
lookahead_model 1 "$RUNS/live_f1" live_1frame_model
du -h medtalk_core/assets/*_model/model.safetensors

# Reports: synthetic held-out metrics, live accuracy, and the real-speech table (held-out speakers).
$MEDTALK eval --data "$DATA" --split test --json "$RUNS/eval_test.json"
python3 benchmarks/stream_accuracy.py --data "$DATA" --split test --clips 30 \
    --checkpoint medtalk_core/assets/default_model medtalk_core/assets/live_model
if [ ${#sets[@]} -gt 1 ]; then
  python3 benchmarks/real_speech.py --data "${sets[@]:1}" --clips 60
  python3 benchmarks/real_speech.py --data "${sets[@]:1}" --clips 60 --config configs/low_latency.yaml \
      --checkpoint live=shipped:live live_1frame=shipped:live_1frame
fi
if [ -n "${ABLATIONS:-}" ]; then
  $MEDTALK eval --checkpoint "$RUNS/default/fim" --data "$DATA" --split test --ablations \
      --ablation-out "$RUNS/ablations" --epochs-scale "${ABLATION_SCALE:-0.3}" --json "$RUNS/ablations.json" --no-progress
fi
