"""The original AutoEncoder baseline, kept as specified, and its U-Net variant.

One fix to the original design: inputs are fed in [0, 1]. The original fed ImageNet-normalised inputs
(roughly [-2.1, 2.6]) into a Sigmoid output that can only produce [0, 1], so the reconstruction error was
dominated by values the network could never reach, and normal images scored as more anomalous than faulty
ones.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import register
from .base import Detector

#: augmentation: share of training pictures mirrored left-right (a transformer looks alike either way)
FLIP_PROBABILITY = 0.5
#: augmentation: largest rotation, degrees (camera roll of hand-held inspections)
MAX_ROTATION_DEG = 15
#: augmentation: full width of the brightness and contrast factors around 1 (±20 %: exposure and palette range)
JITTER = 0.4
#: learning rate is multiplied by this when the validation loss stops improving ...
LR_DECAY = 0.5
#: ... for this many epochs
LR_PATIENCE = 3
#: least fall of the validation loss that counts as an improvement (early stopping, best weights)
MIN_IMPROVEMENT = 1e-6


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class AnomalyAutoEncoder(nn.Module):
    """Convolutional AutoEncoder: (3, 256, 256) -> latent (128, 8, 8) -> (3, 256, 256) in [0, 1]."""

    def __init__(self, in_channels: int = 3, latent_channels: int = 128) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            _down(in_channels, 32),
            _down(32, 64),
            _down(64, 128),
            _down(128, 256),
            _down(256, latent_channels),
        )
        self.decoder = nn.Sequential(
            _up(latent_channels, 256),
            _up(256, 128),
            _up(128, 64),
            _up(64, 32),
            nn.ConvTranspose2d(32, in_channels, 3, stride=2, padding=1, output_padding=1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def get_anomaly_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-pixel absolute error averaged over channels (N, H, W), reconstruction)."""
        recon = self.forward(x)
        return (x - recon).abs().mean(dim=1), recon


