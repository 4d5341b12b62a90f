"""Registration of inspections to baselines on the dev set: synthetic re-shots and real pairs.

(a) synthetic: every dev image (or ``--limit`` of them) re-shot by :func:`reshoot` through a random
    homography (shift ≤ 15 %, rotation ≤ 10°, scale 0.85-1.15, a slight tilt) and another palette, the
    camera overlays left in place; the corner error (px at 640 on the long side) of the recovered
    homography against the true one, and the share aligned.
(b) real pairs of one transformer: every pair of its normal images, and every faulty image against every
    normal one; the share aligned per transformer, the reason for each failure, and a contact picture per
    pair under ``--out`` (baseline | inspection warped onto it | checkerboard of the two | rise over the
    baseline in the inspection's frame, regions boxed).

    .venv/bin/python benchmarks/registration.py [--data DIR] [--out DIR] [--limit N] [--seed 0] [--no-real]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from thermal_anomaly.baseline.comparison import Comparison, compare
from thermal_anomaly.baseline.registration import Registration, corner_error, register, reshoot
from thermal_anomaly.thermal.analysis import ThermalAnalysis
from thermal_anomaly.thermal.palette import palette_lut

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "transformer-thermal"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}
#: palettes a re-shot is repainted with (one drawn per image)
PALETTES = ("iron", "arctic", "lava", "rainbow_hc", "white_hot")
#: random re-shot: largest shift (share of the side), rotation (degrees), scale range, tilt (perspective
#: terms, per px at 640 on the long side: ±3 % depth change across the picture)
MAX_SHIFT = 0.15
MAX_ROTATION = 10.0
SCALE_RANGE = (0.85, 1.15)
MAX_TILT = 5e-5
#: side of one panel of a contact picture
PANEL = 360


def images(data: Path, transformer: str, kind: str) -> list[Path]:
    return sorted(p for p in (data / transformer / kind).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def random_homography(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A re-shot's motion, baseline px → new px, about the picture's centre."""
    h, w = shape
    ang = np.deg2rad(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
    s = rng.uniform(*SCALE_RANGE)
    tx, ty = rng.uniform(-MAX_SHIFT, MAX_SHIFT, 2) * (w, h)
    px, py = rng.uniform(-MAX_TILT, MAX_TILT, 2) * 640 / max(h, w)
    centre = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]])
    rot = np.array(
        [[s * np.cos(ang), -s * np.sin(ang), 0], [s * np.sin(ang), s * np.cos(ang), 0], [px, py, 1]]
    )
    shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    return shift @ centre @ rot @ np.linalg.inv(centre)


@dataclass
class SyntheticResult:
    name: str
    palette: str
    aligned: bool
    error_median: float
    error_max: float
    registration: Registration
    seconds: float


