"""Findings a thermographer trusts: no false alarms on normals, the worst finding on the fault, none on overlays.

The development normals are split into ``--folds`` folds (seeded); for each fold the default detector is
fitted on the other normals (with their transformer groups) and ``Inspector.predict`` (as a user runs it,
``--no-pictures``) scores the held-out normals and a share of the faulty images, so every image is scored by
a model that was not fitted on it. From each image's JSON:

- normals: the worst severity among its findings (``findings`` in the JSON; every rated learned region and
  hot spot); counted as ``major`` and as ``probable`` (probable deficiency or worse; relative ratings count
  as their class);
- faulty images: "worst on fault" when the first (worst) finding's box touches the annotated fault (mask
  dilated by 2 % of the diagonal), "any on fault" when any finding does, "none" when there is no finding;
- every image: findings on camera overlays: half their box or more on the overlay mask
  (``ThermalAnalysis.overlay``).

``--unseen``: one model per transformer instead, fitted on the other transformers' normals and scoring all
of that transformer's images (a first inspection, no baseline image of it).

Prints a table and, with ``--list``, every image's worst finding. ``--save DIR`` keeps the JSON.

Usage: python benchmarks/findings.py [--data DIR] [--folds K | --unseen] [--list] [--save DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark import DEFAULT_DATA, _setup_threads, lazy, load_dev, make

#: a finding counts as on the fault within this share of the image diagonal of the annotated mask
ON_FAULT = 0.02
#: share of a finding's box on the overlay mask that makes it a finding on overlays
ON_OVERLAY = 0.5
PROBABLE = ("probable deficiency", "deficiency", "major")


def base_severity(sev: str | None) -> str:
    """The NETA class without the ``relative:`` prefix."""
    return (sev or "none").removeprefix("relative: ")


def findings_of(report: dict) -> list[dict]:
    """The image's ranked findings (worst first); older JSON without ``findings``: its hot spots."""
    if "findings" in report:
        return list(report["findings"])
    return list(report.get("hotspots", []))


def on_mask(box, mask: np.ndarray) -> bool:
    x0, y0, x1, y1 = (int(v) for v in box)
    return bool(mask[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1].any())


