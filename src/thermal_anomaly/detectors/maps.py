"""Tensor helpers for anomaly maps, shared by the detector interface and calibration."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_batch(maps: torch.Tensor, size: int) -> torch.Tensor:
    """Maps (N, h, w) at any resolution -> float (N, size, size), bilinear; unchanged when already that size."""
    maps = maps.detach().float()
    if maps.shape[-2:] == (size, size):
        return maps
    return F.interpolate(maps[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]


__all__ = ["resize_batch"]
