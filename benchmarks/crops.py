"""Does the default detector find faults as well in cropped pictures as in full camera pictures?

The default detector (``create_detector("patchcore")``, or ``--detector SPEC``) is fitted once on all development normals (full
images, with their transformer groups, as in ``benchmark.py``'s pixel part). Each faulty development image is
then scored in three versions, the ground-truth mask cropped the same way:

- ``full``: the picture as the camera wrote it;
- ``bare``: the camera overlays cropped away. Method: the overlay mask of the full picture
  (``ThermalAnalysis(image).overlay``, with the colour bar's ``box`` added) is peeled from its edges: while
  any edge row/column of the current rectangle has more than 5 % overlay pixels, the edge with the largest
  share moves in by one pixel. What is left is a rectangle whose every border line is at most 5 % overlay
  (the bar with its legend panel, logos, the frame band and wide UI strips are gone; a small read-out or a
  line of text inside the scene may stay). When the crop loses the whole fault the image is left out of the
  ``bare`` row (counted under "fault cut off");
- ``close``: the mask's bounding box enlarged about its centre to twice its width and height (at least 64 px
  each side), clipped to the picture: the fault fills much of the frame.

Per version: share flagged (``pred_label``), "peak hit" (the anomaly map's maximum within 2 % of that
version's diagonal of the fault) and "peak ≤5%" (within 5 %; also both against the full picture's diagonal,
the same tolerance in pixels: a crop's own diagonal is smaller, so a peak on the same scene point can miss), the same two for the hottest decoded pixel
(``ThermalAnalysis(crop).temperature`` where valid: is the hottest pixel on the fault?), and the number of
versions in which a colour bar is found (``ThermalAnalysis(version).bar is not None``) and how many of
those are false: the crop holds no part of the full picture's bar (a close crop around a large fault can
hold part of the real bar; the bare crop should hold none).

Why a peak is missed, per version (a second table): "peak ≤5%" of the fused map's parts alone (``explain``:
the learned model's own map and the heat evidence it is multiplied with), and the share of the fault's pixels
decoded as a temperature (median over images): heat can only point at pixels whose colour was read.

``--normals K``: also K fold models over the development normals, each scoring the normals it was not
fitted on as the camera wrote them and with their overlays cropped away (``bare``, as above): how many
normals a bare frame gets flagged (a crop's flag rate means little without it).

Usage: python benchmarks/crops.py [--data DIR] [--save DIR] [--json FILE] [--detector SPEC] [--normals K]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmark import make

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "transformer-thermal"
VERSIONS = ("full", "bare", "close")
#: an edge row/column with more than this share of overlay pixels is cropped away
EDGE_OVERLAY = 0.05
#: the close crop: the mask's bounding box times this, at least this many pixels a side
CLOSE_FACTOR = 2.0
CLOSE_MIN = 64


def bare_box(overlay: np.ndarray, bar_box: tuple[int, int, int, int] | None) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive ends: peel edges while an edge line has > EDGE_OVERLAY overlay pixels."""
    ov = overlay.astype(bool).copy()
    if bar_box is not None:
        bx0, by0, bx1, by1 = bar_box
        ov[by0:by1, bx0:bx1] = True
    h, w = ov.shape
    # prefix sums along rows (for a row's count between two columns) and along columns
    rows = np.zeros((h, w + 1), np.int64)
    rows[:, 1:] = np.cumsum(ov, axis=1)
    cols = np.zeros((h + 1, w), np.int64)
    cols[1:, :] = np.cumsum(ov, axis=0)
    x0, y0, x1, y1 = 0, 0, w, h
    while x1 - x0 > 1 and y1 - y0 > 1:
        width, height = x1 - x0, y1 - y0
        share = {
            "top": (rows[y0, x1] - rows[y0, x0]) / width,
            "bottom": (rows[y1 - 1, x1] - rows[y1 - 1, x0]) / width,
            "left": (cols[y1, x0] - cols[y0, x0]) / height,
            "right": (cols[y1, x1 - 1] - cols[y0, x1 - 1]) / height,
        }
        side = max(share, key=share.get)
        if share[side] <= EDGE_OVERLAY:
            break
        if side == "top":
            y0 += 1
        elif side == "bottom":
            y1 -= 1
        elif side == "left":
            x0 += 1
        else:
            x1 -= 1
    return x0, y0, x1, y1


def close_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The mask's bounding box enlarged about its centre, clipped to the image."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    cx, cy = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2
    bw = max(CLOSE_MIN, CLOSE_FACTOR * (xs.max() + 1 - xs.min()))
    bh = max(CLOSE_MIN, CLOSE_FACTOR * (ys.max() + 1 - ys.min()))
    x0, x1 = max(0, round(cx - bw / 2)), min(w, round(cx + bw / 2))
    y0, y1 = max(0, round(cy - bh / 2)), min(h, round(cy + bh / 2))
    return x0, y0, x1, y1


