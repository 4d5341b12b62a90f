"""FastFlow: 2-D normalising flows on the pretrained backbone's features, one flow per scale.

The backbone (EfficientNet-Lite, frozen) is run once per training picture and its mirror image; only the
small flows are trained, on those cached features, so a fit costs seconds on a CPU. Each position's
anomaly is half its mean squared code (FastFlow's map, without the exp); scales are averaged on the finest
grid. The map then goes through PatchCore's heat fusion (:class:`~.flows.HeatFusion`) unless
``hotspot_fusion=False``.

How long to train is decided on held-out normals, and those held-out maps are the calibration: the normals
are split into ``calibration_folds`` folds; each fold's flow trains on the others until the held-out
fold's likelihood stops improving (``patience`` epochs), and its maps of the held-out normals are what
calibration needs (by a model that did not see them). The final flow trains on every normal for the
median of the folds' best epoch counts. With 24 normals that is four short trainings, no more.
The CLI's ``--epochs``, ``--batch-size`` and ``--lr`` are the AutoEncoders' and do not reach these
options (``max_epochs``, ``train_batch``, ``lr``), so ``train --model fastflow`` fits what the benchmark measured.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from ..backbones import FIT_ENGINE, TAP_STRIDES, FeatureExtractor
from . import register
from .base import Detector
from .calibration import fold_split, kfold_maps
from .flows import Flow, HeatFusion, code_energy, nll_per_dim, training_threads, upsample_mean

#: smallest per-channel spread of a feature before it is standardised (a constant channel stays 0)
_MIN_STD = 1e-4
#: least held-out improvement (nats per dimension) that resets early stopping's patience
_MIN_DELTA = 1e-3


class FlowFit(NamedTuple):
    """What ``_fit`` hands to calibration: held-out learned maps of the training normals."""

    #: indices into the training images
    index: np.ndarray
    #: each one's learned map (code energy) by a fold flow that did not see it, (n, h, w)
    maps: torch.Tensor


class FlowDetector(HeatFusion, Detector):
    """Flows on standardised backbone features; subclasses choose the blocks and the condition."""

    name = "flow"
    calibration_folds = 3

    def __init__(
        self,
        *,
        backbone: str = "efficientnet-lite0",
        layers: Sequence[str] = ("stage2", "stage4"),
        n_blocks: int = 4,
        hidden_ratio: float = 0.5,
        clamp: float = 2.0,
        max_epochs: int = 20,
        patience: int = 3,
        lr: float = 2e-3,
        train_batch: int = 8,
        flip: bool = True,
        seed: int = 0,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        self.backbone = str(backbone)
        self.layers = [str(n) for n in layers]
        if not self.layers or any(n not in TAP_STRIDES for n in self.layers):
            raise ValueError(
                f"layers must be backbone tap names ({', '.join(TAP_STRIDES)}), got {self.layers}"
            )
        if n_blocks < 1 or max_epochs < 1 or patience < 1 or train_batch < 1:
            raise ValueError("n_blocks, max_epochs, patience and train_batch must be positive")
        self.n_blocks = int(n_blocks)
        self.hidden_ratio = float(hidden_ratio)
        self.clamp = float(clamp)
        self.max_epochs = int(max_epochs)
        self.patience = int(patience)
        self.lr = float(lr)
        self.train_batch = int(train_batch)
        self.flip = bool(flip)
        self.seed = int(seed)
        self.flows_: nn.ModuleList | None = None
        self.mean_: list[torch.Tensor] = []
        self.std_: list[torch.Tensor] = []
        self.epochs_: int = 0
        self._extractors: dict[str | None, FeatureExtractor] = {}

    # ------------------------------------------------------------------ what subclasses vary
    def _kernels(self) -> list[int]:
        """Subnet kernel of each block: FastFlow alternates 3×3 (context) and 1×1."""
        return [3 if i % 2 == 0 else 1 for i in range(self.n_blocks)]

    def _cond_channels(self) -> int:
        return 0

    def _cond(self, i: int, n: int, h: int, w: int) -> torch.Tensor | None:
        """Condition of scale ``i``'s flow for a batch of ``n`` maps of h×w (None: unconditional)."""
        return None

    # ------------------------------------------------------------------ features
    def _features(self, x: torch.Tensor, engine: str | None = None) -> list[torch.Tensor]:
        """(N, 3+, S, S) -> raw backbone taps, one (N, C_i, h_i, w_i) per layer (a few images at a time)."""
        if engine not in self._extractors:
            self._extractors[engine] = FeatureExtractor(self.backbone, self.layers, engine=engine)
        ext = self._extractors[engine]
        out: list[list[torch.Tensor]] = [[] for _ in self.layers]
        for s in range(0, len(x), 8):
            taps = ext(x[s : s + 8, :3])
            for i, name in enumerate(self.layers):
                out[i].append(taps[name].float())
        return [torch.cat(o) for o in out]

    def _standardise(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        return [
            (f - m[None, :, None, None]) / s[None, :, None, None]
            for f, m, s in zip(feats, self.mean_, self.std_, strict=True)
        ]

    def _new_flows(self, channels: Sequence[int]) -> nn.ModuleList:
        kernels = self._kernels()
        return nn.ModuleList(
            Flow(
                c,
                kernels,
                hidden_ratio=self.hidden_ratio,
                cond_channels=self._cond_channels(),
                clamp=self.clamp,
                seed=self.seed + 100 * i,
            )
            for i, c in enumerate(channels)
        )

    def _run(
        self, flows: nn.ModuleList, feats: list[torch.Tensor]
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        out = []
        for i, (flow, f) in enumerate(zip(flows, feats, strict=True)):
            n, _c, h, w = f.shape
            out.append(flow(f, self._cond(i, n, h, w)))
        return out

    def _loss(self, flows: nn.ModuleList, feats: list[torch.Tensor]) -> torch.Tensor:
        """Mean negative log-likelihood per dimension, summed over scales."""
        return sum(nll_per_dim(z, ld).mean() for z, ld in self._run(flows, feats))

    def _energy(self, flows: nn.ModuleList, feats: list[torch.Tensor]) -> torch.Tensor:
        """Learned map (N, h, w) on the finest grid: code energy averaged over scales."""
        with torch.no_grad():
            return upsample_mean([code_energy(z) for z, _ in self._run(flows, feats)])

    # ------------------------------------------------------------------ training
    def _train(
        self,
        train: list[torch.Tensor],
        val: list[torch.Tensor] | None,
        epochs: int,
        seed: int,
    ) -> tuple[nn.ModuleList, int]:
        with training_threads():
            return self._train_loop(train, val, epochs, seed)

    def _train_loop(
        self, train: list[torch.Tensor], val: list[torch.Tensor] | None, epochs: int, seed: int
    ) -> tuple[nn.ModuleList, int]:
        """Train fresh flows on ``train`` (standardised features). With ``val``: up to ``epochs``, stopped
        when the held-out likelihood has not improved for ``patience`` epochs, the best epoch's weights
        kept. Returns (flows, epochs that count)."""
        flows = self._new_flows([f.shape[1] for f in train])
        opt = torch.optim.Adam(flows.parameters(), lr=self.lr, weight_decay=1e-5)
        gen = torch.Generator().manual_seed(int(seed))
        n = len(train[0])
        best, best_state, best_epoch, stale = float("inf"), None, epochs, 0
        for epoch in range(1, epochs + 1):
            flows.train()
            order = torch.randperm(n, generator=gen)
            for s in range(0, n, self.train_batch):
                b = order[s : s + self.train_batch]
                loss = self._loss(flows, [f[b] for f in train])
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(flows.parameters(), 5.0)
                opt.step()
            if val is None:
                continue
            flows.eval()
            with torch.no_grad():
                v = float(self._loss(flows, val))
            if v < best - _MIN_DELTA:
                best, best_state, best_epoch, stale = v, copy.deepcopy(flows.state_dict()), epoch, 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if best_state is not None:
            flows.load_state_dict(best_state)
        flows.eval()
        return flows, best_epoch

    def _augmented(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Standardised features of ``x`` and, with ``flip``, of its mirror image (index i + N)."""
        feats = self._features(x, FIT_ENGINE)
        if self.flip:
            mirrored = self._features(x.flip(-1), FIT_ENGINE)
            feats = [torch.cat([f, m]) for f, m in zip(feats, mirrored, strict=True)]
        return feats

    def _fit(self, x: torch.Tensor, valid: torch.Tensor, *, progress: bool) -> FlowFit | None:
        raw = self._augmented(x)
        self.mean_ = [f.mean((0, 2, 3)) for f in raw]
        self.std_ = [
            f.std((0, 2, 3)).clamp_min(_MIN_STD) if len(f) > 1 else torch.ones(f.shape[1]) for f in raw
        ]
        feats = self._standardise(raw)
        n = len(x)
        copies = 2 if self.flip else 1

        def rows(idx: np.ndarray) -> torch.Tensor:  # an image and its mirror image
            return torch.from_numpy(np.concatenate([idx + k * n for k in range(copies)]))

        folds = fold_split(n, self.calibration_folds)
        fitted, best_epochs = None, []
        if folds is not None:
            index, maps = [], []
            for k, held in enumerate(folds):
                train = np.setdiff1d(np.arange(n), held)
                held_t = torch.from_numpy(held)
                flows, best = self._train(
                    [f[rows(train)] for f in feats],
                    [f[held_t] for f in feats],
                    self.max_epochs,
                    self.seed + 1 + k,
                )
                best_epochs.append(best)
                index.append(held)
                maps.append(self._energy(flows, [f[held_t] for f in feats]))
            fitted = FlowFit(np.concatenate(index), torch.cat(maps))
        self.epochs_ = int(np.median(best_epochs)) if best_epochs else self.max_epochs
        self.flows_, _ = self._train(feats, None, self.epochs_, self.seed)
        return fitted

    def _calibration_maps(
        self, x: torch.Tensor, valid: torch.Tensor, fitted: Any = None, *, progress: bool
    ) -> tuple[np.ndarray, torch.Tensor]:
        """The folds' held-out maps from ``_fit``, fused with heat; without them (``recalibrate``) k-fold refits."""
        if isinstance(fitted, FlowFit):
            return fitted.index, self._fuse(x[torch.from_numpy(fitted.index)], fitted.maps)
        return kfold_maps(self, x, valid)

    # ------------------------------------------------------------------ scoring
    def _learned(self, x: torch.Tensor) -> torch.Tensor:
        if self.flows_ is None:
            raise ValueError(f"{self.name} is not fitted")
        return self._energy(self.flows_, self._standardise(self._features(x)))

    def _raw_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self._fuse(x, self._learned(x))

    def _parts(self, x: torch.Tensor) -> dict[str, torch.Tensor] | None:
        return self._fused_parts(x, self._learned(x))

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, torch.Tensor]:
        if self.flows_ is None:
            raise ValueError(f"{self.name} is not fitted")
        state = {f"flows.{k}": v for k, v in self.flows_.state_dict().items()}
        for i, (m, s) in enumerate(zip(self.mean_, self.std_, strict=True)):
            state[f"mean.{i}"], state[f"std.{i}"] = m, s
        state["epochs"] = torch.tensor(self.epochs_)
        return state

    def _load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.mean_ = [state[f"mean.{i}"].float() for i in range(len(self.layers))]
        self.std_ = [state[f"std.{i}"].float() for i in range(len(self.layers))]
        for m, s in zip(self.mean_, self.std_, strict=True):
            if m.ndim != 1 or m.shape != s.shape or not bool((s > 0).all()):
                raise ValueError("feature statistics have inconsistent shapes or a non-positive spread")
        flows = self._new_flows([len(m) for m in self.mean_])
        flows.load_state_dict({k[len("flows.") :]: v for k, v in state.items() if k.startswith("flows.")})
        flows.eval()
        self.flows_ = flows
        self.epochs_ = int(state["epochs"])


@register
class FastFlow(FlowDetector):
    """FastFlow (Yu et al. 2021): per-scale 2-D flows, 3×3 and 1×1 subnets alternating."""

    name = "fastflow"


__all__ = ["FastFlow", "FlowDetector", "FlowFit"]
