"""synthetic: deterministic thermal scenes, exact fault masks that really are hotter, the dev-set layout."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy.spatial import cKDTree

from thermal_anomaly.data import ThermalDataset
from thermal_anomaly.synthetic import PALETTES, make_demo_dataset, palette_lut, render_scene


def _positions(rgb: np.ndarray, palette: str) -> np.ndarray:
    """Palette position (0 cold .. 1 hot) of every pixel, by the nearest palette colour."""
    lut = palette_lut(palette)
    _, idx = cKDTree(lut).query(rgb.reshape(-1, 3))
    return (idx / (len(lut) - 1)).reshape(rgb.shape[:2])


def test_render_is_deterministic_and_shaped() -> None:
    a, ma = render_scene(np.random.default_rng(7), (96, 128), fault=True)
    b, mb = render_scene(np.random.default_rng(7), (96, 128), fault=True)
    c, _ = render_scene(np.random.default_rng(8), (96, 128), fault=True)
    assert a.shape == (96, 128, 3) and a.dtype == np.float32 and ma.shape == (96, 128) and ma.dtype == bool
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ma, mb)
    assert np.abs(a - c).mean() > 0.01
    np.testing.assert_array_equal(render_scene(3)[0], render_scene(np.random.default_rng(3))[0])


@pytest.mark.parametrize(("palette", "layout"), [("iron", "pole"), ("rainbow", "pad")])
def test_faults_masked_exactly_and_hotter_than_surroundings(palette: str, layout: str) -> None:
    areas, contrasts, normal_peaks, fault_peaks = [], [], [], []
    for seed in range(12):
        rgb, mask = render_scene(np.random.default_rng(seed), fault=False, palette=palette, layout=layout)
        assert not mask.any()
        pos = _positions(rgb[:, :237], palette)  # left of the colour-bar strip
        normal_peaks.append(pos.max())
        rgb, mask = render_scene(np.random.default_rng(seed), fault=True, palette=palette, layout=layout)
        assert mask.any()
        pos = _positions(rgb, palette)
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~mask
        contrasts.append(pos[mask].mean() - pos[ring].mean())
        fault_peaks.append(pos[mask].max())
        areas.append(int(mask.sum()))
        assert not mask[:, 237:].any()  # never under the colour bar
    assert min(contrasts) > 0.2  # clearly hotter than the ring around it (palette position, 0..1)
    assert 20 <= min(areas) and max(areas) < 0.02 * 256 * 256  # compact hot spots, not whole objects
    # not trivially the only bright thing: some normal scenes hold something as hot as some faults
    assert max(normal_peaks) > min(fault_peaks)


def test_scene_has_colour_bar_and_warm_body() -> None:
    rgb, _ = render_scene(np.random.default_rng(0), palette="iron")
    bar = _positions(rgb[30:230, 243:250], "iron").mean(axis=1)  # the bar's middle columns
    assert bar[0] > 0.95 and bar[-1] < 0.05 and np.all(np.diff(bar) <= 0.02)  # hot at the top
    pos = _positions(rgb[:, :220], "iron")
    assert np.median(pos[: 256 // 5]) < 0.3  # cool sky
    assert np.percentile(pos, 95) > 0.45  # a warm transformer body
    assert set(PALETTES) == {"iron", "rainbow"}
    with pytest.raises(ValueError):
        render_scene(0, palette="grey")


def test_demo_dataset_layout_loads_with_masks(tmp_path: Path) -> None:
    root = make_demo_dataset(tmp_path / "demo", seed=0)  # timed in benchmarks/unit_speed.py
    ds = ThermalDataset(root, mode="test")
    assert Counter(ds.labels) == {0: 24, 1: 12} and ds.groups() == ["T1", "T2"]
    assert Counter(r.group for r in ds) == {"T1": 18, "T2": 18}
    for i, r in enumerate(ds):
        m = ds.load_mask(i)
        assert m.shape == (256, 256)
        assert m.any() == (r.label == 1), r.name
        if r.label == 1:
            assert r.mask_path == root / "masks" / r.group / "faulty" / Path(r.name).name
            assert set(np.unique(np.asarray(Image.open(r.mask_path)))) == {0, 255}
            assert len(r.polygons) >= 1
    ann = json.loads((root / "annotations.json").read_text())
    assert len(ann) == 36 and ann["T1/normal/T1_normal_001.png"] == []
    assert len(ThermalDataset(root)) == 24
    # different palettes per asset: T1 iron is red/purple, T2 rainbow is blue/green
    t1 = ds.load_image([r.name for r in ds].index("T1/normal/T1_normal_001.png"))
    t2 = ds.load_image([r.name for r in ds].index("T2/normal/T2_normal_001.png"))
    assert t1[..., 0].mean() > t1[..., 1].mean() and t2[..., 2].mean() > t2[..., 0].mean()


def test_demo_dataset_deterministic(tmp_path: Path) -> None:
    a = make_demo_dataset(tmp_path / "a", n_normal=2, n_faulty=2, size=(64, 80), seed=5)
    b = make_demo_dataset(tmp_path / "b", n_normal=2, n_faulty=2, size=(64, 80), seed=5)
    c = make_demo_dataset(tmp_path / "c", n_normal=2, n_faulty=2, size=(64, 80), seed=6)
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert len(files) == 2 + 2 + 2 + 1  # images, masks, annotations.json
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert (a / "T1/normal/T1_normal_001.png").read_bytes() != (
        c / "T1/normal/T1_normal_001.png"
    ).read_bytes()
    assert np.asarray(Image.open(a / "T1/faulty/T1_faulty_001.png")).shape == (64, 80, 3)
