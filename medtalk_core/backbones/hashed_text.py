"""Built-in text backbone: a word tokenizer and hashed embeddings (fastText-style), no download.

Each word's feature is the mean of fixed random vectors looked up by hashing the word and its
character trigrams (with boundary marks), so "smiling" and "smile" share most of their vector.
The table is drawn from a fixed seed: the same text gives the same features on every machine.
The trainable part (a projection to the CMF width) lives in the model.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import torch

WORD = re.compile(r"[a-z0-9']+")
TABLE_SEED = 20250801  # fixed: changing it changes every feature a trained model has seen


def tokenize(text: str) -> list[str]:
    """Lower-cased words (letters, digits, apostrophes)."""
    return WORD.findall(text.lower())


def _bucket(piece: str, buckets: int) -> int:
    # blake2b, not hash(): Python's string hash is salted per process
    return int.from_bytes(hashlib.blake2b(piece.encode("utf-8"), digest_size=8).digest(), "little") % buckets


def pieces(word: str) -> list[str]:
    """The word itself plus its character trigrams of '<word>'."""
    marked = f"<{word}>"
    return [word] + [marked[i:i + 3] for i in range(len(marked) - 2)]


class HashedText:
    """TextBackbone: text -> (L, dim) float32, one row per word (one zero row for empty text)."""

    name = "hashed"

    def __init__(self, dim: int = 64, buckets: int = 8192) -> None:
        self.dim = int(dim)
        self.buckets = int(buckets)
        rng = np.random.default_rng(TABLE_SEED)
        self._table = rng.standard_normal((self.buckets, self.dim)).astype(np.float32)  # (buckets, dim), unit variance

    def features(self, text: str) -> torch.Tensor:
        words = tokenize(text)
        if not words:
            return torch.zeros(1, self.dim)
        rows = [self._table[[_bucket(p, self.buckets) for p in pieces(w)]].mean(axis=0) for w in words]
        feats = np.stack(rows)  # (L, dim)
        # rescale to unit variance per row whatever the number of pieces averaged
        feats /= feats.std(axis=1, keepdims=True) + 1e-6
        return torch.from_numpy(feats.astype(np.float32))
