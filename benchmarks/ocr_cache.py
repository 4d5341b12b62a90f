"""The glyph cache (``thermal.glyphs``) against tesseract alone: same results, how much faster, how often used.

All development images (T*/{normal,faulty}) and the FLIR pictures go through ``temperature_map`` three times in
one process, in the data set's order: cache off (tesseract reads every tile), cache on from empty (it learns as
it goes, as a batch would), and cache on again (warm). With the cache on, a camera layout's label boxes and unit
signs are looked for only where they were on its last picture (``glyphs.LAYOUTS``; column ``layouts again``:
found there / looked for) and a label crop seen before is not binarised again (``glyphs.VIEWS``). For every image the ``unit``, ``range`` and ``reason``
must equal those of the cache-off pass; every tile the cache answered is compared with tesseract's reading of
the same tile in the cache-off pass. Where they differ, the scale truth of ``benchmarks/scale_truth.json``
says which pass read the scale right.

Per pass also: tesseract calls (one per image whose tiles are not all answered), the engine process's CPU
time, and of the tiles sent to tesseract those whose exact bytes were sent before (none: ``glyphs.MEMO``
answers them) and those whose text tesseract had read before (the same label again, in a JPEG whose noise
changed some of its binarised pixels), and why the glyph templates left tiles to tesseract
(``glyphs.WHY``): what a batch from one camera still pays the OCR for.

Usage: python benchmarks/ocr_cache.py [--data DIR] [--pictures DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from decoding import DEFAULT_DATA, TRUTH, _timed_read_scale, check  # noqa: E402

DEFAULT_PICTURES = DEFAULT_DATA.parent / "flir-radiometric" / "pictures"


def _engine_cpu() -> float:
    """CPU seconds the tesseract engine process has used (0 when it runs in no process of its own)."""
    from thermal_anomaly.thermal import tesseract

    proc = tesseract._ENGINE._proc
    if proc is None or proc.poll() is not None:
        return 0.0
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_pass(paths: list[Path], images: list[np.ndarray], names: list[str]) -> list[dict]:
    """One pass over the images: per image its result, timings and each tile's (text, conf, from cache)."""
    from thermal_anomaly.thermal import glyphs, ocr, temperature, tesseract

    rows = []
    store: dict = {}
    tiles_seen: list = []
    orig_ocr, orig_read, orig_words = ocr._ocr, glyphs.read, tesseract.read_words
    calls = [0]

    def rec_words(image):
        calls[0] += 1
        return orig_words(image)

    def rec_read(tiles):
        known = orig_read(tiles)
        tiles_seen.append(known)
        return known

    def rec_ocr(tiles):
        out = orig_ocr(tiles)
        known = tiles_seen.pop() if tiles_seen else [None] * len(tiles)
        store.setdefault("tiles", []).extend(
            (t, text, conf, k is not None) for t, (text, conf), k in zip(tiles, out, known, strict=True)
        )
        return out

    temperature.read_scale = _timed_read_scale(store)
    ocr._ocr, glyphs.read, tesseract.read_words = rec_ocr, rec_read, rec_words
    hits0, misses0 = glyphs.LAYOUTS.hits, glyphs.LAYOUTS.misses
    why0, engine0 = glyphs.CACHE.why.copy(), _engine_cpu()
    try:
        for p, img, name in zip(paths, images, names, strict=True):
            store.clear()
            t = time.perf_counter()
            tm = temperature.temperature_map(img, p)
            rows.append(
                dict(
                    rel=name,
                    tm=tm,
                    ms=1000 * (time.perf_counter() - t),
                    ocr_ms=store.get("ms"),
                    bar=store.get("bar"),
                    tiles=store.get("tiles", []),
                )
            )
    finally:
        ocr._ocr, glyphs.read, temperature.read_scale = orig_ocr, orig_read, ocr.read_scale
        tesseract.read_words = orig_words
    # how often a camera layout's label boxes and unit signs were found again where they were
    rows[0]["layouts"] = (glyphs.LAYOUTS.hits - hits0, glyphs.LAYOUTS.misses - misses0)
    rows[0]["calls"], rows[0]["engine_s"] = calls[0], _engine_cpu() - engine0
    rows[0]["why"] = glyphs.CACHE.why - why0
    return rows


def repeats(rows: list[dict]) -> tuple[int, int]:
    """Of the tiles sent to tesseract: (exact bytes sent before, text tesseract had read before)."""
    sent, texts = set(), set()
    exact = again = 0
    for r in rows:
        for t, text, _conf, cached in r["tiles"]:
            if cached:
                continue
            key = (t.shape, t.tobytes())
            exact += key in sent
            again += bool(text) and text in texts
            sent.add(key)
            texts.add(text)
    return exact, again