def double_conv(cin: int, cout: int) -> nn.Sequential:
    """Two 3×3 convolutions, each with batch norm and ReLU: the U-Nets' block (here and DRAEM's)."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ImprovedAutoEncoder(nn.Module):
    """U-Net AutoEncoder: 32-64-128-256 encoder, 512 bottleneck, transposed-conv up with skips."""

    def __init__(self, in_channels: int = 3, base: int = 32) -> None:
        super().__init__()
        chans = [base, base * 2, base * 4, base * 8]
        self.enc = nn.ModuleList()
        cin = in_channels
        for c in chans:
            self.enc.append(double_conv(cin, c))
            cin = c
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = double_conv(chans[-1], chans[-1] * 2)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        cin = chans[-1] * 2
        for c in reversed(chans):
            self.up.append(nn.ConvTranspose2d(cin, c, 2, stride=2))
            self.dec.append(double_conv(c * 2, c))
            cin = c
        self.out = nn.Sequential(nn.Conv2d(chans[0], in_channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.enc:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips), strict=True):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.out(x)

    def get_anomaly_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        recon = self.forward(x)
        return (x - recon).abs().mean(dim=1), recon


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Horizontal flip, rotation within ±``MAX_ROTATION_DEG``, brightness/contrast jitter (per image, seeded)."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < FLIP_PROBABILITY
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    angle = (torch.rand(n, generator=gen) * (2 * MAX_ROTATION_DEG) - MAX_ROTATION_DEG) * math.pi / 180
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, torch.zeros(n)], 1), torch.stack([sin, cos, torch.zeros(n)], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    brightness = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * JITTER
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * JITTER
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean * brightness).clamp(0, 1)


class _AutoEncoderDetector(Detector):
    """Reconstruction-error detector; the anomaly map is the per-pixel error."""

    state_key = "model_state_dict"
    architecture: type[nn.Module] = AnomalyAutoEncoder

    def __init__(
        self,
        *,
        epochs: int = 50,
        batch_size: int = 8,
        learning_rate: float = 1e-3,
        seed: int = 0,
        val_fraction: float = 0.2,
        patience: int = 10,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self.seed = int(seed)
        self.val_fraction = float(val_fraction)
        self.patience = int(patience)
        torch.manual_seed(self.seed)
        self.model = self.architecture()
        self.model.eval()
        self.history_: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "lr": []}
        self.best_epoch_: int = -1
        self.final_state_: dict[str, torch.Tensor] | None = None
        self.val_index_: np.ndarray = np.zeros(0, dtype=int)

    def _split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(n)
        n_val = int(round(n * self.val_fraction)) if n >= 2 else 0
        n_val = max(1, n_val) if n >= 2 else 0
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def _fit(self, x: torch.Tensor, valid: torch.Tensor, *, progress: bool) -> None:
        """Train with early stopping on a held-out share of the normals (``val_index_``, kept: calibration
        and ``recalibrate`` score those never-trained-on normals)."""
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        train_idx, val_idx = self._split(len(x))
        self.val_index_ = val_idx
        x_train, x_val = x[train_idx], x[val_idx]
        model = self.model
        opt = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=LR_DECAY, patience=LR_PATIENCE
        )
        best_loss, best_state, stale = math.inf, copy.deepcopy(model.state_dict()), 0
        bar = tqdm(range(self.epochs), desc=f"train {self.name}", disable=not progress, unit="epoch")
        for epoch in bar:
            model.train()
            perm = torch.randperm(len(x_train), generator=gen)
            total = 0.0
            for start in range(0, len(x_train), self.batch_size):
                batch = augment(x_train[perm[start : start + self.batch_size]], gen)
                if len(batch) < 2 and len(x_train) >= 2:  # BatchNorm needs two samples
                    continue
                opt.zero_grad()
                loss = F.mse_loss(model(batch), batch)
                loss.backward()
                opt.step()
                total += loss.item() * len(batch)
            train_loss = total / max(1, len(x_train))
            model.eval()
            with torch.no_grad():
                val_loss = float(F.mse_loss(model(x_val), x_val)) if len(x_val) else train_loss
            sched.step(val_loss)
            self.history_["train_loss"].append(train_loss)
            self.history_["val_loss"].append(val_loss)
            self.history_["lr"].append(opt.param_groups[0]["lr"])
            bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
            if val_loss < best_loss - MIN_IMPROVEMENT:
                best_loss, best_state, stale = val_loss, copy.deepcopy(model.state_dict()), 0
                self.best_epoch_ = epoch
            else:
                stale += 1
                if stale >= self.patience:
                    break
        self.final_state_ = copy.deepcopy(model.state_dict())
        model.load_state_dict(best_state)
        model.eval()

    def _calibration_maps(self, x, valid, fitted=None, *, progress):
        """Validation normals were never trained on: their maps set the score scale."""
        idx = self.val_index_ if len(self.val_index_) else np.arange(len(x))
        with torch.no_grad():
            return idx, self._raw_maps(x[idx])

    def _raw_maps(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        with torch.no_grad():
            amap, _ = self.model.get_anomaly_map(x)
        return amap

    def _references(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.model(x)

    def _state(self) -> dict[str, torch.Tensor]:
        return dict(self.model.state_dict())

    def _load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state, strict=True)
        self.model.eval()

    def use_final_weights(self) -> None:
        """Switch to the last epoch's weights (for ``final_model.pth``)."""
        if self.final_state_ is not None:
            self.model.load_state_dict(self.final_state_)
            self.model.eval()


@register
class AutoEncoderDetector(_AutoEncoderDetector):
    """The original convolutional AutoEncoder."""

    name = "autoencoder"
    architecture = AnomalyAutoEncoder


@register
class UNetAutoEncoderDetector(_AutoEncoderDetector):
    """The U-Net AutoEncoder with skip connections."""

    name = "unet-autoencoder"
    architecture = ImprovedAutoEncoder
