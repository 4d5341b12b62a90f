"""Normalising flows on plain PyTorch, shared by FastFlow and CFlow-AD, and the heat fusion they reuse.

A flow maps normal features to a standard normal; how far a position's code lies from the origin (its
negative log-likelihood) is its anomaly. The blocks are affine couplings (RealNVP / Glow, as FrEIA's
``AllInOneBlock`` without its extras): a learned per-channel affine (ActNorm), a fixed channel permutation,
then half the channels scale-and-shift the other half through a small convolutional subnet, with a
soft-clamped log-scale so training cannot blow up. FrEIA 0.2 is on PyPI, but these ~100 lines are all that
is used of it, and owning them keeps the model file a plain state dict (no extra dependency to load it).

The subnet's last convolution starts at zero, so an untrained flow is the identity: training starts from
"every feature is its own code" instead of a random map.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from .patchcore import FusionSettings, PatchCore

#: torch threads while a small network trains: its operations are tiny, so threads mostly wait for each
#: other; on 2 busy shared cores one thread measured 5-8x faster than two (a FastFlow epoch 1.5-3 s vs
#: 12-17 s, a DRAEM step 1.3-2.1 s vs 4.5-8.9 s)
TRAIN_THREADS = 1
#: log(2π)/2: the per-dimension constant of a standard normal's negative log-likelihood
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@contextmanager
def training_threads(n: int = TRAIN_THREADS) -> Iterator[None]:
    """Run the enclosed training with at most ``n`` torch threads (see ``TRAIN_THREADS``), then restore."""
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, min(old, n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def soft_clamp(s: torch.Tensor, clamp: float) -> torch.Tensor:
    """Log-scales squashed smoothly into (-clamp, clamp) (FrEIA's atan clamp): exp(s) stays finite."""
    return (2.0 * clamp / math.pi) * torch.atan(s / clamp)


class AffineCoupling(nn.Module):
    """ActNorm, fixed permutation, affine coupling; optionally conditioned on extra channels (CFlow)."""

    def __init__(
        self,
        channels: int,
        *,
        hidden: int,
        kernel: int = 3,
        cond_channels: int = 0,
        clamp: float = 2.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if channels < 2:
            raise ValueError(f"a coupling needs at least 2 channels, got {channels}")
        self.channels = channels
        self.split = channels // 2
        self.clamp = float(clamp)
        gen = torch.Generator().manual_seed(int(seed))
        self.register_buffer("perm", torch.randperm(channels, generator=gen))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        out = 2 * (channels - self.split)
        pad = kernel // 2
        self.subnet = nn.Sequential(
            nn.Conv2d(self.split + cond_channels, hidden, kernel, padding=pad),
            nn.ReLU(),
            nn.Conv2d(hidden, out, kernel, padding=pad),
        )
        nn.init.zeros_(self.subnet[-1].weight)
        nn.init.zeros_(self.subnet[-1].bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, H, W) -> (codes, log-determinant per position (N, H, W))."""
        x = (x + self.bias) * torch.exp(self.log_scale)
        x = x[:, self.perm]
        x1, x2 = x[:, : self.split], x[:, self.split :]
        h = x1 if cond is None else torch.cat([x1, cond], dim=1)
        s, t = self.subnet(h).chunk(2, dim=1)
        s = soft_clamp(s, self.clamp)
        y = torch.cat([x1, x2 * torch.exp(s) + t], dim=1)
        logdet = s.sum(1) + self.log_scale.sum()
        return y, logdet


class Flow(nn.Module):
    """A stack of couplings on one feature scale; ``kernels`` gives each block's subnet kernel (FastFlow
    alternates 3×3 and 1×1; CFlow uses 1×1 everywhere: a per-position flow)."""

    def __init__(
        self,
        channels: int,
        kernels: Sequence[int],
        *,
        hidden_ratio: float = 1.0,
        cond_channels: int = 0,
        clamp: float = 2.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        hidden = max(8, round(channels * hidden_ratio))
        self.blocks = nn.ModuleList(
            AffineCoupling(
                channels, hidden=hidden, kernel=k, cond_channels=cond_channels, clamp=clamp, seed=seed + i
            )
            for i, k in enumerate(kernels)
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = torch.zeros(x.shape[0], *x.shape[2:], dtype=x.dtype)
        for block in self.blocks:
            x, ld = block(x, cond)
            logdet = logdet + ld
        return x, logdet


def nll_per_dim(z: torch.Tensor, logdet: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood per feature dimension at each position, (N, H, W): the training loss."""
    c = z.shape[1]
    return (0.5 * (z * z).sum(1) - logdet) / c + HALF_LOG_2PI


def code_energy(z: torch.Tensor) -> torch.Tensor:
    """Half the mean squared code per position, (N, H, W): ~0.5 for a well-fitted normal position and
    never negative, so it can be multiplied by heat evidence (the log-determinant is left out of the map,
    as in FastFlow: it is a property of the flow at that feature, not of how unusual the feature is)."""
    return 0.5 * (z * z).mean(1)


def positional_encoding(channels: int, h: int, w: int) -> torch.Tensor:
    """2-D sinusoidal encoding (CFlow-AD's condition), (channels, h, w); half the channels code the row,
    half the column, at geometric frequencies."""
    if channels % 4:
        raise ValueError(f"positional encoding channels must be a multiple of 4, got {channels}")
    quarter = channels // 4
    freq = torch.exp(-math.log(10000.0) * torch.arange(quarter, dtype=torch.float32) / quarter)
    ys = torch.arange(h, dtype=torch.float32)[:, None] * freq[None]  # (h, q)
    xs = torch.arange(w, dtype=torch.float32)[:, None] * freq[None]  # (w, q)
    pe = torch.empty(channels, h, w)
    pe[0:quarter] = torch.sin(ys).t()[:, :, None].expand(-1, -1, w)
    pe[quarter : 2 * quarter] = torch.cos(ys).t()[:, :, None].expand(-1, -1, w)
    pe[2 * quarter : 3 * quarter] = torch.sin(xs).t()[:, None, :].expand(-1, h, -1)
    pe[3 * quarter :] = torch.cos(xs).t()[:, None, :].expand(-1, h, -1)
    return pe


def upsample_mean(maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """Maps of several scales (each (N, h_i, w_i)) averaged on the finest grid."""
    h = max(m.shape[-2] for m in maps)
    w = max(m.shape[-1] for m in maps)
    out = [
        m
        if m.shape[-2:] == (h, w)
        else F.interpolate(m[:, None], (h, w), mode="bilinear", align_corners=False)[:, 0]
        for m in maps
    ]
    return torch.stack(out).mean(0)


class HeatFusion(FusionSettings):
    """PatchCore's heat fusion for any learned map (mixin, before ``Detector`` in the bases).

    The learned map (flow code energy, DRAEM's segmentation) plays the part of PatchCore's novelty: the
    pixel map is ``learned × (joint-scale heat rise + floor)``, the image score ``learned^2 × (mean of joint
    rise and component excess + floor)``. The methods are PatchCore's own, so the two cannot drift apart;
    the settings (``hotspot_fusion``, ``hotspot_size``, ...) are PatchCore's keyword arguments too
    (:class:`~.patchcore.FusionSettings`).
    """

    hotspot_fusion: bool
    _extra_channel = PatchCore._extra_channel
    _fuse = PatchCore._fuse
    _score_maps = PatchCore._score_maps

    def _fused_parts(self, x: torch.Tensor, learned: torch.Tensor) -> dict[str, torch.Tensor]:
        """``_parts`` from a learned map: learned, fused and (when fusing) the joint-scale evidence."""
        parts = {"learned": learned, "fused": self._fuse(x, learned)}
        if self.hotspot_fusion and x.shape[1] >= 4:
            parts["evidence"] = x[:, 3]
        return parts


__all__ = [
    "AffineCoupling",
    "Flow",
    "HeatFusion",
    "code_energy",
    "nll_per_dim",
    "positional_encoding",
    "soft_clamp",
    "training_threads",
    "upsample_mean",
]
