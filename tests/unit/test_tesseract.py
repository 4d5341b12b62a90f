"""The in-process tesseract reads what the tesseract program reads, and leaves torch its threads."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from thermal_anomaly.thermal import tesseract

needs_both = pytest.mark.skipif(
    tesseract.engine() != "tesserocr" or tesseract._program_version() is None,
    reason="needs tesserocr and the tesseract program",
)


def _mosaic(labels: list[str]) -> np.ndarray:
    rows = []
    for text in labels:
        row = np.full((72, 260), 255, np.uint8)
        cv2.putText(row, text, (16, 54), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 0, 3, cv2.LINE_AA)
        rows.append(row)
    return np.concatenate(rows)


@needs_both
def test_in_process_engine_reads_what_the_program_reads(monkeypatch):
    image = _mosaic(["52.6", "-11", "7.9", "137"])
    ours = tesseract.read_words(image)
    monkeypatch.setattr(tesseract, "_in_process", lambda: False)
    program = tesseract.read_words(image)
    assert [w[0] for w in ours] == [w[0] for w in program] == ["52.6", "-11", "7.9", "137"]
    assert [w[2] for w in ours] == [w[2] for w in program]  # same rows: words map to the same tiles


@needs_both
def test_reading_keeps_torch_threads():
    torch.set_num_threads(2)
    tesseract.read_words(_mosaic(["25.0"]))
    assert torch.get_num_threads() == 2


def test_a_dead_engine_is_restarted():
    if tesseract.engine() != "tesserocr":
        pytest.skip("needs tesserocr")
    tesseract.read_words(_mosaic(["25.0"]))
    tesseract._ENGINE.close()
    assert [w[0] for w in tesseract.read_words(_mosaic(["48.0"]))] == ["48.0"]


def test_a_forked_process_reads_with_an_engine_of_its_own():
    import multiprocessing as mp

    if tesseract.engine() != "tesserocr":
        pytest.skip("needs tesserocr")
    assert [w[0] for w in tesseract.read_words(_mosaic(["25.0"]))] == ["25.0"]  # the parent's engine runs
    with mp.get_context("fork").Pool(1) as pool:
        child = pool.apply(_read_in_child)
    assert child == ["61.5"]
    assert [w[0] for w in tesseract.read_words(_mosaic(["33"]))] == ["33"]  # the parent's still answers


def _read_in_child() -> list[str]:
    return [w[0] for w in tesseract.read_words(_mosaic(["61.5"]))]
