"""The built-in demo data as a first asset, so a fresh ``make serve`` has something to show."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from .core import Service, ServiceError

log = logging.getLogger("thermal_anomaly.service")

DEMO_ASSET = "demo"


def load_demo(svc: Service, *, n_baselines: int = 8, wait_s: float = 600.0) -> threading.Thread | None:
    """When the service has no asset yet: make the synthetic demo data set (as ``thermal-anomaly
    experiment`` does), add asset ``demo`` with its first normals as baselines and, in a thread once its
    model is fitted, inspect its other normals and its faulty images. Returns that thread (None when the
    service already had assets)."""
    if svc.list_assets():
        return None
    from ..synthetic import make_demo_dataset

    root = make_demo_dataset(svc.storage.tmp / "demo-data")
    group = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "masks")[0]
    normals = sorted((root / group / "normal").glob("*.png"))
    faulty = sorted((root / group / "faulty").glob("*.png"))
    svc.create_asset(DEMO_ASSET)
    for path in normals[:n_baselines]:
        svc.add_baseline(DEMO_ASSET, _receive(svc, path))
    later = normals[n_baselines:] + faulty

    def inspect_rest() -> None:
        for path in later:
            try:
                svc.inspect(DEMO_ASSET, _receive(svc, path), wait_s=wait_s)
            except ServiceError as exc:
                log.warning("demo inspection of %s: %s", path.name, exc.detail)
                return
        log.info("demo asset loaded: %d baselines, %d inspections", n_baselines, len(later))

    thread = threading.Thread(target=inspect_rest, name="demo", daemon=True)
    thread.start()
    return thread


def _receive(svc: Service, path: Path):
    with open(path, "rb") as f:
        return svc.receive(f, path.name)
