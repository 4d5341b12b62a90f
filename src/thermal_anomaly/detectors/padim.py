"""PaDiM: a Gaussian of pretrained features at every grid position; anomaly = Mahalanobis distance.

Taps at stride 4/8/16 are brought to one grid and a seeded random subset of channels is kept. With fewer
normal images than feature dimensions the sample covariance is singular, so it is shrunk towards a scaled
identity by the Ledoit-Wolf rule (plus a small floor tied to the trace) before it is inverted.
Positions on camera overlays are not excluded from the statistics: the base class inpaints overlays and
zeroes their scores, so they only add a little variance there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..backbones import FIT_ENGINE, TAP_STRIDES, FeatureExtractor, embed_taps
from ..errors import ModelError
from . import register
from .base import Detector
from .calibration import fold_split

#: inverse covariances larger than this (bytes as float32) are stored as float16
_FLOAT16_ABOVE = 64 * 2**20
#: relative ridge added after shrinkage: keeps the inverse finite when every sample is identical
_RIDGE = 1e-3
#: absolute ridge on top of it: keeps the inverse finite when every feature is zero (e.g. a blank picture)
_RIDGE_ABS = 1e-6


def ledoit_wolf_covariance(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position shrunk covariance of samples ``x`` (P, n, d). Returns (mean (P, d), cov (P, d, d)).

    Ledoit & Wolf (2004): cov = (1 - a) S + a (tr S / d) I with a estimated from the data, vectorised
    over positions, in float64.
    """
    x = x.double()
    p, n, d = x.shape
    mean = x.mean(dim=1)
    xc = x - mean[:, None]
    s = xc.transpose(1, 2) @ xc / n
    mu = torch.diagonal(s, dim1=1, dim2=2).sum(-1) / d
    eye = torch.eye(d, dtype=s.dtype)
    delta = ((s - mu[:, None, None] * eye) ** 2).sum((1, 2)) / d
    norms2 = (xc**2).sum(-1)
    beta = ((norms2**2).sum(1) - n * (s**2).sum((1, 2))) / (n * n * d)
    beta = torch.minimum(beta.clamp(min=0), delta)
    shrink = torch.where(delta > 0, beta / delta.clamp(min=1e-30), torch.ones_like(delta))
    cov = (1 - shrink)[:, None, None] * s + (shrink * mu)[:, None, None] * eye
    floor = _RIDGE * mu.clamp(min=0) + _RIDGE_ABS
    return mean, cov + floor[:, None, None] * eye


def mahalanobis(x: torch.Tensor, mean: torch.Tensor, inv_cov: torch.Tensor) -> torch.Tensor:
    """Distances of features ``x`` (N, P, d) to per-position Gaussians; (N, P)."""
    diff = x.float() - mean.float()[None]
    inv = inv_cov.float()
    out = torch.empty(diff.shape[:2])
    for i in range(len(diff)):  # one image at a time keeps the (P, d) intermediates small
        m = torch.einsum("pd,pde,pe->p", diff[i], inv, diff[i])
        out[i] = m.clamp(min=0).sqrt()
    return out


