"""Colours back to temperature on the development images: what each image decodes to, how right, how fast.

For every image: ``temperature_map`` (source, unit, scale range, valid-pixel share, reason when only relative,
total time) and the time spent reading the printed scale (tesseract). The range read is compared with
``benchmarks/scale_truth.json``, values read by eye off the images:

- ``[min, max]``: end values printed at the bar (T1 max/min boxes, T6-T9 end labels): a match is both ends
  within 0.1 °C.
- ``{"labels": [[row, value], ...]}``: bars that print only tick labels (T2-T5): the decoded scale, evaluated
  at each labelled row, must give the label's value within 0.1 °C or 1.5 px of the scale (the rows are
  measured to about a pixel); the "true range" shown is the line through the labels at the bar's ends.

Usage: python benchmarks/decoding.py [--data DIR] [--only T1,T6]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "transformer-thermal"
TRUTH = Path(__file__).with_name("scale_truth.json")


def _timed_read_scale(store: dict):
    """``read_scale`` that records its time, the bar it was given and what it returned."""
    from thermal_anomaly.thermal import ocr

    def wrapper(image, bar):
        t = time.perf_counter()
        out = ocr.read_scale(image, bar)
        store.update(ms=1000 * (time.perf_counter() - t), bar=bar, reading=out[0])
        return out

    return wrapper


def _label_line(labels: list[list[float]]) -> tuple[float, float]:
    """value = a + b * row through the labelled rows."""
    rows, vals = np.array(labels, np.float64).T
    b, a = np.polyfit(rows, vals, 1)
    return float(a), float(b)


def check(truth, tm, bar) -> tuple[str, str]:
    """(true range text, verdict) for one image: 'ok', 'WRONG', 'rel' (not decoded) or '' (no truth)."""
    if truth is None:
        return "", ""
    if isinstance(truth, list):
        true_txt = f"{truth[0]:.1f}..{truth[1]:.1f}"
        if tm.range is None:
            return true_txt, "rel"
        ok = abs(tm.range[0] - truth[0]) <= 0.1 + 1e-6 and abs(tm.range[1] - truth[1]) <= 0.1 + 1e-6
        return true_txt, "ok" if ok else "WRONG"
    a, b = _label_line(truth["labels"])
    if bar is None:
        return "labels", "rel"
    e0, e1 = bar.extent
    ends = sorted((a + b * e0, a + b * e1))
    true_txt = f"{ends[0]:.1f}..{ends[1]:.1f}*"
    if tm.range is None:
        return true_txt, "rel"
    # decoded value at a row: the bar's colours run cold -> hot along the extent, hot at the OCR'd end
    t_cold, t_hot = tm.range
    hot_first = bar.hot_end in ("top", "left")
    errs = []
    for row, value in truth["labels"]:
        pos = (row - e0) / max(1, e1 - e0)
        got = t_hot + pos * (t_cold - t_hot) if hot_first else t_cold + pos * (t_hot - t_cold)
        errs.append(abs(got - value))
    tol = max(0.1, 1.5 * abs(b))
    return true_txt, ("ok" if max(errs) <= tol else "WRONG") + f" ({max(errs):.2f}°C)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--only", default="", help="comma-separated prefixes, e.g. T1,T6")
    args = ap.parse_args()

    from thermal_anomaly.io import read_image
    from thermal_anomaly.thermal import temperature
    from thermal_anomaly.thermal.ocr import tesseract_available

    truth = {k: v for k, v in json.loads(TRUTH.read_text()).items() if not k.startswith("_")}
    store: dict = {}
    temperature.read_scale = _timed_read_scale(store)  # time the OCR inside temperature_map
    paths = sorted(p for p in args.data.glob("T*/*/*") if p.is_file())
    if args.only:
        paths = [
            p for p in paths if any(str(p.relative_to(args.data)).startswith(s) for s in args.only.split(","))
        ]
    print(f"tesseract available: {tesseract_available()}   images: {len(paths)}")
    head = (
        f"{'image':34s} {'size':>9s} {'source':16s} {'unit':8s} {'range °C':>13s} {'true °C':>13s} "
        f"{'valid':>5s} {'ocr ms':>6s} {'total ms':>8s}  check / reason"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for p in paths:
        rel = str(p.relative_to(args.data))
        img = read_image(p)
        store.clear()
        t = time.perf_counter()
        tm = temperature.temperature_map(img, p)
        ms = 1000 * (time.perf_counter() - t)
        true_txt, verdict = check(truth.get(rel), tm, store.get("bar"))
        rng = f"{tm.range[0]:.1f}..{tm.range[1]:.1f}" if tm.range else "-"
        ocr_ms = store.get("ms")
        size = f"{img.shape[1]}x{img.shape[0]}"
        note = verdict + (f"  {tm.reason}" if tm.reason else "")
        print(
            f"{rel:34s} {size:>9s} {tm.source:16s} {tm.unit:8s} {rng:>13s} {true_txt:>13s} "
            f"{tm.valid.mean():5.2f} {ocr_ms if ocr_ms is not None else float('nan'):6.0f} {ms:8.0f}  {note}",
            flush=True,
        )
        rows.append((rel, tm, ms, ocr_ms, verdict))

    n = len(rows)
    celsius = sum(tm.unit == "C" for _r, tm, *_ in rows)
    reasons = Counter(tm.reason.split("(")[0].strip() for _r, tm, *_ in rows if tm.unit != "C")
    judged = [v for *_x, v in rows if v]
    ok = sum(v.startswith("ok") for v in judged)
    wrong = [r for r, _tm, _ms, _o, v in rows if v.startswith("WRONG")]
    totals = np.array([ms for _r, _tm, ms, _o, _v in rows])
    ocr = np.array([o for *_x, o, _v in rows if o is not None])
    print()
    print(f"decoded to °C: {celsius}/{n}; relative: {n - celsius}")
    for why, k in reasons.most_common():
        print(f"  relative ({k}): {why}")
    print(f"scale read right (truth within 0.1 °C / 1.5 px): {ok}/{len(judged)} images with a known truth")
    if wrong:
        print(f"  wrong: {', '.join(wrong)}")
    if ocr.size:
        print(f"OCR time: median {np.median(ocr):.0f} ms, max {ocr.max():.0f} ms ({ocr.size} images)")
    print(f"temperature_map time: median {np.median(totals):.0f} ms, max {totals.max():.0f} ms")


if __name__ == "__main__":
    main()
