"""CFlow-AD: conditional normalising flows per feature scale, conditioned on a 2-D positional encoding.

Where FastFlow's 3×3 subnets see a neighbourhood, CFlow-AD's flow is per position (1×1 subnets: an MLP
on each feature vector) and learns *where* a feature is normal from the sinusoidal encoding of its
position, concatenated to every coupling's subnet input. The original trains on random subsets of
positions ("fiber batches"); with 24 normals every position of every image fits in one batch, which is
the same objective. Training, early stopping, calibration, the map (code energy averaged over scales)
and the heat fusion are FastFlow's (:class:`~.fastflow.FlowDetector`).

Position matters only when the scene is framed alike from image to image; the development set's
transformers are shot from many viewpoints, so the encoding can only learn broad priors (sky at the top).
"""

from __future__ import annotations

from typing import Any

import torch

from . import register
from .fastflow import FlowDetector
from .flows import positional_encoding


@register
class CFlow(FlowDetector):
    """CFlow-AD (Gudovskiy et al. 2022): per-position conditional flows with positional encoding."""

    name = "cflow"

    def __init__(self, *, pe_channels: int = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if pe_channels < 4 or pe_channels % 4:
            raise ValueError(f"pe_channels must be a positive multiple of 4, got {pe_channels}")
        self.pe_channels = int(pe_channels)
        self._pe: dict[tuple[int, int], torch.Tensor] = {}

    def _kernels(self) -> list[int]:
        return [1] * self.n_blocks

    def _cond_channels(self) -> int:
        return self.pe_channels

    def _cond(self, i: int, n: int, h: int, w: int) -> torch.Tensor | None:
        if (h, w) not in self._pe:
            self._pe[(h, w)] = positional_encoding(self.pe_channels, h, w)
        return self._pe[(h, w)][None].expand(n, -1, -1, -1)


__all__ = ["CFlow"]