@register
class Padim(Detector):
    """Per-position Gaussian of pretrained features (PaDiM)."""

    name = "padim"

    def __init__(
        self,
        *,
        backbone: str = "efficientnet-lite0",
        layers: Sequence[str] = ("stage1", "stage2", "stage4"),
        n_features: int = 100,
        grid_stride: int = 8,
        seed: int = 0,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        if grid_stride < 1:
            raise ValueError(f"grid_stride must be positive, got {grid_stride}")
        self.backbone = str(backbone)
        self.layers = [str(n) for n in layers]
        self.n_features = int(n_features)
        self.grid_stride = int(grid_stride)
        self.seed = int(seed)
        self.mean_: torch.Tensor | None = None
        self.inv_cov_: torch.Tensor | None = None
        #: one extractor per engine (``None``: the default engine, for scoring; ``FIT_ENGINE``)
        self._extractors: dict[str | None, FeatureExtractor] = {}
        self._channels: torch.Tensor | None = None
        if not self.layers or any(n not in TAP_STRIDES for n in self.layers):
            raise ValueError(
                f"layers must be backbone tap names ({', '.join(TAP_STRIDES)}), got {self.layers}"
            )

    def _grid(self) -> tuple[int, int]:
        g = math.ceil(self.img_size / self.grid_stride)
        return g, g

    def _embed(
        self, x: torch.Tensor, batch_size: int = 8, progress: bool = False, *, engine: str | None = None
    ) -> torch.Tensor:
        """(N, 3, S, S) -> (N, P, d) features at the grid positions (a fixed random channel subset).
        ``engine``: the backbone's (see :class:`FeatureExtractor`; None: the default)."""
        if engine not in self._extractors:
            self._extractors[engine] = FeatureExtractor(self.backbone, self.layers, engine=engine)
        extractor = self._extractors[engine]
        out = []
        for s in tqdm(range(0, len(x), batch_size), desc="padim features", disable=not progress, leave=False):
            with torch.no_grad():
                e = embed_taps(extractor(x[s : s + batch_size]), self._grid())
            if self._channels is None:
                c = e.shape[1]
                gen = torch.Generator().manual_seed(self.seed)
                keep = torch.randperm(c, generator=gen)[: min(self.n_features, c)]
                self._channels = keep.sort().values
            e = e[:, self._channels]
            out.append(e.flatten(2).transpose(1, 2).contiguous())
        return torch.cat(out)

    def _gaussians(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, P, d) -> mean (P, d) float32, inverse covariance (P, d, d) float64."""
        mean, cov = ledoit_wolf_covariance(feats.transpose(0, 1))
        inv = torch.cholesky_inverse(torch.linalg.cholesky(cov))
        return mean.float(), inv

    def _fit(self, x: torch.Tensor, valid: torch.Tensor, *, progress: bool) -> torch.Tensor:
        """Fit the Gaussians; return the training features (N, P, d) for the k-fold calibration."""
        feats = self._embed(x, progress=progress, engine=FIT_ENGINE)
        mean, inv = self._gaussians(feats)
        big = inv.numel() * 4 > _FLOAT16_ABOVE
        self.mean_ = mean
        self.inv_cov_ = inv.to(torch.float16 if big else torch.float32).contiguous()
        return feats

    def _maps(self, feats: torch.Tensor, mean: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
        h, w = self._grid()
        return mahalanobis(feats, mean, inv).reshape(len(feats), h, w)

    def _raw_maps(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean_ is None or self.inv_cov_ is None:
            raise ValueError("PaDiM is not fitted")
        feats = self._embed(x)
        if feats.shape[1:] != self.mean_.shape:
            raise ModelError(
                f"PaDiM statistics have shape {tuple(self.mean_.shape)}, features {feats.shape[1:]}"
            )
        return self._maps(feats, self.mean_, self.inv_cov_)

    def _calibration_maps(
        self, x: torch.Tensor, valid: torch.Tensor, fitted: torch.Tensor | None = None, *, progress: bool
    ) -> tuple[np.ndarray, torch.Tensor]:
        """k-fold on the training features ``fitted`` (from ``_fit``; else computed): the Gaussians are
        refitted, the backbone is not rerun."""
        feats = fitted if fitted is not None else self._embed(x)
        n = len(feats)
        folds = fold_split(n, self.calibration_folds)
        if folds is None:
            return np.arange(n), self._raw_maps(x)
        idx, maps = [], []
        for held in folds:
            train = torch.from_numpy(np.setdiff1d(np.arange(n), held))
            mean, inv = self._gaussians(feats[train])
            idx.append(held)
            maps.append(self._maps(feats[torch.from_numpy(held)], mean, inv))
        return np.concatenate(idx), torch.cat(maps)

    def _state(self) -> dict[str, torch.Tensor]:
        if self.mean_ is None or self.inv_cov_ is None:
            raise ValueError("PaDiM is not fitted")
        return {"mean": self.mean_, "inv_cov": self.inv_cov_, "channels": self._channels}

    def _load_state(self, state: dict[str, torch.Tensor]) -> None:
        mean, inv, channels = state["mean"], state["inv_cov"], state["channels"]
        if mean.ndim != 2 or inv.shape != (*mean.shape, mean.shape[1]) or channels.shape != (mean.shape[1],):
            raise ValueError("PaDiM state has inconsistent shapes")
        if mean.shape[0] != self._grid()[0] * self._grid()[1]:
            raise ValueError(
                f"PaDiM state has {mean.shape[0]} positions, the configuration gives {self._grid()}"
            )
        self.mean_ = mean.float()
        self.inv_cov_ = inv.contiguous()
        self._channels = channels.long()


__all__ = ["Padim", "ledoit_wolf_covariance", "mahalanobis"]
