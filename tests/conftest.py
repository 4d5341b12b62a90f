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


def _shared_data(env: str, name: str) -> Path:
    """A data set under ../shared/datasets (or where ``env`` points), read in place, never copied."""
    return Path(os.environ.get(env, REPO.parent / "shared" / "datasets" / name))


def _present(root: Path, probe: str, what: str) -> Path:
    if not (root / probe).is_dir():
        pytest.skip(f"{what} not found at {root}")
    return root


DEV_DATA = _shared_data("THERMAL_DEV_DATA", "transformer-thermal")
FLIR_DATA = _shared_data("THERMAL_FLIR_DATA", "flir-radiometric")


@pytest.fixture(scope="session")
def dev_data() -> Path:
    return _present(DEV_DATA, "T1", "development data")


@pytest.fixture(scope="session")
def flir_data() -> Path:
    """Real FLIR radiometric JPEGs (radiometric/) and their pictures without metadata (pictures/)."""
    return _present(FLIR_DATA, "radiometric", "FLIR radiometric data")


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
