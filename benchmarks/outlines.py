"""The segmentation ``predict --save-maps`` writes (``<name>.mask.png``) against the development masks.

The default detector is fitted on all development normals (with their transformer groups); every development
image is predicted as a user runs it (``Inspector.predict`` with ``save_maps``, no pictures, one call per
transformer with its group). Against the annotated masks of the faulty images:

- mean IoU: per faulty image, |mask ∩ truth| / |mask ∪ truth|, averaged (an image with no mask scores 0);
- pixel F1: precision and recall of the mask's pixels pooled over the faulty images;
- inside: the share of the mask's pixels within the truth dilated by 2 % of the diagonal (how far outlines are
  from being inside the annotated components, for the broader annotator style);
- normals with a mask: normal images the tool outlines anything in (the mask is the decision).

The anomaly map is not changed by the outlines (its image and pixel AUROC are ``benchmark.py``'s).
``--sheet FILE`` writes a contact sheet of every faulty image: the truth in white, the mask in magenta.
``--unseen``: transformers the model never saw instead: one model per transformer, fitted on the other
transformers' normals, predicts that transformer's images (its group unknown to the model, so the pooled
scale); also the share of faulty images whose map peaks within 5 % of the diagonal of the fault.

Usage: python benchmarks/outlines.py [--data DIR] [--sheet FILE] [--list] [--unseen]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmark import DEFAULT_DATA, _setup_threads, fit_on_normals, lazy, load_dev, make
from crops import peak_distance

#: the "inside" tolerance: the truth dilated by this share of the image diagonal
INSIDE_TOL = 0.02


def _tile(path: Path, truth: np.ndarray, mask: np.ndarray, name: str) -> np.ndarray:
    from thermal_anomaly.io import read_image
    from thermal_anomaly.visualize import fit_picture

    img = fit_picture(read_image(path), 320)
    size = (img.shape[1], img.shape[0])
    out = img.copy()
    for m, colour in ((mask, (255, 0, 255)), (truth, (255, 255, 255))):
        small = cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, colour, 1)
    cv2.putText(out, name, (3, size[1] - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 0), 1)
    return out


def _peak_near(map_path: Path, truth: np.ndarray) -> bool:
    """Whether the saved anomaly map's maximum lies within 5 % of the diagonal of the truth."""
    amap = np.load(map_path)
    if amap.shape != truth.shape:
        raise SystemExit(f"{map_path}: the anomaly map is {amap.shape}, the picture {truth.shape}")
    peak = tuple(int(v) for v in np.unravel_index(int(np.argmax(amap)), amap.shape))
    return peak_distance(peak, truth.astype(np.uint8)) <= 0.05


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--detector", default="patchcore", help="detector spec, as benchmark.py's --detectors")
    ap.add_argument("--sheet", type=Path, default=None, help="contact sheet of the faulty images' outlines")
    ap.add_argument("--list", action="store_true", help="every faulty image's IoU and mask size")
    ap.add_argument("--unseen", action="store_true", help="each transformer by a model fitted on the others")
    args = ap.parse_args()
    _setup_threads()

    from thermal_anomaly.data import read_mask
    from thermal_anomaly.pipeline import Inspector

    t0 = time.perf_counter()
    ds, recs = load_dev(args.data)
    normals = [i for i, r in enumerate(recs) if r.label == 0]
    det = None if args.unseen else fit_on_normals(ds, recs, args.detector)
    ious, inside, tiles, peaks = [], [], [], []
    tp = fp = fn = 0
    normals_masked = 0
    with tempfile.TemporaryDirectory() as tmp:
        for g in sorted({r.group for r in recs}):
            idx = [i for i, r in enumerate(recs) if r.group == g]
            out = Path(tmp) / g
            if args.unseen:
                train = [i for i in normals if recs[i].group != g]
                det = make(args.detector)
                det.fit(lazy(ds, train), groups=[recs[i].group for i in train], progress=False)
            Inspector(det).predict(
                [recs[i].path for i in idx], out, group=g, save_maps=True, pictures=False, progress=False
            )
            for i in idx:
                r = recs[i]
                mask = read_mask(out / f"{Path(r.path).name}.mask.png")
                if r.label == 0:
                    normals_masked += bool(mask.any())
                    continue
                truth = ds.load_mask(i) > 0
                inter, union = int((mask & truth).sum()), int((mask | truth).sum())
                ious.append(inter / union if union else 0.0)
                if args.unseen:
                    peaks.append(_peak_near(out / f"{Path(r.path).name}.anomaly_map.npy", truth))
                if args.list:
                    print(
                        f"{r.name:34s} IoU {ious[-1]:.3f}  mask {int(mask.sum()):7d}  truth {int(truth.sum()):7d}"
                    )
                tp, fp, fn = tp + inter, fp + int((mask & ~truth).sum()), fn + int((truth & ~mask).sum())
                k = max(1, int(INSIDE_TOL * float(np.hypot(*truth.shape))))
                near = cv2.dilate(truth.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0
                if mask.any():
                    inside.append(float((mask & near).sum()) / float(mask.sum()))
                if args.sheet:
                    tiles.append((r.name, _tile(r.path, truth, mask, Path(r.name).name)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(
        "| faulty images | mean IoU | pixel F1 (precision / recall) | mask inside truth+2% | normals with a mask |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {len(ious)} | {np.mean(ious):.3f} | {f1:.3f} ({precision:.3f} / {recall:.3f}) | "
        f"{np.mean(inside):.3f} (median {np.median(inside):.3f}, over {len(inside)} with a mask) | "
        f"{normals_masked} / {len(normals)} |"
    )
    if peaks:
        print(f"faulty images whose map peaks within 5 % of the diagonal of the fault: {np.mean(peaks):.0%}")
    if args.sheet and tiles:
        from thermal_anomaly.visualize import save_contact_sheet

        save_contact_sheet(args.sheet, tiles)
        print(f"-> {args.sheet}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