def synthetic(paths: list[Path], seed: int) -> list[SyntheticResult]:
    """Each image re-shot once; the registration of the re-shot onto the original, timed."""
    rng = np.random.default_rng(seed)
    out = []
    for path in paths:
        base = ThermalAnalysis.from_file(path)
        truth = random_homography(rng, base.shape)
        palette = str(rng.choice(PALETTES))
        shot = ThermalAnalysis(reshoot(base, truth, palette_lut(palette)))
        t0 = time.perf_counter()
        reg = register(shot, base)
        secs = time.perf_counter() - t0
        err = corner_error(reg, np.linalg.inv(truth)) if reg.aligned else np.full(4, np.nan)
        res = SyntheticResult(
            path.name, palette, reg.aligned, float(np.median(err)), float(err.max()), reg, secs
        )
        print(
            f"  {path.name:26s} {palette:10s} {'aligned' if reg.aligned else 'NOT':7s} "
            f"err median {res.error_median:6.2f} max {res.error_max:6.2f} px  inliers {reg.inliers:4d} "
            f"({reg.inlier_ratio:.2f})  {reg.refined or '-':8s} {reg.side} {secs:.2f}s {reg.reason}",
            flush=True,
        )
        out.append(res)
    return out


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor((np.clip(rgb, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)


def _panel(img: np.ndarray, title: str) -> np.ndarray:
    h, w = img.shape[:2]
    s = PANEL / max(h, w)
    small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((PANEL + 22, PANEL, 3), np.uint8)
    canvas[22 : 22 + small.shape[0], : small.shape[1]] = small
    cv2.putText(canvas, title[:48], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


def _difference_picture(cmp: Comparison, span: float) -> np.ndarray:
    """Rise over the baseline: blue cooler, red warmer (±``span``), grey where not compared, regions
    boxed."""
    d = cmp.difference
    t = np.clip((np.nan_to_num(d) / span + 1) / 2, 0, 1)
    col = cv2.applyColorMap((t * 255).astype(np.uint8), cv2.COLORMAP_JET)
    col[~np.isfinite(d)] = (60, 60, 60)
    thick = max(1, round(max(d.shape) / 300))
    for r in cmp.regions[:10]:
        x0, y0, x1, y1 = r.box
        cv2.rectangle(col, (x0, y0), (x1, y1), (255, 255, 255), thick)
    return col


def contact(
    base: ThermalAnalysis, insp: ThermalAnalysis, reg: Registration, cmp: Comparison | None
) -> np.ndarray:
    """One row of panels telling a person whether the pair is aligned and what warmed."""
    b = _bgr(base.rgb)
    if not reg.aligned:
        return np.hstack(
            [
                _panel(b, "baseline"),
                _panel(_bgr(insp.rgb), "inspection: NOT aligned"),
                _panel(np.zeros((8, 8, 3), np.uint8), reg.reason[:48]),
            ]
        )
    h, w = base.shape
    warped = cv2.warpPerspective(_bgr(insp.rgb), reg.homography, (w, h))  # dst(x) = insp(H⁻¹x)
    tile = max(8, max(h, w) // 8)
    yy, xx = np.mgrid[0:h, 0:w]
    checker = np.where((((yy // tile) + (xx // tile)) % 2 == 0)[..., None], b, warped)
    panels = [
        _panel(b, "baseline"),
        _panel(warped, f"inspection warped ({reg.inliers} inl)"),
        _panel(checker, f"checker, corr {reg.correlation:.2f}"),
    ]
    if cmp is not None and cmp.ok:
        span = 10.0 if cmp.unit == "C" else 0.2
        worst = f", max +{cmp.regions[0].max_rise:.1f}" if cmp.regions else ""
        panels.append(_panel(_difference_picture(cmp, span), f"rise +-{span:g} {cmp.unit}{worst}"))
    elif cmp is not None:
        panels.append(_panel(np.zeros((8, 8, 3), np.uint8), cmp.reason[:48]))
    return np.hstack(panels)


def real_pairs(data: Path) -> list[tuple[str, str, Path, Path]]:
    """(transformer, kind, inspection, baseline): normal pairs (later onto earlier), faulty onto normal."""
    pairs = []
    for t in sorted(p.name for p in data.glob("T*") if p.is_dir()):
        normals, faulty = images(data, t, "normal"), images(data, t, "faulty")
        pairs += [(t, "normal-normal", b, a) for a, b in itertools.combinations(normals, 2)]
        pairs += [(t, "faulty-normal", f, n) for f in faulty for n in normals]
    return pairs


def real(data: Path, out: Path | None) -> list[tuple[str, str, str, str, Registration]]:
    cache: dict[Path, ThermalAnalysis] = {}

    def load(p: Path) -> ThermalAnalysis:
        if p not in cache:
            cache[p] = ThermalAnalysis.from_file(p)
        return cache[p]

    rows = []
    for t, kind, ip, bp in real_pairs(data):
        ia, ba = load(ip), load(bp)
        reg = register(ia, ba)
        cmp = compare(ia, ba, reg) if reg.aligned else None
        rows.append((t, kind, ip.name, bp.name, reg))
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            name = f"{t}_{ip.name.split('.')[0]}__on__{bp.name.split('.')[0]}.jpg"
            cv2.imwrite(str(out / name), contact(ba, ia, reg, cmp), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return rows


def summarise_synthetic(results: list[SyntheticResult]) -> None:
    ok = [r for r in results if r.aligned]
    med = np.array([r.error_median for r in ok])
    worst = np.array([r.error_max for r in ok])
    print("\n(a) synthetic re-shots (corner error in px at 640 on the long side)")
    print(
        "| images | aligned | median of per-image median corner error | p90 "
        "| median max-corner | p90 max-corner | s/pair |"
    )
    print("|---|---|---|---|---|---|---|")
    if ok:
        print(
            f"| {len(results)} | {len(ok)}/{len(results)} ({len(ok) / len(results):.0%}) "
            f"| {np.median(med):.2f} | "
            f"{np.percentile(med, 90):.2f} | {np.median(worst):.2f} | {np.percentile(worst, 90):.2f} | "
            f"{np.median([r.seconds for r in results]):.2f} |"
        )
    for r in results:
        if not r.aligned:
            print(f"  not aligned: {r.name} ({r.palette}): {r.registration.reason}")
    bad = [r for r in ok if r.error_max > 5]
    for r in bad:
        print(f"  aligned but off: {r.name} ({r.palette}): max corner error {r.error_max:.1f} px")


def summarise_real(rows: list[tuple[str, str, str, str, Registration]]) -> None:
    print("\n(b) real pairs of one transformer: aligned / pairs")
    print("| transformer | normal-normal | faulty-normal |")
    print("|---|---|---|")
    counts: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for t, kind, _, _, reg in rows:
        counts[(t, kind)].append(reg.aligned)
    for t in sorted({t for t, *_ in rows}):
        cells = []
        for kind in ("normal-normal", "faulty-normal"):
            v = counts.get((t, kind), [])
            cells.append(f"{sum(v)}/{len(v)}" if v else "-")
        print(f"| {t} | {cells[0]} | {cells[1]} |")
    allv = [reg.aligned for *_, reg in rows]
    print(f"| all | | {sum(allv)}/{len(allv)} ({sum(allv) / max(len(allv), 1):.0%}) |")
    reasons: dict[str, int] = defaultdict(int)
    for t, _kind, i, b, reg in rows:
        if not reg.aligned:
            reasons[reg.reason.split(":")[0]] += 1
            print(f"  not aligned: {t} {i} onto {b}: {reg.reason}")
    print("  failure reasons:", dict(reasons))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=None, help="folder for the real pairs' contact pictures")
    ap.add_argument(
        "--limit", type=int, default=0, help="synthetic: every n-th image so that about N are used"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--no-synthetic", action="store_true")
    args = ap.parse_args(argv)
    paths = sorted(p for p in args.data.glob("T*/*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if args.limit and len(paths) > args.limit:
        paths = paths[:: int(np.ceil(len(paths) / args.limit))]
    if not args.no_synthetic:
        print(f"(a) synthetic: {len(paths)} images, seed {args.seed}")
        summarise_synthetic(synthetic(paths, args.seed))
    if not args.no_real:
        summarise_real(real(args.data, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
