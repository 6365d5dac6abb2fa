"""Stream a wav file to `medtalk run --source ws://127.0.0.1:8765`, as a TTS would, in real time.

    python docs/examples/stream_wav.py speech.wav [--url ws://127.0.0.1:8765] [--emotion happy] [--fast]

A daemon that asks for a token (docs/PROTOCOL.md section 6) gets it from --token or $MEDTALK_TOKEN.

The protocol (docs/PROTOCOL.md section 5): a JSON text header with the file's own rate and
channels, then binary messages of 16-bit PCM; a JSON control message may go in between. With
--fast the whole file is sent at once: the daemon paces it (its queue is bounded, so this
client's sends block until the audio is played).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import soundfile as sf
from websockets.sync.client import connect

CHUNK_S = 0.02  # 20 ms per message: a TTS engine's usual block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", help="audio file (any rate, mono or stereo)")
    parser.add_argument("--url", default="ws://127.0.0.1:8765", help="the daemon's --source address")
    parser.add_argument("--emotion", help="send this emotion label first, as a control message")
    parser.add_argument("--fast", action="store_true", help="send as fast as the daemon takes it")
    parser.add_argument("--token", default=os.environ.get("MEDTALK_TOKEN"),
                        help="the daemon's token, when it asks for one (default: $MEDTALK_TOKEN)")
    args = parser.parse_args()

    audio, rate = sf.read(args.wav, dtype="int16", always_2d=True)  # (n, channels)
    step = int(rate * CHUNK_S)
    with connect(args.url, compression=None) as ws:
        header = {"sample_rate": rate, "channels": audio.shape[1], "format": "pcm16"}
        ws.send(json.dumps({**header, "token": args.token} if args.token else header))
        if args.emotion:
            ws.send(json.dumps({"control": "/medtalk/emotion", "args": [args.emotion]}))
        start = time.monotonic()
        for k, first in enumerate(range(0, audio.shape[0], step)):
            if not args.fast:  # in real time: message k leaves k * 20 ms after the first
                time.sleep(max(0.0, start + k * CHUNK_S - time.monotonic()))
            ws.send(np.ascontiguousarray(audio[first:first + step]).astype("<i2").tobytes())
    print(f"streamed {audio.shape[0] / rate:.2f} s of {args.wav}")


if __name__ == "__main__":
    main()
