"""FLIR radiometric JPEGs: our °C against ``flyr.unpack(path).celsius``, and how long a read takes.

Per file: camera, raw sensor size, our min/median/max °C, median and max absolute difference from flyr,
the median time of ``thermal.radiometric.read`` and of ``flyr.unpack(...).celsius`` (same process, 5 rounds
after one warm-up), then the median over files.

Usage: python benchmarks/radiometric.py [--data DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "flir-radiometric"
ROUNDS = 5


def _ms(fn, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()

    import flyr

    from thermal_anomaly.thermal.radiometric import read

    files = sorted((args.data / "radiometric").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no FLIR JPEGs under {args.data / 'radiometric'}")
    read(files[0])  # imports and first-call costs out of the timings
    head = "| file | camera | raw W×H | min °C | median °C | max °C | median abs err | max abs err | read ms | flyr ms |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    cols: dict[str, list[float]] = {
        k: [] for k in ("min", "med", "max", "err_med", "err_max", "ms", "flyr_ms")
    }
    for path in files:
        raw, why = read(path)
        if raw is None:
            print(f"| {path.name} | - | - | - | - | - | - | - | - | - |  unreadable: {why}")
            continue
        ref = flyr.unpack(str(path)).celsius
        err = np.abs(raw.celsius.astype(np.float64) - ref)
        t = raw.celsius[np.isfinite(raw.celsius)]
        row = {
            "min": float(t.min()),
            "med": float(np.median(t)),
            "max": float(t.max()),
            "err_med": float(np.nanmedian(err)),
            "err_max": float(np.nanmax(err)),
            "ms": _ms(lambda p=path: read(p)),
            "flyr_ms": _ms(lambda p=path: flyr.unpack(str(p)).celsius),
        }
        for k, v in row.items():
            cols[k].append(v)
        h, w = raw.celsius.shape
        print(
            f"| {path.name} | {raw.camera or '?'} | {w}x{h} | {row['min']:.1f} | {row['med']:.1f} | "
            f"{row['max']:.1f} | {row['err_med']:.1e} | {row['err_max']:.1e} | {row['ms']:.1f} | "
            f"{row['flyr_ms']:.1f} |"
        )
    m = {k: statistics.median(v) for k, v in cols.items()}
    print(
        f"| **median of {len(cols['ms'])}** | | | {m['min']:.1f} | {m['med']:.1f} | {m['max']:.1f} | "
        f"{m['err_med']:.1e} | {m['err_max']:.1e} | {m['ms']:.1f} | {m['flyr_ms']:.1f} |"
    )


if __name__ == "__main__":
    main()
