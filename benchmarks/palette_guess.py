"""How well a frame without a colour bar is read: the palette guessed from its scene colours against the
palette its own bar shows, on every picture that has a bar (the development images and the FLIR pictures).

For each picture with a bar: the named palette nearest the bar's colours (median ΔE; "same" also counts any
palette within 3 ΔE of that one, e.g. ``iron`` and ``flir_iron``), the palette ``fit_palette`` guesses
from the scene alone (overlays and the bar masked), and the share of the scene's pixels each of them
decodes (within ``MAX_DELTA_E`` of the palette): what a bare frame from that camera would keep.

Usage: python benchmarks/palette_guess.py [--data DIR] [--flir DIR]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SAME_DE = 3.0


def pictures(data: Path, flir: Path) -> list[Path]:
    dev = [p for p in sorted(data.glob("T*/*/*")) if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
    return dev + sorted((flir / "pictures").glob("*.png"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "transformer-thermal")
    ap.add_argument("--flir", type=Path, default=ROOT / "flir-radiometric")
    args = ap.parse_args()

    from scipy.spatial import cKDTree
    from tqdm import tqdm

    from thermal_anomaly.io import read_image
    from thermal_anomaly.thermal.analysis import ThermalAnalysis
    from thermal_anomaly.thermal.palette import (
        MAX_DELTA_E,
        PALETTES,
        colors_to_position,
        fit_palette,
        palette_lut,
        to_lab,
    )

    trees = {n: cKDTree(to_lab(palette_lut(n, 1024))) for n in PALETTES}
    rows = []
    for path in tqdm(pictures(args.data, args.flir), desc="pictures"):
        a = ThermalAnalysis(read_image(path))
        if a.bar is None:
            continue
        lab = to_lab(a.bar.colors)
        err = {n: float(np.median(trees[n].query(lab)[0])) for n in PALETTES}
        bar_name = min(err, key=err.get)
        guess, _ = fit_palette(a.rgb, a.overlay)
        scene = ~a.overlay
        kept = {}
        for n in (bar_name, guess):
            _, bad = colors_to_position(a.rgb, palette_lut(n), MAX_DELTA_E)
            kept[n] = float((~bad & scene).sum() / max(1, scene.sum()))
        same = err[guess] <= err[bar_name] + SAME_DE
        rows.append((path.name, bar_name, err[bar_name], guess, same, kept[bar_name], kept[guess]))

    print(
        f"{'picture':28s} {'bar palette':16s} {'ΔE':>5s} {'guessed':16s} {'same':>4s} {'kept bar':>8s} {'kept guess':>10s}"
    )
    for name, bar_name, de, guess, same, kb, kg in rows:
        if not same:
            print(f"{name[:28]:28s} {bar_name:16s} {de:5.1f} {guess:16s} {'no':>4s} {kb:8.0%} {kg:10.0%}")
    n_same = sum(r[4] for r in rows)
    print(
        f"\npictures with a bar: {len(rows)}; guess = bar's palette: {n_same}/{len(rows)} (others listed above)"
    )
    print("bar palettes:", dict(Counter(r[1] for r in rows)))
    print(
        f"scene pixels decoded, median: bar's palette {np.median([r[5] for r in rows]):.0%}, "
        f"guessed {np.median([r[6] for r in rows]):.0%}"
    )


if __name__ == "__main__":
    main()
