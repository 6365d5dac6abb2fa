"""Building blocks of MEDTalk: the release's per-frame Encoder, a temporal variant, conv front
ends, and the CMF cross-attention (AudioTextFusion).

Parameter names follow the release (`fc1`, `fc2`, `cross_attn`, `norm1`, ...) so that its
weights load with a near-identity key map. Sequence tensors are (B, T, C); an optional
`mask` (B, T) of 1.0 for real frames keeps padded frames from leaking into real ones through
the convolutions, so a padded batch gives the same values as one clip at a time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Encoder(nn.Module):
    """The release's Encoder: Linear -> ReLU -> Linear, applied to every frame independently."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # mask is accepted for a common signature with TemporalEncoder; per-frame layers need none
        return self.fc2(torch.relu(self.fc1(x)))  # (..., out_dim)


def _masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """x (B, C, T) with padded frames zeroed; mask (B, T)."""
    return x if mask is None else x * mask[:, None, :].to(x.dtype)


def conv_pads(kernel: int, layers: int, future: int | None) -> list[tuple[int, int]]:
    """(left, right) zero padding of each dilated layer; right pads are the future each layer sees.

    None = centred. With a budget, the early layers take the future frames and the rest look back,
    so the stack sees at most `future` frames ahead whatever its depth."""
    pads = []
    budget = future
    for i in range(layers):
        full = (kernel - 1) * 2**i
        right = full // 2 if budget is None else min(full // 2, budget)
        if budget is not None:
            budget -= right
        pads.append((full - right, right))
    return pads


class ConvStack(nn.Module):
    """Residual 1-D conv blocks over time, dilations 1, 2, 4, ...: centred, or with bounded future.

    With kernel k and n layers the receptive field is (k - 1) * (2^n - 1) + 1 frames; `future`
    caps how many of them lie ahead of the output frame (the latency a live stream must wait)."""

    def __init__(self, in_dim: int, width: int, layers: int, kernel: int, future: int | None = None) -> None:
        super().__init__()
        self.proj = nn.Conv1d(in_dim, width, 1)
        self.convs = nn.ModuleList(nn.Conv1d(width, width, kernel, dilation=2**i) for i in range(layers))
        self.pads = conv_pads(kernel, layers, future)
        self.out_dim = width

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = _masked(self.proj(_masked(x.transpose(1, 2), mask)), mask)  # (B, W, T)
        for conv, pad in zip(self.convs, self.pads):
            h = _masked(h + torch.relu(conv(F.pad(h, pad))), mask)  # residual keeps early training close to identity
        return h.transpose(1, 2)  # (B, T, W)


class TemporalEncoder(nn.Module):
    """Drop-in for Encoder with context over time: conv stack, then the per-frame fc2 head."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, kernel: int, layers: int,
                 future: int | None = None) -> None:
        super().__init__()
        self.stack = ConvStack(in_dim, hidden_dim, layers, kernel, future)
        self.fc2 = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc2(self.stack(x, mask))  # (B, T, out_dim)


def make_encoder(kind: str, in_dim: int, hidden_dim: int, out_dim: int, kernel: int, layers: int,
                 future: int | None = None) -> nn.Module:
    """`mlp` -> the release's Encoder; `temporal` -> TemporalEncoder (same call signature)."""
    if kind == "temporal":
        return TemporalEncoder(in_dim, hidden_dim, out_dim, kernel, layers, future)
    return Encoder(in_dim, hidden_dim, out_dim)


class AudioTextFusion(nn.Module):
    """CMF: audio-emotion frames attend to transcript tokens; one intensity per frame.

    norm1(Q + attn(Q, K, V)), then norm2(x + dropout(linear(x))), then `predictor` -> (B, T, 1)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.linear = nn.Linear(dim, dim)
        self.predictor = nn.Linear(dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, tokens: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        # token_mask (B, L): True for real tokens; MultiheadAttention wants True where to ignore
        pad = None if token_mask is None else ~token_mask.bool()
        attn, _ = self.cross_attn(query, tokens, tokens, key_padding_mask=pad, need_weights=False)  # (B, T, d)
        x = self.norm1(query + attn)
        x = self.norm2(x + self.dropout(self.linear(x)))
        return self.predictor(x)  # (B, T, 1)
