"""Bare frames from other cameras: does the map peak on the hottest part of a scene it has never seen?

Fixed and drone cameras often export bare frames: a palette, no colour bar, no numbers, no overlays,
auto-ranged, the hottest part often clipped to the palette's end (a saturated blob). This benchmark makes such
frames from real scenes with a known temperature per pixel: every FLIR radiometric file of
``flir-radiometric`` (``flyr``'s °C, 14 scenes from many camera models, none of them transformers) is drawn by
``thermal.camera_picture.bare_frame``: 640 px on the long side, the palette spread in the detector's signal as
cameras do, no bar, no numbers:

- ``auto``: the camera's auto range (the scene's 0.5th..99.5th percentile);
- ``clipped``: the palette's hot end at the 97th percentile, so the hottest 3 % are one saturated colour.

The default detector, fitted on the development normals (transformers), scores each frame as a user's
``predict`` would (``ThermalAnalysis`` of the pixels). Per palette and range, over the 14 scenes:

- "peak on hot": the anomaly map's maximum within 5 % of the diagonal of the scene's hot region: true °C at
  least 90 % of the way from the 1st to the 99.9th percentile, or at the palette's end (on a clipped frame the
  saturated blob is all one colour: nothing in the frame tells its parts apart);
- "brightest on hot": the same for the frame's hottest decoded pixel (what a person looking at the picture
  sees first);
- "palette": the palette the tool guessed is the one rendered (or its FLIR twin: ``iron`` / ``flir_iron``);
- "overlay": mean share of the frame the tool leaves out as camera overlay (a bare frame has none but the
  frame band: ~4 % of a 640 px frame);
- "flagged": share of frames called anomalous (these scenes are not transformers: novelty is expected).

No constant of the tool is tuned on these frames: they measure how it carries to cameras and scenes it was
not developed on.

Usage: python benchmarks/bare_frames.py [--radiometric DIR] [--data DIR] [--detector SPEC] [--save DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmark import DEFAULT_DATA, _setup_threads, fit_on_normals, load_dev

DEFAULT_RADIOMETRIC = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "flir-radiometric"
#: palettes rendered: two vendors' irons, a rainbow and a white-hot grey
PALETTES = ("flir_iron", "iron", "rainbow", "white_hot")
#: the range versions: (name, percentile at the palette's hot end; None: the camera's auto range)
RANGES = (("auto", None), ("clipped", 97.0))
#: the hot region: true °C this share of the way up the scene's span
HOT_SHARE = 0.9
#: "on hot": within this share of the frame's diagonal of the hot region
NEAR = 0.05
#: names of one palette family (a guess of either is right)
TWINS = {"iron": "flir_iron", "flir_iron": "iron", "rainbow": "flir_rainbow", "flir_rainbow": "rainbow"}


def scene_celsius(path: Path) -> np.ndarray | None:
    import flyr

    try:
        return np.asarray(flyr.unpack(str(path)).celsius, np.float32)
    except Exception as exc:  # noqa: BLE001 - a file flyr cannot read is reported and left out
        print(f"{path.name}: not read by flyr ({exc})", file=sys.stderr)
        return None


def render(
    celsius: np.ndarray, palette: str, top_percentile: float | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """(the bare frame as float RGB, the true °C at the frame's size, the °C at the palette's hot end)."""
    from thermal_anomaly.thermal.camera_picture import bare_frame

    pic = bare_frame(celsius, palette, top_percentile)
    return pic.rgb.astype(np.float32) / 255.0, pic.truth, pic.scale[1]


def hot_distance(point: tuple[int, int], truth: np.ndarray, top: float) -> float:
    """Distance (share of the diagonal) from ``point`` (y, x) to the scene's hot region (``top``: the °C at
    the palette's hot end)."""
    lo, hi = np.percentile(truth, [1.0, 99.9])
    hot = truth >= min(lo + HOT_SHARE * (hi - lo), top)
    dist = cv2.distanceTransform((~hot).astype(np.uint8), cv2.DIST_L2, 5)
    return float(dist[point]) / float(np.hypot(*truth.shape))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--radiometric", type=Path, default=DEFAULT_RADIOMETRIC)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the development set (fits the model)")
    ap.add_argument("--detector", default="patchcore")
    ap.add_argument("--save", type=Path, default=None, help="folder for each frame beside its anomaly map")
    args = ap.parse_args()
    _setup_threads()

    from thermal_anomaly.thermal.analysis import ThermalAnalysis
    from thermal_anomaly.thermal.temperature import GUESSED_PREFIX
    from thermal_anomaly.visualize import heatmap_rgb

    t0 = time.perf_counter()
    det = fit_on_normals(*load_dev(args.data), args.detector)
    scenes = {p.stem: scene_celsius(p) for p in sorted((args.radiometric / "radiometric").glob("*.jpg"))}
    scenes = {k: v for k, v in scenes.items() if v is not None}
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    print(
        "| palette | range | frames | peak on hot | brightest on hot | palette guessed | overlay | flagged |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    misses: list[str] = []
    for palette in PALETTES:
        for range_name, top in RANGES:
            peak_hits = bright_hits = right_palette = flagged = 0
            overlay = []
            for name, celsius in scenes.items():
                frame, truth, top_c = render(celsius, palette, top)
                analysis = ThermalAnalysis(frame)
                pred = det.score([analysis])
                amap = pred.anomaly_map[0]
                peak = tuple(int(v) for v in np.unravel_index(np.argmax(amap), amap.shape))
                on_hot = hot_distance(peak, truth, top_c) <= NEAR
                peak_hits += on_hot
                if not on_hot:
                    misses.append(f"{palette}/{range_name}/{name}")
                temp = analysis.temperature
                vals = np.where(np.asarray(temp.valid, bool), temp.values, -np.inf)
                if np.isfinite(vals).any():
                    hottest = tuple(int(v) for v in np.unravel_index(np.argmax(vals), vals.shape))
                    bright_hits += hot_distance(hottest, truth, top_c) <= NEAR
                guessed = (
                    temp.source.removeprefix(GUESSED_PREFIX) if temp.source.startswith(GUESSED_PREFIX) else ""
                )
                right_palette += guessed in (palette, TWINS.get(palette))
                overlay.append(float(np.asarray(analysis.overlay, bool).mean()))
                flagged += bool(pred.pred_label[0])
                if args.save:
                    heat = heatmap_rgb(amap, float(amap.min()), float(amap.max()))
                    both = np.ascontiguousarray(np.hstack([np.rint(frame * 255).astype(np.uint8), heat]))
                    cv2.circle(both, (peak[1] + frame.shape[1], peak[0]), 8, (255, 255, 255), 2)
                    out = args.save / f"{palette}_{range_name}_{name}.png"
                    cv2.imwrite(str(out), cv2.cvtColor(both, cv2.COLOR_RGB2BGR))
            n = len(scenes)
            print(
                f"| {palette} | {range_name} | {n} | {peak_hits}/{n} | {bright_hits}/{n} | {right_palette}/{n} | "
                f"{100 * np.mean(overlay):.1f} % | {flagged}/{n} |",
                flush=True,
            )
    print(f"\nmap peak off the hot region: {', '.join(misses) or 'none'}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
