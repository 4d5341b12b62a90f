"""DRAEM: a reconstructive and a discriminative network trained on normals with synthetic anomalies.

The reconstructive net learns to give back the clean picture from one with an anomaly pasted in; the
discriminative net sees the picture beside its reconstruction and learns to segment the pasted anomaly.
At test time its segmentation is the anomaly map. What it can find is what it was shown, so the anomalies
matter:

- ``anomalies="thermal"`` (default): a local heat rise rendered through the image's own palette. Each
  pixel's position on the colour scale (decoded from the image's bar or palette) is raised by a heat
  profile -- a joint (a small disc on a warm part), a short wire section (a thick segment), or a whole limb
  (the warm component around a point) -- blurred like thermal optics, and re-coloured through the image's
  own position-to-colour table, so a rise past the hottest colour saturates as a camera's display does.
  The discriminative net learns *heat*, not texture.
- ``anomalies="texture"``: DRAEM's original recipe, a Perlin-like noise blob filled with a foreign
  texture. DRAEM takes its textures from the DTD data set; none is available here, so the texture is
  another training picture, shifted, mirrored and colour-jittered (DRAEM's paper allows any image source).

Both nets are small (CPU-sized) and run at ``net_size`` whatever ``img_size`` is. Calibration is the
base class' k-fold refit (``calibration_folds`` = 2: training is the expensive part). PatchCore's heat
fusion applies to the segmentation map as to any learned map (``hotspot_fusion``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..thermal.analysis import ThermalAnalysis
from . import register
from .autoencoder import double_conv
from .base import Detector
from .flows import HeatFusion, training_threads

#: kinds of synthetic anomaly
ANOMALIES = ("thermal", "texture")
#: shapes of a thermal anomaly and how often each is drawn (renormalised over the ones chosen)
HEAT_KINDS = {"joint": 0.45, "wire": 0.35, "limb": 0.2}
#: bins of the position-to-colour table read off each picture
PALETTE_BINS = 64
#: share of training samples left clean (DRAEM's: the nets must also see normal pictures as they are)
CLEAN_SHARE = 0.5
#: the discriminative net's starting anomaly probability (focal-loss prior, as RetinaNet's): few pixels are
#: anomalous, and a net that starts at 0.5 everywhere spends a short CPU training unlearning that
PRIOR_ANOMALY = 0.01
#: focal loss focusing parameter (DRAEM's)
FOCAL_GAMMA = 2.0
#: a synthetic anomaly is labelled where its heat reaches this share of its peak and the colour changed
LABEL_SHARE = 0.3
#: least colour change (sum over RGB) that makes a heated pixel part of the label (a saturated pixel that
#: cannot get hotter on the display is no visible anomaly)
LABEL_MIN_CHANGE = 0.03


# ------------------------------------------------------------------------------------------ networks
class UNet(nn.Module):
    """A small U-Net (``depth`` halvings, ``width`` channels at the top); ``skips=False`` makes it a plain
    encoder-decoder (DRAEM's reconstructive net has none: skips would copy the anomaly through)."""

    def __init__(self, cin: int, cout: int, width: int = 16, depth: int = 3, skips: bool = True) -> None:
        super().__init__()
        self.skips = skips
        chans = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList(
            [double_conv(cin, chans[0])] + [double_conv(chans[i], chans[i + 1]) for i in range(depth)]
        )
        self.up = nn.ModuleList(
            double_conv(chans[i + 1] + (chans[i] if skips else 0), chans[i]) for i in reversed(range(depth))
        )
        self.head = nn.Conv2d(chans[0], cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.down[0](x)]
        for block in self.down[1:]:
            feats.append(block(F.max_pool2d(feats[-1], 2)))
        h = feats[-1]
        for block, skip in zip(self.up, reversed(feats[:-1]), strict=True):
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = block(torch.cat([h, skip], 1) if self.skips else h)
        return self.head(h)


def ssim_loss(a: torch.Tensor, b: torch.Tensor, window: int = 11) -> torch.Tensor:
    """1 - mean SSIM (Gaussian window, per channel), DRAEM's reconstruction loss beside L2."""
    sigma = 1.5
    g = torch.exp(-((torch.arange(window) - window // 2) ** 2) / (2 * sigma**2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :])[None, None].repeat(a.shape[1], 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, k, padding=window // 2, groups=a.shape[1])

    mu_a, mu_b = blur(a), blur(b)
    va, vb, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return 1 - s.mean()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = FOCAL_GAMMA) -> torch.Tensor:
    """Binary focal loss: the few anomalous pixels are not drowned by the many normal ones."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    pt = p * target + (1 - p) * (1 - target)
    return ((1 - pt) ** gamma * ce).mean()


# ------------------------------------------------------------------------------------------ anomalies
def palette_table(
    rgb: np.ndarray, pos: np.ndarray, valid: np.ndarray, bins: int = PALETTE_BINS
) -> np.ndarray:
    """The picture's own position-to-colour table, (bins, 3): the mean colour of its pixels at each scale
    position, gaps interpolated, ends held (so a position past the hottest colour shown renders as that
    colour: the display saturates)."""
    p = pos[valid].ravel()
    c = rgb[valid].reshape(-1, 3)
    table = np.zeros((bins, 3), np.float32)
    if len(p) == 0:
        return table + rgb.reshape(-1, 3).mean(0)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    filled = np.flatnonzero(counts)
    centres = (np.arange(bins) + 0.5) / bins
    for ch in range(3):
        sums = np.bincount(idx, weights=c[:, ch], minlength=bins)
        table[:, ch] = np.interp(centres, centres[filled], sums[filled] / counts[filled])
    return table


def render(table: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Positions (any shape) through a position-to-colour table, linearly between bins, clipped at its ends."""
    bins = len(table)
    f = np.clip(pos * bins - 0.5, 0, bins - 1)
    lo = np.floor(f).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    w = (f - lo)[..., None]
    return (table[lo] * (1 - w) + table[hi] * w).astype(np.float32)


def _warm_point(pos: np.ndarray, valid: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """A random pixel among the warmer third of the picture (faults sit on warm, loaded parts)."""
    vals = pos[valid] if valid.any() else pos.ravel()
    cut = float(np.quantile(vals, 0.67))
    ys, xs = np.nonzero((pos >= cut) & valid) if valid.any() else np.nonzero(pos >= cut)
    if len(ys) == 0:
        return int(rng.integers(pos.shape[0])), int(rng.integers(pos.shape[1]))
    k = int(rng.integers(len(ys)))
    return int(ys[k]), int(xs[k])


def heat_profile(
    pos: np.ndarray, valid: np.ndarray, rng: np.random.Generator, kinds: Sequence[str] = tuple(HEAT_KINDS)
) -> np.ndarray:
    """A fault's heat, peak 1, (H, W): a joint, a short wire section or a whole limb (of ``kinds``), blurred
    like optics."""
    h, w = pos.shape
    s = float(min(h, w))
    cy, cx = _warm_point(pos, valid, rng)
    shape = np.zeros((h, w), np.float32)
    weights = np.array([HEAT_KINDS[k] for k in kinds])
    kind = rng.choice(list(kinds), p=weights / weights.sum())
    if kind == "joint":
        cv2.circle(shape, (cx, cy), max(1, round(rng.uniform(0.015, 0.045) * s)), 1.0, -1)
    elif kind == "wire":
        length = rng.uniform(0.06, 0.2) * s
        angle = rng.uniform(0, math.pi)
        dx, dy = 0.5 * length * math.cos(angle), 0.5 * length * math.sin(angle)
        p0 = (round(cx - dx), round(cy - dy))
        p1 = (round(cx + dx), round(cy + dy))
        cv2.line(shape, p0, p1, 1.0, max(1, round(rng.uniform(0.01, 0.025) * s)))
    else:  # the warm component around the point, within a disc: a limb, a bushing, a tank section
        disc = np.zeros((h, w), np.uint8)
        cv2.circle(disc, (cx, cy), max(2, round(rng.uniform(0.08, 0.2) * s)), 1, -1)
        warm = (pos >= pos[cy, cx] - rng.uniform(0.05, 0.15)) & (disc > 0)
        _n, labels = cv2.connectedComponents(warm.astype(np.uint8), connectivity=8)
        shape[labels == labels[cy, cx]] = 1.0
    sigma = rng.uniform(0.004, 0.015) * s  # the camera's blur
    heat = cv2.GaussianBlur(shape, (0, 0), max(sigma, 0.5))
    peak = float(heat.max())
    return heat / peak if peak > 0 else heat


def thermal_anomaly(
    rgb: np.ndarray,
    pos: np.ndarray,
    valid: np.ndarray,
    rng: np.random.Generator,
    kinds: Sequence[str] = tuple(HEAT_KINDS),
) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` with a local heat rise rendered through its own palette; returns (picture, label mask)."""
    table = palette_table(rgb, pos, valid)
    heat = heat_profile(pos, valid, rng, kinds)
    rise = rng.uniform(0.12, 0.5) * heat
    delta = render(table, pos + rise) - render(table, pos)
    out = np.clip(rgb + delta, 0.0, 1.0)
    label = (heat >= LABEL_SHARE) & (np.abs(delta).sum(-1) >= LABEL_MIN_CHANGE)
    return out.astype(np.float32), label


def noise_blob(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A Perlin-like blob mask (smooth random field above a threshold), as DRAEM's anomaly shapes."""
    h, w = shape
    cells = int(rng.choice([2, 4, 8]))
    field = cv2.resize(
        rng.standard_normal((cells, cells)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    mask = field > rng.uniform(0.6, 1.2)
    if not mask.any():
        mask[h // 2 - 2 : h // 2 + 2, w // 2 - 2 : w // 2 + 2] = True
    return mask


def texture_anomaly(
    rgb: np.ndarray, source: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """DRAEM's texture anomaly: a noise blob of a foreign texture (here another picture, shifted, mirrored and
    colour-jittered: no DTD), blended with a random opacity. Returns (picture, label mask)."""
    h, w = rgb.shape[:2]
    tex = np.roll(source, (int(rng.integers(h)), int(rng.integers(w))), axis=(0, 1))
    if rng.random() < 0.5:
        tex = tex[:, ::-1]
    tex = np.clip(tex[..., rng.permutation(3)] * rng.uniform(0.6, 1.4) + rng.uniform(-0.2, 0.2), 0, 1)
    mask = noise_blob((h, w), rng)
    beta = rng.uniform(0.0, 0.8)
    m = mask[..., None].astype(np.float32)
    out = rgb * (1 - m) + m * ((1 - beta) * tex + beta * rgb)
    return out.astype(np.float32), mask


# ------------------------------------------------------------------------------------------ detector
@register
class Draem(HeatFusion, Detector):
    """DRAEM (Zavrtanik et al. 2021) on CPU-sized nets, with thermal or texture synthetic anomalies."""

    name = "draem"
    calibration_folds = 2

    def __init__(
        self,
        *,
        anomalies: str = "thermal",
        kinds: Sequence[str] = tuple(HEAT_KINDS),
        net_size: int = 96,
        width: int = 8,
        steps: int = 300,
        train_batch: int = 4,
        lr: float = 1e-3,
        seed: int = 0,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        if anomalies not in ANOMALIES:
            raise ValueError(f"anomalies must be one of {ANOMALIES}, got {anomalies!r}")
        if net_size < 32 or net_size % 8:
            raise ValueError(f"net_size must be a multiple of 8, at least 32, got {net_size}")
        if steps < 1 or train_batch < 1 or width < 4:
            raise ValueError("steps and train_batch must be positive, width at least 4")
        self.anomalies = anomalies
        self.kinds = [str(k) for k in kinds]
        if not self.kinds or any(k not in HEAT_KINDS for k in self.kinds):
            raise ValueError(f"kinds must be some of {tuple(HEAT_KINDS)}, got {list(kinds)}")
        self.net_size = int(net_size)
        self.width = int(width)
        self.steps = int(steps)
        self.train_batch = int(train_batch)
        self.lr = float(lr)
        self.seed = int(seed)
        self.recon_: UNet | None = None
        self.disc_: UNet | None = None

    # ------------------------------------------------------------------ inputs
    def _extra_channel(self, image: ThermalAnalysis, overlay: np.ndarray | None) -> np.ndarray | None:
        """Heat evidence for the fusion (as PatchCore's) and, last, each pixel's scale position: what the
        thermal anomalies are rendered from."""
        pos, valid = image.relative(overlay)
        pos = np.where(valid, pos, np.nan).astype(np.float32)
        fill = float(np.nanmedian(pos)) if valid.any() else 0.0
        pos = np.nan_to_num(pos, nan=fill)
        heat = HeatFusion._extra_channel(self, image, overlay) if self.hotspot_fusion else None
        if heat is None:
            return pos
        # the fusion reads channels 3-4 as (joint rise, component excess); without the component scale the
        # rise stands in for both, which weighs the score exactly as PatchCore's rise alone does
        heat = heat if heat.ndim == 3 else np.stack([heat, heat], axis=-1)
        if heat.shape[:2] != pos.shape:
            pos = cv2.resize(pos, (heat.shape[1], heat.shape[0]), interpolation=cv2.INTER_NEAREST)
        return np.concatenate([heat, pos[..., None]], axis=-1)

    def _small(self, x: torch.Tensor) -> torch.Tensor:
        """The networks' input: (N, 3, net_size, net_size)."""
        rgb = x[:, :3]
        if rgb.shape[-1] == self.net_size:
            return rgb.contiguous()
        return F.interpolate(rgb, size=(self.net_size, self.net_size), mode="area")

    def _positions(self, x: torch.Tensor) -> torch.Tensor:
        p = x[:, -1:] if x.shape[1] > 3 else x[:, :3].mean(1, keepdim=True)
        return F.interpolate(p, size=(self.net_size, self.net_size), mode="area")[:, 0]

    # ------------------------------------------------------------------ training
    def _fit(self, x: torch.Tensor, valid: torch.Tensor, *, progress: bool) -> None:
        rgb = self._small(x).permute(0, 2, 3, 1).numpy()
        pos = self._positions(x).numpy()
        ok = (
            F.interpolate(valid[:, None].float(), size=(self.net_size,) * 2, mode="nearest")[:, 0].numpy()
            > 0.5
        )
        rng = np.random.default_rng(self.seed)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            recon, disc = UNet(3, 3, self.width, 3, skips=False), UNet(6, 1, self.width, 3)
            nn.init.constant_(disc.head.bias, math.log(PRIOR_ANOMALY / (1 - PRIOR_ANOMALY)))
        with training_threads():
            self._train(recon, disc, rgb, pos, ok, rng)
        self.recon_, self.disc_ = recon, disc

    def _train(
        self,
        recon: UNet,
        disc: UNet,
        rgb: np.ndarray,
        pos: np.ndarray,
        ok: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """``steps`` Adam steps on batches with synthetic anomalies (cosine learning-rate decay)."""
        params = list(recon.parameters()) + list(disc.parameters())
        opt = torch.optim.Adam(params, lr=self.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.steps)
        recon.train()
        disc.train()
        n = len(rgb)
        for _step in range(self.steps):
            idx = rng.integers(n, size=self.train_batch)
            clean, dirty, labels = self._batch(rgb, pos, ok, idx, rng)
            rec = torch.sigmoid(recon(dirty))
            logits = disc(torch.cat([dirty, rec], 1))
            loss = F.mse_loss(rec, clean) + ssim_loss(rec, clean) + focal_loss(logits, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        recon.eval()
        disc.eval()

    def _batch(
        self, rgb: np.ndarray, pos: np.ndarray, ok: np.ndarray, idx: np.ndarray, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(clean, with anomaly, label) tensors for training samples ``idx`` (mirrored at random)."""
        clean, dirty, labels = [], [], []
        for i in idx:
            img, p, v = rgb[i], pos[i], ok[i]
            if rng.random() < 0.5:
                img, p, v = img[:, ::-1], p[:, ::-1], v[:, ::-1]
            img, p, v = np.ascontiguousarray(img), np.ascontiguousarray(p), np.ascontiguousarray(v)
            if rng.random() < CLEAN_SHARE:
                out, lab = img, np.zeros(p.shape, bool)
            elif self.anomalies == "thermal":
                out, lab = thermal_anomaly(img, p, v, rng, self.kinds)
            else:
                out, lab = texture_anomaly(img, rgb[int(rng.integers(len(rgb)))], rng)
            clean.append(img)
            dirty.append(out)
            labels.append(lab & v)
        as_t = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).float()  # noqa: E731
        return as_t(clean), as_t(dirty), torch.from_numpy(np.stack(labels))[:, None].float()

    # ------------------------------------------------------------------ scoring
    def _learned(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminative net's anomaly probability, (N, net_size, net_size)."""
        if self.recon_ is None or self.disc_ is None:
            raise ValueError("DRAEM is not fitted")
        small = self._small(x)
        with torch.no_grad():
            rec = torch.sigmoid(self.recon_(small))
            return torch.sigmoid(self.disc_(torch.cat([small, rec], 1)))[:, 0]

    def _raw_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self._fuse(x, self._learned(x))

    def _parts(self, x: torch.Tensor) -> dict[str, torch.Tensor] | None:
        return self._fused_parts(x, self._learned(x))

    def _references(self, x: torch.Tensor) -> torch.Tensor | None:
        """The reconstruction, at the working size (shown beside the input in the result panels)."""
        if self.recon_ is None:
            return None
        with torch.no_grad():
            rec = torch.sigmoid(self.recon_(self._small(x)))
        return F.interpolate(rec, size=x.shape[-2:], mode="bilinear", align_corners=False)

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, torch.Tensor]:
        if self.recon_ is None or self.disc_ is None:
            raise ValueError("DRAEM is not fitted")
        state = {f"recon.{k}": v for k, v in self.recon_.state_dict().items()}
        state.update({f"disc.{k}": v for k, v in self.disc_.state_dict().items()})
        return state

    def _load_state(self, state: dict[str, torch.Tensor]) -> None:
        recon, disc = UNet(3, 3, self.width, 3, skips=False), UNet(6, 1, self.width, 3)
        recon.load_state_dict(_prefixed(state, "recon."))
        disc.load_state_dict(_prefixed(state, "disc."))
        recon.eval()
        disc.eval()
        self.recon_, self.disc_ = recon, disc


def _prefixed(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


__all__ = [
    "ANOMALIES",
    "Draem",
    "UNet",
    "heat_profile",
    "palette_table",
    "render",
    "thermal_anomaly",
    "texture_anomaly",
]