def peak_distance(point: tuple[int, int], gt: np.ndarray) -> float:
    """Distance from ``point`` (y, x) to the nearest ground-truth pixel, as a share of the diagonal."""
    import cv2

    h, w = gt.shape
    dist = cv2.distanceTransform((gt == 0).astype(np.uint8), cv2.DIST_L2, 5)[point]
    return float(dist) / float(np.hypot(h, w))


def part_smoothed(det, part: np.ndarray) -> np.ndarray:
    """A part of the fused map (at the picture's size) blurred as the detector blurs its map at the working
    size, so its peak is found the way the map's is (a raw part peaks on single noisy pixels)."""
    from thermal_anomaly.detectors.base import REFERENCE_SIZE
    from thermal_anomaly.postprocess import smooth

    sigma = det.blur_sigma * det.img_size / REFERENCE_SIZE * max(part.shape) / det.img_size
    return smooth(part.astype(np.float32), sigma)


def argmax(amap: np.ndarray) -> tuple[int, int]:
    return tuple(int(v) for v in np.unravel_index(np.argmax(amap), amap.shape))


def normals_flagged(data: Path, spec: str, folds: int) -> list[dict]:
    """Each development normal scored full and bare by a model fitted on the other folds' normals."""
    from thermal_anomaly.data import LazyImages, ThermalDataset
    from thermal_anomaly.thermal.analysis import ThermalAnalysis

    ds = ThermalDataset(data, mode="test")
    recs = [ds[i] for i in range(len(ds))]
    normals = [i for i, r in enumerate(recs) if r.label == 0]
    rows = []
    for k in range(folds):
        held = normals[k::folds]
        train = [i for i in normals if i not in held]
        det = make(spec)
        det.fit(LazyImages([recs[i] for i in train]), groups=[recs[i].group for i in train], progress=False)
        for i in held:
            img = ds.load_image(i)
            full = ThermalAnalysis(img)
            x0, y0, x1, y1 = bare_box(full.overlay, None if full.bar is None else full.bar.box)
            bare = ThermalAnalysis(np.ascontiguousarray(img[y0:y1, x0:x1]))
            pred = det.score([full, bare], groups=[recs[i].group] * 2)
            for version, flagged, score in zip(
                ("full", "bare"), pred.pred_label, pred.pred_score, strict=True
            ):
                rows.append(
                    {
                        "name": recs[i].name,
                        "version": version,
                        "flagged": bool(flagged),
                        "score": float(score),
                    }
                )
    return rows


def hottest_pixel(analysis) -> tuple[int, int] | None:
    temp = analysis.temperature
    valid = np.asarray(temp.valid, bool) & np.isfinite(temp.values)
    if not valid.any():
        return None
    vals = np.where(valid, temp.values, -np.inf)
    return tuple(int(v) for v in np.unravel_index(np.argmax(vals), vals.shape))