def compare(off: list[dict], on: list[dict], truth: dict) -> tuple[list[str], list[str]]:
    """(images whose unit/range/reason differ, tiles the cache read differently from tesseract)."""
    changed, disagree = [], []
    for a, b in zip(off, on, strict=True):
        ta, tb = a["tm"], b["tm"]
        if (ta.unit, ta.range, ta.reason) != (tb.unit, tb.range, tb.reason):
            ra = f"{ta.range[0]:.2f}..{ta.range[1]:.2f}" if ta.range else ta.reason[:50]
            rb = f"{tb.range[0]:.2f}..{tb.range[1]:.2f}" if tb.range else tb.reason[:50]
            _t, va = check(truth.get(a["rel"]), ta, a["bar"])
            _t, vb = check(truth.get(b["rel"]), tb, b["bar"])
            changed.append(f"{a['rel']}: off {ra} [{va or '-'}]  on {rb} [{vb or '-'}]")
        for tile, text, conf, cached in b["tiles"]:
            if not cached:
                continue
            same = [
                (tx, cf) for t, tx, cf, _c in a["tiles"] if t.shape == tile.shape and np.array_equal(t, tile)
            ]
            if same and same[0][0] != text:
                disagree.append(
                    f"{b['rel']}: tesseract {same[0][0]!r} ({same[0][1]:.0f}) cache {text!r} ({conf:.0f})"
                )
    return changed, disagree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--pictures", type=Path, default=DEFAULT_PICTURES)
    args = ap.parse_args()

    from thermal_anomaly.io import read_image
    from thermal_anomaly.thermal import glyphs

    truth = {k: v for k, v in json.loads(TRUTH.read_text()).items() if not k.startswith("_")}
    paths = sorted(p for p in args.data.glob("T*/*/*") if p.is_file())
    paths += sorted(p for p in args.pictures.glob("*") if p.is_file())
    names = [str(p.relative_to(args.data)) if p.is_relative_to(args.data) else p.name for p in paths]
    images = [read_image(p) for p in paths]
    print(f"images: {len(paths)}")

    glyphs.set_enabled(False)
    off = run_pass(paths, images, names)
    glyphs.set_enabled(True)
    glyphs.CACHE.clear()
    passes = {"off": off}
    for name in ("on (cold)", "on (warm)"):
        passes[name] = run_pass(paths, images, names)
    glyphs.set_enabled(None)

    head = (
        f"{'pass':10s} {'read_scale ms':>13s} {'temp_map ms':>11s} {'tiles':>6s} {'tesseract':>9s} "
        f"{'cache':>6s} {'images w/o tesseract':>20s} {'layouts again':>13s} {'changed':>7s} {'tile disagree':>13s} "
        f"{'calls':>5s} {'engine ms':>9s} {'sent again':>10s} {'text again':>10s}"
    )
    print(head)
    print("-" * len(head))
    details = []
    for name in ("off", "on (cold)", "on (warm)"):
        rows = passes[name]
        ocr_ms = [r["ocr_ms"] for r in rows if r["ocr_ms"] is not None]
        n_tiles = sum(len(r["tiles"]) for r in rows)
        n_cache = sum(c for r in rows for *_x, c in r["tiles"])
        free = sum(1 for r in rows if r["tiles"] and all(c for *_x, c in r["tiles"]))
        changed, disagree = compare(off, rows, truth) if name != "off" else ([], [])
        hits, misses = rows[0]["layouts"]
        again = f"{hits}/{hits + misses}"
        details.append((name, changed, disagree))
        exact, text_again = repeats(rows)
        print(
            f"{name:10s} {np.median(ocr_ms):13.0f} {np.median([r['ms'] for r in rows]):11.0f} {n_tiles:6d} "
            f"{n_tiles - n_cache:9d} {n_cache:6d} {free:20d} {again:>13s} {len(changed):7d} {len(disagree):13d} "
            f"{rows[0]['calls']:5d} {1000 * rows[0]['engine_s']:9.0f} {exact:10d} {text_again:10d}"
        )
    for name in ("on (cold)", "on (warm)"):
        why = passes[name][0]["why"]
        print(
            f"{name}: tiles left to tesseract, why: "
            + ", ".join(f"{glyphs.WHY[k]} {why[k]}" for k in glyphs.WHY)
        )
    for name, changed, disagree in details:
        if changed or disagree:
            print(f"\n{name}: results that differ from cache off ([verdict against scale_truth.json]):")
            for line in changed:
                print("  " + line)
            print(f"{name}: tiles the cache read differently from tesseract:")
            for line in disagree:
                print("  " + line)


if __name__ == "__main__":
    main()
