"""Time of the pictures ``predict`` writes per image (``pictures.save_pictures``: annotated + six-panel PNGs).

Inputs per development image, built once without a model: the photo, its decoded temperatures and rated
hot spots (``report.rate_image``), the ground-truth mask as the decision, its components as the learned
regions, and a smooth learned/fused map made from the mask at feature-map resolution (what drawing costs does
not depend on what the maps say). Each variant is timed in its own process on the same pickled inputs: one
untimed call per image, then the median of ``--rounds`` calls; the table gives per transformer the median
over its images, wall-clock and CPU time (CPU time is less sensitive to other load on the machine; with two
threads it can exceed wall time).

``--baseline SRC`` also times another checkout's sources, e.g. the matplotlib pictures of an older commit::

    git worktree add /tmp/old <commit>
    python benchmarks/pictures.py --baseline /tmp/old/src

``--encoders`` adds the cost and size of PNG encoders on the new pictures (Pillow at its fastest levels
against the libpng settings used).

Usage: python benchmarks/pictures.py [--data DIR] [--per-group 3] [--rounds 5] [--baseline SRC] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "transformer-thermal"
SRC = Path(__file__).resolve().parents[1] / "src"


def build_inputs(data: Path, per_group: int) -> list[dict]:
    """save_pictures' arguments for the first ``per_group`` faulty images of every transformer."""
    import cv2

    from thermal_anomaly.data import ThermalDataset
    from thermal_anomaly.postprocess import find_regions
    from thermal_anomaly.report import rate_image

    ds = ThermalDataset(data, mode="test")
    taken: dict[str, int] = {}
    items = []
    for rec in sorted((ds[i] for i in range(len(ds))), key=lambda r: r.name):
        group = rec.group or rec.path.parent.parent.name
        if rec.label != 1 or taken.get(group, 0) >= per_group:
            continue
        image = rec.load_image()
        h, w = image.shape[:2]
        mask = rec.load_mask((h, w))
        if mask is None or not mask.any():
            continue
        taken[group] = taken.get(group, 0) + 1
        # a learned-looking map: the mask at 1/16 resolution, blurred, brought back to full size
        coarse = cv2.resize(
            mask.astype(np.float32), (max(1, w // 16), max(1, h // 16)), interpolation=cv2.INTER_AREA
        )
        coarse = cv2.GaussianBlur(coarse, (0, 0), 1.0) * 3.0 + 0.2
        learned = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
        regions = find_regions(learned, mask)
        report, temp = rate_image(image, rec.path, regions, mask)
        items.append(
            {
                "group": group,
                "name": f"{group}-{rec.path.name}",  # names repeat across transformers
                "shape": (h, w),
                "args": (image, report, temp, {"learned": learned, "fused": 0.6 * learned}, mask),
                "kw": {
                    "vmax": 2.7,
                    "title": f"{rec.path.name}  [FAULTY]  score 2.874 (threshold 1.356)  severity: "
                    f"{report.severity}",
                },
            }
        )
    return items


def worker(inputs: Path, rounds: int, out: Path | None) -> None:
    """Time save_pictures of whatever ``thermal_anomaly`` this process imports; JSON lines on stdout."""
    try:  # older checkouts (compared against) drew them in report
        from thermal_anomaly import pictures as report_mod
    except ImportError:
        from thermal_anomaly import report as report_mod

    items = pickle.loads(inputs.read_bytes())
    with tempfile.TemporaryDirectory() as tmp:
        dest = out or Path(tmp)
        for it in items:
            report_mod.save_pictures(dest, it["name"], *it["args"], **it["kw"])  # warm-up (imports, fonts)
            wall, cpu = [], []
            for _ in range(rounds):
                t0, c0 = time.perf_counter(), time.process_time()
                report_mod.save_pictures(dest, it["name"], *it["args"], **it["kw"])
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            sizes = [(dest / f"{it['name']}.{kind}.png").stat().st_size for kind in ("annotated", "panel")]
            print(
                json.dumps(
                    {
                        "name": it["name"],
                        "wall_ms": 1000 * statistics.median(wall),
                        "cpu_ms": 1000 * statistics.median(cpu),
                        "kib": sum(sizes) / 1024,
                    }
                ),
                flush=True,
            )


def run_variant(src: Path, inputs: Path, rounds: int, out: Path | None) -> dict[str, dict]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, __file__, "--worker", str(inputs), "--rounds", str(rounds)]
    if out is not None:
        cmd += ["--out", str(out)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if res.returncode:
        raise SystemExit(f"worker for {src} failed:\n{res.stderr[-3000:]}")
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return {r["name"]: r for r in rows}


def encoder_table(out: Path) -> None:
    """Cost and size of PNG encoders on the written pictures."""
    import io

    import cv2
    from PIL import Image

    from thermal_anomaly.io import encode_png

    pics = sorted(out.glob("*.png"))
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in pics]
    mp = sum(a.shape[0] * a.shape[1] for a in arrays) / 1e6

    def pillow(level: int, strategy: int = -1):
        def enc(a):
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, "PNG", compress_level=level, compress_type=strategy)
            return buf.getvalue()

        return enc

    variants = {
        "Pillow level 1": pillow(1),
        "Pillow level 1, Z_RLE": pillow(1, 3),
        "Pillow level 3": pillow(3),
        "libpng level 1, Z_RLE, up filter (used)": encode_png,
        "libpng level 1, all filters": lambda a: cv2.imencode(
            ".png", cv2.cvtColor(a, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]
        )[1],
    }
    print(
        f"\nPNG encoders on the {len(pics)} new pictures ({mp:.1f} MP in all), CPU time per MP, size per MP:"
    )
    print(f"| {'encoder':42s} | ms/MP | KiB/MP |")
    print(f"|{'-' * 44}|------:|-------:|")
    for label, enc in variants.items():
        times, size = [], 0
        for _ in range(3):
            c0 = time.process_time()
            size = sum(len(enc(a)) for a in arrays)
            times.append(time.process_time() - c0)
        print(f"| {label:42s} | {1000 * min(times) / mp:5.1f} | {size / 1024 / mp:6.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--per-group", type=int, default=3, help="faulty images per transformer")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline", type=Path, default=None, help="another checkout's src/ to time as well")
    ap.add_argument("--out", type=Path, default=None, help="keep the new pictures here")
    ap.add_argument("--encoders", action="store_true", help="also compare PNG encoders")
    ap.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        worker(args.worker, args.rounds, args.out)
        return

    items = build_inputs(args.data, args.per_group)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.pkl"
        inputs.write_bytes(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL))
        out = args.out or Path(tmp) / "new"
        out.mkdir(parents=True, exist_ok=True)
        new = run_variant(SRC, inputs, args.rounds, out)
        old = run_variant(args.baseline, inputs, args.rounds, None) if args.baseline else {}
        load = os.getloadavg()[0]
        print(f"save_pictures per image, median over images of each transformer (load average {load:.1f}):")
        head = "| transformer | size px | n | new wall ms | new CPU ms | new KiB |"
        rule = "|---|---|--:|--:|--:|--:|"
        if old:
            head += " old wall ms | old CPU ms | old KiB | speed-up (wall) |"
            rule += "--:|--:|--:|--:|"
        print(head)
        print(rule)
        groups: dict[str, list[dict]] = {}
        for it in items:
            groups.setdefault(it["group"], []).append(it)
        for group, its in groups.items():
            shapes = sorted({f"{w}×{h}" for h, w in (it["shape"] for it in its)})
            print(_row(group, ", ".join(shapes), [it["name"] for it in its], new, old))
        print(_row("all", "", [it["name"] for it in items], new, old))
        if args.encoders:
            encoder_table(out)


def _med(rows: dict[str, dict], names: list[str], key: str) -> float:
    return statistics.median(rows[n][key] for n in names)


def _cells(rows: dict[str, dict], names: list[str]) -> str:
    return (
        f" {_med(rows, names, 'wall_ms'):.0f} | {_med(rows, names, 'cpu_ms'):.0f} |"
        f" {_med(rows, names, 'kib'):.0f} |"
    )


def _row(label: str, shapes: str, names: list[str], new: dict[str, dict], old: dict[str, dict]) -> str:
    """A table row: the new variant's cells, then (with a baseline) the old one's and the speed-up."""
    line = f"| {label} | {shapes} | {len(names)} |" + _cells(new, names)
    if old:
        speed_up = _med(old, names, "wall_ms") / _med(new, names, "wall_ms")
        line += _cells(old, names) + f" {speed_up:.1f}× |"
    return line


if __name__ == "__main__":
    main()