def run(data: Path, save: Path | None, spec: str = "patchcore") -> list[dict]:
    import torch
    from tqdm import tqdm

    from thermal_anomaly.data import LazyImages, ThermalDataset
    from thermal_anomaly.thermal.analysis import ThermalAnalysis

    torch.set_num_threads(2)
    ds = ThermalDataset(data, mode="test")
    recs = [ds[i] for i in range(len(ds))]
    normals = [i for i, r in enumerate(recs) if r.label == 0]
    faulty = [i for i, r in enumerate(recs) if r.label == 1]
    det = make(spec)
    t0 = time.perf_counter()
    det.fit(LazyImages([recs[i] for i in normals]), groups=[recs[i].group for i in normals], progress=False)
    print(f"fitted on {len(normals)} normals in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows = []
    for i in tqdm(faulty, desc="faulty images", file=sys.stderr):
        rec = recs[i]
        img = ds.load_image(i)
        gt = ds.load_mask(i)
        full = ThermalAnalysis(img)
        h, w = gt.shape
        boxes = {
            "full": (0, 0, w, h),
            "bare": bare_box(full.overlay, None if full.bar is None else full.bar.box),
            "close": close_box(gt),
        }
        for version, (x0, y0, x1, y1) in boxes.items():
            crop = np.ascontiguousarray(img[y0:y1, x0:x1])
            cgt = gt[y0:y1, x0:x1]
            row = {"name": rec.name, "group": rec.group, "version": version, "box": [x0, y0, x1, y1]}
            row["size"] = [x1 - x0, y1 - y0]
            row["fault_kept"] = bool(cgt.any())
            analysis = full if version == "full" else ThermalAnalysis(crop)
            row["bar_found"] = analysis.bar is not None
            # a bar found where the crop holds (part of) the full picture's bar is a true one
            fb = full.bar.box if full.bar is not None else None
            row["holds_bar"] = (
                fb is not None and min(x1, fb[2]) > max(x0, fb[0]) and min(y1, fb[3]) > max(y0, fb[1])
            )
            row["false_bar"] = row["bar_found"] and not row["holds_bar"]
            if row["fault_kept"]:
                # the version's analysis, not its pixels: overlays, bar and scale are not read a second time
                pred = det.score([analysis], groups=[rec.group], explain=True)
                amap = pred.anomaly_map[0]
                peak = tuple(int(v) for v in np.unravel_index(np.argmax(amap), amap.shape))
                row["flagged"] = bool(pred.pred_label[0])
                row["score"] = float(pred.pred_score[0])
                row["peak_dist"] = peak_distance(peak, cgt)
                row["peak_full"] = [peak[0] + y0, peak[1] + x0]  # (y, x) in the full picture
                for part in ("learned", "evidence"):
                    m = pred.parts[0].get(part)
                    row[f"{part}_dist"] = (
                        None if m is None else peak_distance(argmax(part_smoothed(det, m)), cgt)
                    )
                row["fault_decoded"] = float(np.asarray(analysis.temperature.valid, bool)[cgt > 0].mean())
                hot = hottest_pixel(analysis)
                row["hot_dist"] = None if hot is None else peak_distance(hot, cgt)
                if save is not None:
                    _save(save, rec.name, version, crop, amap, cgt, det.threshold_, peak, hot)
            rows.append(row)
    return rows


def _save(folder, name, version, crop, amap, gt, thr, peak, hot) -> None:
    """The crop with its map blended in, the fault outlined in white, the map's peak (cyan) and the
    hottest pixel (green) marked."""
    import cv2

    from thermal_anomaly.visualize import heatmap_rgb

    folder.mkdir(parents=True, exist_ok=True)
    h, w = amap.shape
    scale = 480 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    base = cv2.resize((crop * 255).astype(np.uint8), size, interpolation=cv2.INTER_AREA)
    heat = cv2.resize(heatmap_rgb(amap, 0.0, 2.0 * thr), size, interpolation=cv2.INTER_AREA)
    out = np.ascontiguousarray(np.hstack([base, (0.45 * base + 0.55 * heat).astype(np.uint8)]))
    g = cv2.resize(gt.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(g, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for dx in (0, size[0]):
        shifted = [c + np.array([dx, 0]) for c in contours]
        cv2.drawContours(out, shifted, -1, (255, 255, 255), 1)
        for point, colour in ((peak, (0, 255, 255)), (hot, (0, 255, 0))):
            if point is not None:
                cv2.circle(out, (round(point[1] * scale) + dx, round(point[0] * scale)), 6, colour, 2)
    stem = name.replace("/", "_").rsplit(".", 1)[0]
    cv2.imwrite(str(folder / f"{stem}_{version}.png"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))


#: two peaks are the same scene point within this share of the full picture's diagonal
SAME_POINT = 0.01


def _same_point(full: dict, crop: dict) -> bool:
    (fy, fx), (cy, cx) = full["peak_full"], crop["peak_full"]
    return float(np.hypot(fy - cy, fx - cx)) <= SAME_POINT * float(np.hypot(*full["size"]))


def summarise(rows: list[dict]) -> None:
    def share(values) -> str:
        values = list(values)
        return f"{np.mean(values):.0%}" if values else "-"

    cols = ["version", "n", "fault cut off", "flagged", "peak hit", "peak ≤5%", "hottest-pixel peak ≤5%"]
    cols += ["hottest-pixel hit", "bars found", "false bars", "median size"]
    print(" | ".join(cols))
    print(" | ".join("-" * len(c) for c in cols))
    for version in VERSIONS:
        all_rows = [r for r in rows if r["version"] == version]
        sel = [r for r in all_rows if r["fault_kept"]]
        hot = [r["hot_dist"] for r in sel]
        cells = [
            version,
            str(len(sel)),
            str(len(all_rows) - len(sel)),
            share(r["flagged"] for r in sel),
            share(r["peak_dist"] <= 0.02 for r in sel),
            share(r["peak_dist"] <= 0.05 for r in sel),
            share(d is not None and d <= 0.05 for d in hot),
            share(d is not None and d <= 0.02 for d in hot),
            f"{sum(r['bar_found'] for r in all_rows)}/{len(all_rows)}",
            f"{sum(r['false_bar'] for r in all_rows)} ({sum(r['holds_bar'] for r in all_rows)} hold the bar)",
            "x".join(str(int(np.median([r["size"][k] for r in all_rows]))) for k in (0, 1)),
        ]
        print(" | ".join(cells))
    # the same tolerance in pixels as on the full picture: 5 % of a crop's smaller diagonal is a stricter
    # test than the full picture's, so a peak on the same scene point can count as a miss on a crop
    full_diag = {r["name"]: float(np.hypot(*r["size"])) for r in rows if r["version"] == "full"}
    print()
    print("version | peak ≤5% of the full picture's diagonal | peak hit (2 %) of it")
    print("------- | --------------------------------------- | --------------------")
    for version in VERSIONS:
        sel = [r for r in rows if r["version"] == version and r["fault_kept"]]
        px = [r["peak_dist"] * float(np.hypot(*r["size"])) / full_diag[r["name"]] for r in sel]
        print(f"{version} | {share(d <= 0.05 for d in px)} | {share(d <= 0.02 for d in px)}")
    print()
    print("version | peak ≤5%: fused | learned alone | heat evidence alone | fault pixels decoded (median)")
    print("------- | --------------- | ------------- | ------------------- | -----------------------------")
    for version in VERSIONS:
        sel = [r for r in rows if r["version"] == version and r["fault_kept"]]
        cells = [version, share(r["peak_dist"] <= 0.05 for r in sel)]
        for part in ("learned", "evidence"):
            dists = [r.get(f"{part}_dist") for r in sel]
            cells.append("-" if any(d is None for d in dists) else share(d <= 0.05 for d in dists))
        cells.append(f"{np.median([r['fault_decoded'] for r in sel]):.0%}" if sel else "-")
        print(" | ".join(cells))
    groups = sorted({r["group"] for r in rows})
    print()
    print("peak ≤5% per transformer (n): " + " | ".join(["version", *groups]))
    for version in VERSIONS:
        cells = [version]
        for g in groups:
            sel = [r for r in rows if r["version"] == version and r["group"] == g and r["fault_kept"]]
            cells.append(f"{share(r['peak_dist'] <= 0.05 for r in sel)} ({len(sel)})")
        print(" | ".join(cells))
    # images where a crop changed the outcome against the full picture
    by = {(r["name"], r["version"]): r for r in rows}
    names = sorted({r["name"] for r in rows})
    for version in VERSIONS[1:]:
        lost, won = [], []
        for n in names:
            full, crop = by[(n, "full")], by[(n, version)]
            if not crop["fault_kept"]:
                continue
            a, b = full["peak_dist"] <= 0.05, crop["peak_dist"] <= 0.05
            (lost if a and not b else won if b and not a else []).append(n)
        # a loss where the crop's peak is the full picture's scene point is the smaller diagonal's doing
        same = [n for n in lost if _same_point(by[(n, "full")], by[(n, version)])]
        print(
            f"{version}: peak ≤5% lost on {len(lost)} {lost} ({len(same)} of them with the peak on the full "
            f"picture's scene point, within {SAME_POINT:.0%} of its diagonal); gained on {len(won)} {won}"
        )
    cut = [r["name"] for r in rows if not r["fault_kept"]]
    if cut:
        print(f"fault cut off by the crop: {cut}")
    for kind, key in (("a false colour bar", "false_bar"), ("part of the real bar", "holds_bar")):
        found = [f"{r['name']} ({r['version']})" for r in rows if r["version"] != "full" and r[key]]
        if kind.startswith("a false") or found:
            print(f"crops with {kind}: {found}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--save", type=Path, default=None, help="folder for a PNG of every version and its map")
    ap.add_argument("--json", type=Path, default=None, help="also write the per-image rows here")
    ap.add_argument("--detector", default="patchcore", help="detector spec, as benchmark.py's --detectors")
    ap.add_argument("--normals", type=int, default=0, help="K: also score held-out normals full and bare")
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(f"benchmark data not found: {args.data}")
    t0 = time.perf_counter()
    rows = run(args.data, args.save, args.detector)
    summarise(rows)
    if args.normals:
        normal_rows = normals_flagged(args.data, args.detector, args.normals)
        for version in ("full", "bare"):
            sel = [r for r in normal_rows if r["version"] == version]
            names = [r["name"] for r in sel if r["flagged"]]
            print(f"normals flagged ({version}, {args.normals} folds): {len(names)}/{len(sel)} {names}")
        rows = rows + [dict(r, normal=True) for r in normal_rows]
    print(f"wall {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
