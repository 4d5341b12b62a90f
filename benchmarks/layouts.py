"""Colour bars of layouts no development camera has: pictures drawn from real radiometric frames.

Each FLIR radiometric file of ``flir-radiometric`` gives a true °C field (its raw data with the file's own
object parameters). It is drawn as a camera would draw it (``thermal.camera_picture``: scale auto-ranged,
palette spread in signal, a colour bar with its end labels) in each layout, palette, label style and unit,
and the picture (no metadata) is decoded by ``temperature_map``. The truth is the field itself, so every pixel
of the scene is checked, not one read-out.

Verdicts as ``flir_pictures.py``: ``ok`` decoded to °C with a median error <= 1 °C over the valid scene
pixels whose truth lies inside the printed scale; ``WRONG`` decoded to °C with a larger one; ``rel`` only
relative (with the reason). A ``WRONG`` breaks "never a wrong °C"; a ``rel`` is a reading lost.

Usage: python benchmarks/layouts.py [--data DIR] [--layouts right,left,...] [--palettes flir_iron,...]
                                    [--styles box,outline,plain] [--units C,F] [--bare] [--list] [--save DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "flir-radiometric"
MAX_MEDIAN_ERROR = 1.0  # °C
PALETTES = ("flir_iron", "flir_rainbow", "white_hot", "lava")


def judge(tm, truth: np.ndarray) -> tuple[str, float]:
    """(verdict, median error °C) of a decoded map against the truth (NaN: not scene)."""
    if tm.unit != "C":
        return "rel", float("nan")
    lo, hi = tm.range
    m = tm.valid & np.isfinite(truth) & (truth >= lo) & (truth <= hi)
    if not m.any():
        return "WRONG", float("nan")
    med = float(np.median(np.abs(tm.values[m] - truth[m])))
    return ("ok" if med <= MAX_MEDIAN_ERROR else "WRONG"), med


def main() -> None:
    from thermal_anomaly.thermal import radiometric
    from thermal_anomaly.thermal.camera_picture import LAYOUTS, camera_picture
    from thermal_anomaly.thermal.temperature import temperature_map

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--layouts", default=",".join(LAYOUTS))
    ap.add_argument("--palettes", default=",".join(PALETTES))
    ap.add_argument("--styles", default="box,outline,plain")
    ap.add_argument("--units", default="C,F", help="°F once per layout and style, with the first palette")
    ap.add_argument("--bare", action="store_true", help="labels without the unit sign after the number")
    ap.add_argument("--only", default="", help="files whose name contains this")
    ap.add_argument("--save", type=Path, default=None, help="folder for the drawn pictures")
    ap.add_argument("--list", action="store_true", help="one line per picture (else the WRONG ones only)")
    args = ap.parse_args()

    fields = []
    for p in sorted((args.data / "radiometric").glob("*.jpg")):
        if args.only and args.only not in p.name:
            continue
        rad, why = radiometric.read(p)
        if rad is None:
            print(f"{p.name}: skipped ({why})")
            continue
        fields.append((p.stem, np.asarray(rad.celsius, np.float32)))
    palettes = args.palettes.split(",")
    combos = [
        (unit, style, layout, palette)
        for unit in args.units.split(",")
        for style in args.styles.split(",")
        for layout in args.layouts.split(",")
        for palette in palettes
        if unit == "C" or palette == palettes[0]
    ]
    rows = []
    t0 = time.perf_counter()
    for unit, style, layout, palette in combos:
        for name, celsius in fields:
            pic = camera_picture(celsius, layout, palette, unit, style=style, suffix=not args.bare)
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                out = args.save / f"{name}-{layout}-{palette}-{style}-{unit}.png"
                cv2.imwrite(str(out), pic.rgb[..., ::-1])
            t = time.perf_counter()
            tm = temperature_map(pic.rgb)
            ms = 1000 * (time.perf_counter() - t)
            verdict, med = judge(tm, pic.truth)
            rows.append((unit, style, layout, palette, name, verdict, med, ms))
            if args.list or verdict == "WRONG":
                lo, hi = pic.scale
                rng = f"{tm.range[0]:.1f}..{tm.range[1]:.1f}" if tm.range else "-"
                print(
                    f"{unit} {style:7s} {layout:6s} {palette:12s} {name[:26]:26s} printed {lo:.1f}..{hi:.1f} "
                    f"read {rng:13s} {verdict:5s} {med:5.2f} {ms:5.0f} ms  {tm.reason[:80]}",
                    flush=True,
                )
    print()
    print("| unit | style | layout | ok | WRONG | relative | median error °C (ok) |")
    print("|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, str, str], list] = {}
    for r in rows:
        groups.setdefault(r[:3], []).append(r)
    for key, rs in groups.items():
        c = Counter(r[5] for r in rs)
        errs = [r[6] for r in rs if r[5] == "ok"]
        med = f"{np.median(errs):.2f}" if errs else "-"
        print(f"| {' | '.join(key)} | {c['ok']}/{len(rs)} | {c['WRONG']} | {c['rel']} | {med} |")
    c = Counter(r[5] for r in rows)
    print(
        f"\nall: {c['ok']}/{len(rows)} ok, {c['WRONG']} WRONG, {c['rel']} relative "
        f"({len(fields)} fields); median decode {np.median([r[7] for r in rows]):.0f} ms; "
        f"wall {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
