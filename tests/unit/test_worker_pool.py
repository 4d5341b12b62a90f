"""A batch over worker processes goes on when a worker dies: real processes killed mid-item (``os._exit``, as
the kernel's out-of-memory killer ends one), the item that kills its worker on its own reported, the rest
done exactly once."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from thermal_anomaly.errors import ThermalAnomalyError
from thermal_anomaly.worker_pool import WorkerStartError, outcomes


def _work(item: tuple[str, str]) -> str:
    """An image's work in a worker: ``die`` kills its worker every time, ``once`` the first time (a marker
    file in the folder given), ``start`` is a worker that could not load its model."""
    name, folder = item
    if name.startswith("die"):
        os._exit(1)
    if name.startswith("once"):
        try:
            os.close(os.open(Path(folder) / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os._exit(1)
    if name == "start":
        raise WorkerStartError("ModelError: not a PyTorch model archive")
    if name == "bug":
        raise IndexError("index 7 is out of bounds")
    return f"done {name}"


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))


def _run(names: list[str], tmp_path: Path) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}

    def failed(item, exc: ThermalAnomalyError) -> str:
        return f"failed: {exc}"

    for item, outcome in outcomes([(n, str(tmp_path)) for n in names], _pool, _work, 2, failed):
        seen.setdefault(item[0], []).append(outcome)
    return seen


def test_a_worker_killed_mid_batch_costs_a_rerun_and_the_image_that_kills_it_is_its_error(tmp_path):
    names = [f"a{i}" for i in range(4)] + ["once1", "die1", "bug"] + [f"b{i}" for i in range(5)] + ["once2"]
    seen = _run(names, tmp_path)
    assert sorted(seen) == sorted(names) and all(len(v) == 1 for v in seen.values())  # each exactly once
    for n in names:
        if n == "die1":
            assert seen[n][0].startswith("failed: die1: the worker process predicting it died")
        elif n == "bug":  # raised on the way back: that item's error, a bug to report
            assert "unexpected IndexError" in seen[n][0] and "a bug" in seen[n][0]
        else:  # the ones killed once, and the ones in flight beside them, were run again and done
            assert seen[n] == [f"done {n}"]
    assert (tmp_path / "once1").exists() and (tmp_path / "once2").exists()


def test_workers_that_die_on_every_image_end_the_batch_in_one_line(tmp_path):
    with pytest.raises(ThermalAnomalyError, match="die before finishing any image"):
        _run([f"die{i}" for i in range(6)], tmp_path)


def test_a_worker_that_cannot_load_its_model_ends_the_batch_in_one_line(tmp_path):
    with pytest.raises(ThermalAnomalyError, match="worker processes could not start: ModelError"):
        _run(["a0", "start", "a1"], tmp_path)
