"""Colour-bar decoding against the camera's raw data: the FLIR pictures of ``flir-radiometric``.

Each picture (``pictures/<name>.png``, no metadata) is decoded by ``temperature_map``; its original
(``radiometric/<name>.jpg``) gives the true °C of every pixel through ``flyr``, resized to the picture. The
truth is registered to the picture first (some cameras save their digital zoom: the picture shows the
centre of the frame enlarged; the zoom is the one whose truth correlates best with the decoded map, column
``zoom``). The error is taken over the pixels that are valid and whose true temperature lies inside the printed scale
(beyond it the picture is saturated). Verdict: ``ok`` when decoded to °C with a median error <= 1 °C,
``WRONG`` when decoded to °C with a larger one, ``rel`` when only relative (with the reason: no bar, labels not
read, or the camera's own spot read-out contradicting the decoded map at its crosshair, ``thermal.readouts``).

Usage: python benchmarks/flir_pictures.py [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "flir-radiometric"
MAX_MEDIAN_ERROR = 1.0  # °C


def truth_for(raw_path: Path, shape: tuple[int, int]) -> np.ndarray:
    """The raw file's °C, resized to the picture (the picture shows the same full frame)."""
    import flyr

    raw = np.asarray(flyr.unpack(str(raw_path)).celsius, np.float32)
    return cv2.resize(raw, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def zoom_crop(truth: np.ndarray, zoom: float) -> np.ndarray:
    """The centre 1/zoom of ``truth``, resized back to its size (a camera's digital zoom of the frame)."""
    h, w = truth.shape
    ch, cw = h / zoom, w / zoom
    m = np.float32([[1 / zoom, 0, (w - cw) / 2], [0, 1 / zoom, (h - ch) / 2]])
    return cv2.warpAffine(truth, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def registered(truth: np.ndarray, values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, float]:
    """Truth under the camera's digital zoom, if any (some pictures show the frame zoomed about its centre):
    the zoom (1..2) whose truth correlates best with the decoded map over the valid pixels."""
    best = (-2.0, 1.0, truth)
    for zoom in np.arange(1.0, 2.001, 0.05):
        t = zoom_crop(truth, float(zoom)) if zoom > 1 else truth
        r = float(np.corrcoef(t[valid], values[valid])[0, 1]) if valid.sum() > 100 else -1.0
        if r > best[0] + 1e-3:
            best = (r, float(zoom), t)
    return best[2], best[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()

    from thermal_anomaly.io import read_image
    from thermal_anomaly.thermal import temperature

    pics = sorted((args.data / "pictures").glob("*.png"))
    head = (
        f"{'picture':30s} {'source':13s} {'unit':8s} {'prt':>3s} {'range °C':>13s} {'true °C':>13s} "
        f"{'med':>5s} {'p95':>5s} {'n px':>6s} {'zoom':>4s} {'ms':>5s}  verdict / reason"
    )
    print(head)
    print("-" * len(head))
    verdicts = []
    for p in pics:
        img = read_image(p)
        t = time.perf_counter()
        tm = temperature.temperature_map(img)
        ms = 1000 * (time.perf_counter() - t)
        raw = args.data / "radiometric" / f"{p.stem}.jpg"
        truth = truth_for(raw, img.shape[:2]) if raw.exists() else None
        # the unit the scale was printed in, when its numbers were read (the map is °C either way)
        printed = (tm.converted_from or "C") if tm.source == "colorbar+ocr" else "-"
        rng = f"{tm.range[0]:.1f}..{tm.range[1]:.1f}" if tm.range else "-"
        true_txt, med, p95, n, verdict = "-", float("nan"), float("nan"), 0, "rel"
        if truth is not None:
            # the scene's 1st..99th percentile: a hint of the range the scale should cover
            true_txt = f"{np.percentile(truth, 1):.1f}..{np.percentile(truth, 99):.1f}"
        zoom = 1.0
        if tm.unit == "C" and truth is not None:
            lo, hi = tm.range
            # register on the pixels inside the scale: those clipped at its ends (a sky far below it) carry
            # no correlation and can pull the zoom off
            inner = tm.valid & (tm.values > lo + 0.01 * (hi - lo)) & (tm.values < hi - 0.01 * (hi - lo))
            truth, zoom = registered(truth, tm.values, inner)
            m = tm.valid & (truth >= lo) & (truth <= hi)
            n = int(m.sum())
            if n:
                err = np.abs(tm.values[m] - truth[m])
                med, p95 = float(np.median(err)), float(np.percentile(err, 95))
            verdict = "ok" if n and med <= MAX_MEDIAN_ERROR else "WRONG"
        elif tm.unit == "C":
            verdict = "?"
        verdicts.append(verdict)
        note = verdict + (f"  {tm.reason}" if tm.reason else "")
        print(
            f"{p.stem[:30]:30s} {tm.source[:13]:13s} {tm.unit:8s} {printed:>3s} {rng:>13s} {true_txt:>13s} "
            f"{med:5.2f} {p95:5.2f} {n:6d} {zoom:4.2f} {ms:5.0f}  {note}",
            flush=True,
        )
    print()
    print(
        f"decoded to °C within {MAX_MEDIAN_ERROR:g} °C median: {verdicts.count('ok')}/{len(verdicts)}; "
        f"WRONG: {verdicts.count('WRONG')}; relative: {verdicts.count('rel')}"
    )


if __name__ == "__main__":
    main()