def dilated(gt: np.ndarray) -> np.ndarray:
    import cv2

    k = max(1, int(ON_FAULT * float(np.hypot(*gt.shape))))
    return cv2.dilate(gt.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0


def on_overlay(f: dict, overlay: np.ndarray) -> bool:
    """A finding on camera overlays: at least ``ON_OVERLAY`` of its box is overlay (a hot spot seen through
    a crosshair has a few overlay pixels in its box, a logo or a label is mostly overlay)."""
    x0, y0, x1, y1 = (int(v) for v in f["box"])
    sub = overlay[max(0, y0) : y1, max(0, x0) : x1]
    return bool(sub.size) and float(sub.mean()) >= ON_OVERLAY


def splits(recs, folds: int, unseen: bool) -> list[tuple[list[int], list[int]]]:
    """(training normals, test images) per model: ``folds`` folds over the normals (each with a share of
    the faulty images), or with ``unseen`` one model per transformer fitted on the other transformers'
    normals and tested on all of its images (a first inspection: no image of it was seen)."""
    normals = [i for i, r in enumerate(recs) if r.label == 0]
    faulty = [i for i, r in enumerate(recs) if r.label == 1]
    if unseen:
        groups = sorted({r.group for r in recs})
        return [
            ([i for i in normals if recs[i].group != g], [i for i, r in enumerate(recs) if r.group == g])
            for g in groups
        ]
    rng = np.random.default_rng(0)
    out = []
    for k, held in enumerate(np.array_split(rng.permutation(normals), folds)):
        held_set = set(held.tolist())
        out.append(([i for i in normals if i not in held_set], [int(i) for i in held] + faulty[k::folds]))
    return out


def run(data: Path, folds: int, save: Path | None, unseen: bool = False) -> list[dict]:
    from thermal_anomaly.pipeline import Inspector
    from thermal_anomaly.thermal.analysis import ThermalAnalysis

    ds, recs = load_dev(data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out_root = save or Path(tmp)
        for k, (train, test) in enumerate(splits(recs, folds, unseen)):
            det = make("patchcore")
            det.fit(lazy(ds, train), groups=[recs[i].group for i in train], progress=False)
            out = out_root / f"fold{k}"
            # one call per transformer, its group given as a user of a fleet would
            reports = {}
            for g in sorted({recs[i].group for i in test}):
                paths = [recs[i].path for i in test if recs[i].group == g]
                batch = Inspector(det).predict(paths, out / g, group=g, pictures=False, progress=False)
                reports.update({res.image: res.to_json() for res in batch.results})
            for i in test:
                r = recs[i]
                report = reports[str(r.path)]
                fs = findings_of(report)
                overlay = ThermalAnalysis.from_file(r.path).overlay
                row = {
                    "name": r.name,
                    "label": r.label,
                    "worst": base_severity(fs[0]["severity"]) if fs else "none",
                    "worst_dt": fs[0].get("delta_t") if fs else None,
                    "decided_by": fs[0].get("decided_by", "") if fs else "",
                    "n": len(fs),
                    "flagged": bool(report.get("is_anomalous")),
                    "on_overlay": sum(on_overlay(f, overlay) for f in fs),
                    "severities": [base_severity(f["severity"]) for f in fs],
                }
                keys = (
                    "box",
                    "severity",
                    "delta_t",
                    "delta_t_ambient",
                    "reference",
                    "novelty",
                    "area",
                    "edge_drop",
                )
                row["spots"] = [{k: h.get(k) for k in keys} for h in report.get("hotspots", [])]
                if r.label == 1:
                    gt = dilated(ds.load_mask(i) > 0)
                    row["worst_on_fault"] = bool(fs) and on_mask(fs[0]["box"], gt)
                    row["any_on_fault"] = any(on_mask(f["box"], gt) for f in fs)
                    for h in row["spots"]:
                        h["on_fault"] = on_mask(h["box"], gt)
                rows.append(row)
    return rows


def summarise(rows: list[dict], elapsed: float) -> None:
    norm = [r for r in rows if r["label"] == 0]
    faulty = [r for r in rows if r["label"] == 1]
    major = [r for r in norm if "major" in r["severities"]]
    probable = [r for r in norm if any(s in PROBABLE for s in r["severities"])]
    print("| set | images | result |")
    print("|---|---|---|")
    print(f"| normals with a major finding | {len(norm)} | {len(major)} |")
    print(f"| normals with probable or worse | {len(norm)} | {len(probable)} |")
    print(
        f"| faulty: worst finding on the fault | {len(faulty)} | {sum(r['worst_on_fault'] for r in faulty)} |"
    )
    print(f"| faulty: any finding on the fault | {len(faulty)} | {sum(r['any_on_fault'] for r in faulty)} |")
    print(f"| faulty: no finding | {len(faulty)} | {sum(r['n'] == 0 for r in faulty)} |")
    print(f"| findings with the peak on an overlay | {len(rows)} | {sum(r['on_overlay'] for r in rows)} |")
    decided = {}
    for r in faulty:
        if r["decided_by"]:
            key = (r["decided_by"], r["worst_on_fault"])
            decided[key] = decided.get(key, 0) + 1
    if decided:
        print("worst finding decided by (on fault / off):", end="")
        for d in sorted({k[0] for k in decided}):
            print(f"  {d} {decided.get((d, True), 0)}/{decided.get((d, False), 0)}", end="")
        print()
    print(f"normals with probable or worse: {', '.join(r['name'] for r in probable) or '-'}")
    print(f"({elapsed:.0f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument(
        "--unseen", action="store_true", help="one model per transformer, fitted on the others' normals"
    )
    ap.add_argument("--list", action="store_true", help="every image's worst finding")
    ap.add_argument("--save", type=Path, default=None, help="keep the predict output here")
    ap.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = ap.parse_args()
    _setup_threads()
    t0 = time.perf_counter()
    rows = run(args.data, args.folds, args.save, args.unseen)
    if args.list:
        for r in sorted(rows, key=lambda r: r["name"]):
            mark = "" if r["label"] == 0 else (" ON" if r["worst_on_fault"] else " off")
            dt = "" if r["worst_dt"] is None else f"{r['worst_dt']:.2f}"
            print(f"{r['name']:34s} {r['worst']:22s} {dt:>7s} {r['decided_by']:10s}{mark}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    summarise(rows, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
