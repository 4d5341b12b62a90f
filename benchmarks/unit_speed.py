"""Wall-clock times of the cases the unit tests once timed (issue 12: timing asserts fail on a busy machine).

Each case is run once to warm up (imports, caches), then ``--repeats`` times; the table gives the median,
the fastest and the slowest run in milliseconds, next to the limit the test used to assert (a median over
that limit is worth a look, on an idle machine). The inputs are the tests' own:

- ``hotspot_map 6 MP``: ``hotspot_map`` of a 1920×3077 °C map with one 30 px hot spot
  (``tests/unit/test_hotspots.py::test_large_image_keeps_small_spots``; was asserted < 500 ms);
- ``overlay_mask 640``: ``overlay_mask`` of a 640×640 JET scene with camera UI drawn on it
  (``tests/unit/test_overlays.py::test_large_image_downscaled_finds_the_bar_again``; median of 5 was
  asserted < 100 ms);
- ``overlay_mask 6 MP``: the same scene resized to 1920×3077 (not timed by the test before);
- ``make_demo_dataset``: the synthetic demo data set, 36 images of 256×256 with masks, written to a
  temporary folder (``tests/unit/test_synthetic.py::test_demo_dataset_layout_loads_with_masks``; was
  asserted < 4 s).

and the pieces of ``Detector.score`` / ``report.rate_image`` that were made faster (never asserted):

- ``find_hotspots 6 MP``: ``find_hotspots`` of the same 1920×3077 map;
- ``backbone torch 256`` / ``backbone onnxruntime 256``: the default PatchCore taps of one 256 px picture
  on each engine (the second only when ONNX Runtime is installed);
- ``nearest_distance``: 1024 patch features (32×32 grid) against a 2,000-row bank of 152 features.

Threads are limited to ``--threads`` (default 1) for torch, OpenCV and the BLAS pools, as the old test
comments measured them ("on one core").

Usage: python benchmarks/unit_speed.py [--repeats N] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _limit_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    import cv2
    import torch

    cv2.setNumThreads(n)
    torch.set_num_threads(n)


def _cases(tmp: Path) -> list[tuple[str, float | None, Callable[[], object]]]:
    """(name, the limit the test used to assert in seconds or None, the call to time)."""
    import cv2
    import numpy as np

    sys.path.insert(0, str(REPO))  # the tests' scene builders, so the inputs are exactly theirs
    from tests.unit.test_overlays import _add_ui, _scene

    from thermal_anomaly.synthetic import make_demo_dataset
    from thermal_anomaly.thermal.hotspots import find_hotspots, hotspot_map
    from thermal_anomaly.thermal.overlays import overlay_mask
    from thermal_anomaly.thermal.temperature import TemperatureMap

    h, w = 1920, 3077
    t = np.full((h, w), 25.0, np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    t[(yy - 900) ** 2 + (xx - 1500) ** 2 < 15**2] = 45.0
    temp = TemperatureMap(t, "C", np.ones((h, w), bool), "bench")

    rgb, _ = _scene(h=640, w=640)
    _add_ui(rgb)
    big = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)

    runs = iter(range(10**6))

    def demo() -> object:
        return make_demo_dataset(tmp / f"demo{next(runs)}", seed=0)

    return [
        ("hotspot_map 6 MP", 0.5, lambda: hotspot_map(temp)),
        ("find_hotspots 6 MP", None, lambda: find_hotspots(temp)),
        ("overlay_mask 640", 0.1, lambda: overlay_mask(rgb)),
        ("overlay_mask 6 MP", None, lambda: overlay_mask(big)),
        ("make_demo_dataset", 4.0, demo),
        *_detector_cases(),
    ]


def _detector_cases() -> list[tuple[str, float | None, Callable[[], object]]]:
    """The backbone on each installed engine, and the memory-bank search, on fixed random inputs."""
    import torch

    from thermal_anomaly.backbones import FeatureExtractor, onnxruntime_available
    from thermal_anomaly.detectors.patchcore import index_bank, nearest_distance

    gen = torch.Generator().manual_seed(0)
    picture = torch.rand(1, 3, 256, 256, generator=gen)
    queries, bank = torch.randn(1024, 152, generator=gen), torch.randn(2000, 152, generator=gen)
    index = index_bank(bank)
    engines = ["torch", "onnxruntime"] if onnxruntime_available() else ["torch"]
    cases: list[tuple[str, float | None, Callable[[], object]]] = []
    for engine in engines:
        extractor = FeatureExtractor("efficientnet-lite0", ("stage2", "stage4"), engine=engine)
        cases.append((f"backbone {engine} 256", None, lambda e=extractor: e(picture)))
    cases.append(("nearest_distance", None, lambda: nearest_distance(queries, bank, index=index)))
    return cases


def _time(fn: Callable[[], object], repeats: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per case (after one warm-up)")
    ap.add_argument("--threads", type=int, default=1, help="threads for torch, OpenCV and BLAS")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    _limit_threads(args.threads)
    print(f"{'case':<26} {'median ms':>10} {'min ms':>9} {'max ms':>9} {'old limit ms':>13}")
    with tempfile.TemporaryDirectory(prefix="unit_speed_") as tmp:
        for name, limit, fn in _cases(Path(tmp)):
            times = _time(fn, args.repeats)
            med = statistics.median(times)
            old = f"{limit * 1e3:.0f}" if limit is not None else "-"
            flag = "  over" if limit is not None and med > limit else ""
            row = f"{name:<26} {med * 1e3:>10.1f} {min(times) * 1e3:>9.1f} {max(times) * 1e3:>9.1f} {old:>13}"
            print(row + flag, flush=True)
    print(
        f"({args.repeats} timed runs each after one warm-up, {args.threads} thread(s), load {os.getloadavg()[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
