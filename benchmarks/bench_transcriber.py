"""Word recall and speed of the built-in pocketsphinx transcriber on espeak-ng speech.

    python3 benchmarks/bench_transcriber.py [--sentences 20] [--rate 150]

Speaks the first N sentences of the synthetic corpus with espeak-ng (en-us), transcribes them,
and prints per-sentence recall (fraction of the spoken words found in the transcript) and the
real-time factor. espeak-ng's voice is far from the recogniser's training speech, so this is a
lower bound for human speech.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from medtalk_core.audio import SAMPLE_RATE, load_audio
from medtalk_core.backbones import BackboneSpec, build_backbone

WORD = re.compile(r"[a-z']+")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=20, help="how many corpus sentences to speak")
    parser.add_argument("--rate", type=int, default=150, help="espeak-ng words per minute")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    corpus = resources.files("medtalk_core").joinpath("assets/sentences.txt").read_text(encoding="utf-8")
    sentences = [s.strip() for s in corpus.splitlines() if s.strip()][: args.sentences]
    asr = build_backbone("transcriber", BackboneSpec("pocketsphinx"))
    hits = total = 0
    audio_s = compute_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, sentence in enumerate(sentences):
            wav = Path(tmp) / f"{i}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(args.rate), "-w", str(wav), sentence], check=True,
                           capture_output=True)
            audio = load_audio(wav)
            start = time.perf_counter()
            text = asr.transcribe(audio).text
            compute_s += time.perf_counter() - start
            audio_s += len(audio) / SAMPLE_RATE
            spoken = WORD.findall(sentence.lower())
            heard = set(WORD.findall(text))
            found = sum(w in heard for w in spoken)
            hits, total = hits + found, total + len(spoken)
            print(f"{found:2d}/{len(spoken):2d}  {sentence}\n       -> {text}")
    print(f"\nword recall {hits}/{total} = {hits / max(total, 1):.2f}; "
          f"{audio_s:.1f} s of audio in {compute_s:.1f} s ({audio_s / compute_s:.1f}x real time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
