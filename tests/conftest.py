"""Shared fixtures: the development data set (read in place, never copied) and the CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = Path(
    os.environ.get("THERMAL_DEV_DATA", REPO.parent / "shared" / "datasets" / "transformer-thermal")
)


@pytest.fixture(scope="session")
def dev_data() -> Path:
    if not (DEV_DATA / "T1").is_dir():
        pytest.skip(f"development data not found at {DEV_DATA}")
    return DEV_DATA


FLIR_DATA = Path(
    os.environ.get("THERMAL_FLIR_DATA", REPO.parent / "shared" / "datasets" / "flir-radiometric")
)


@pytest.fixture(scope="session")
def flir_data() -> Path:
    """Real FLIR radiometric JPEGs (radiometric/) and their pictures without metadata (pictures/)."""
    if not (FLIR_DATA / "radiometric").is_dir():
        pytest.skip(f"FLIR radiometric data not found at {FLIR_DATA}")
    return FLIR_DATA


def link_subset(dev: Path, dest: Path, names: list[str], with_masks: bool = True) -> Path:
    """A small data set of symbolic links into the development data (same layout)."""
    for rel in names:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(dev / rel)
        if with_masks and "/faulty/" in rel:
            group, _, fname = rel.split("/")
            mask = dev / "masks" / group / "faulty" / f"{fname.split('.')[0]}.png"
            if mask.exists():
                mdest = dest / "masks" / group / "faulty" / mask.name
                mdest.parent.mkdir(parents=True, exist_ok=True)
                mdest.symlink_to(mask)
    return dest


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed command as a user would."""
    exe = Path(sys.executable).parent / "thermal-anomaly"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "thermal_anomaly.cli"]
    env = {**os.environ, "THERMAL_ANOMALY_THREADS": "2"}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)
