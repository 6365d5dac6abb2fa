"""soxr ("HQ", librosa's default, what the release loads audio with) against scipy's resample_poly
(our default): quality against an exact reference, and speed.

The test signal is a sum of tones with random phases, so the ideal 16 kHz signal is known in
closed form: the in-band tones (80 Hz to 7 kHz) evaluated at the 16 kHz sample times; tones above
8 kHz must vanish. Errors are in dB relative to the in-band signal's rms, over the middle of the
clip (edges excluded). A float64 libsoxr "VHQ" run is printed as a third row to show how far the
two are from the best a practical resampler does. Speed: seconds of audio per second of compute
for 10 s of audio, median of --repeats runs (both run on one thread).

    python benchmarks/resamplers.py [--rates 48000 44100 22050] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from medtalk_core.audio import SAMPLE_RATE, resample

IN_BAND = (80.0, 7000.0)  # speech band kept by every 16 kHz model
OUT_BAND = (8500.0, 20000.0)  # must be removed (aliases into the band otherwise)


def tones(rate: int, seconds: float, freqs: np.ndarray, phases: np.ndarray) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]).sum(axis=0) / len(freqs))


def signal(rate: int, seconds: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(input at `rate` float32, exact in-band reference at 16 kHz float64)."""
    rng = np.random.default_rng(seed)
    inside = rng.uniform(*IN_BAND, 24)
    outside = rng.uniform(OUT_BAND[0], min(OUT_BAND[1], 0.45 * rate), 8) if rate > 2 * OUT_BAND[0] else np.zeros(0)
    p_in, p_out = rng.uniform(0, 2 * np.pi, inside.size), rng.uniform(0, 2 * np.pi, outside.size)
    x = 0.5 * tones(rate, seconds, inside, p_in)
    if outside.size:
        x = x + 0.5 * tones(rate, seconds, outside, p_out)
    return x.astype(np.float32), 0.5 * tones(SAMPLE_RATE, seconds, inside, p_in)


def error_db(y: np.ndarray, ref: np.ndarray) -> float:
    edge = SAMPLE_RATE // 10  # filter start-up at both ends is not what we compare
    n = min(len(y), len(ref))
    e = y[edge:n - edge].astype(np.float64) - ref[edge:n - edge]
    return 20 * np.log10(np.sqrt(np.mean(e ** 2)) / np.sqrt(np.mean(ref[edge:n - edge] ** 2)))


def speed(fn, audio_s: float, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return audio_s / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[48000, 44100, 22050])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    import soxr

    print(f"{'rate':>6} {'resampler':<10} {'error vs exact (dB)':>20} {'vs poly - soxr (dB)':>20} {'x real time':>12}")
    for rate in args.rates:
        x, ref = signal(rate, args.seconds)
        poly, sox = resample(x, rate, method="poly"), resample(x, rate, method="soxr")
        vhq = soxr.resample(x.astype(np.float64), rate, SAMPLE_RATE, quality="VHQ")
        diff = error_db(poly, sox.astype(np.float64))  # how far apart the two are, relative to the signal
        rows = [("poly", poly, lambda: resample(x, rate, method="poly")),
                ("soxr", sox, lambda: resample(x, rate, method="soxr")),
                ("soxr VHQ", vhq, lambda: soxr.resample(x.astype(np.float64), rate, SAMPLE_RATE, quality="VHQ"))]
        for name, y, fn in rows:
            print(f"{rate:>6} {name:<10} {error_db(y, ref):>20.1f} {diff if name == 'poly' else float('nan'):>20.1f} "
                  f"{speed(fn, args.seconds, args.repeats):>12.0f}")


if __name__ == "__main__":
    main()
