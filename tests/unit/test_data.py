"""data: discovery, labels, groups, masks and splits on small generated layouts and on the real dev set."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thermal_anomaly.data import (
    ImageRecord,
    LazyImages,
    ThermalDataset,
    find_images,
    mask_stem,
    read_mask,
    split_normals,
)
from thermal_anomaly.errors import DataError


def _img(path: Path, h: int = 6, w: int = 8, value: int = 100, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.full((h, w, 3), value, np.uint8)
    Image.fromarray(a).convert(mode).save(path, format="PNG" if path.suffix.lower() != ".jpg" else "JPEG")
    return path


def _mask(path: Path, h: int, w: int, box: tuple[int, int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    m = np.zeros((h, w), np.uint8)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = 255
    Image.fromarray(m).save(path)
    return path


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for i in range(3):
        _img(root / "T1" / "normal" / f"T1_normal_{i}.png", value=50 + i)
    _img(root / "T1" / "faulty" / "T1_faulty_0.png.png", h=10, w=12)
    _img(root / "T1" / "faulty" / "T1_faulty_1.jpg")
    _img(root / "T2" / "normal" / "a.png", mode="RGBA")
    _img(root / "T2" / "faulty" / "T1_faulty_9.png")
    _mask(root / "masks" / "T1" / "faulty" / "T1_faulty_0.png", 10, 12, (2, 5, 3, 7))
    _mask(root / "masks" / "T2" / "faulty" / "T1_faulty_9.png", 6, 8, (0, 1, 0, 2))
    (root / "T1" / "normal" / ".DS_Store").write_bytes(b"\0junk")
    (root / "T1" / "normal" / "._T1_normal_0.png").write_bytes(b"\0\x05\x16\x07AppleDouble")
    (root / "T1" / "Thumbs.db").write_bytes(b"junk")
    (root / "annotations.json").write_text(
        json.dumps(
            {"T1/faulty/T1_faulty_1.jpg": [{"class": "x", "polygon": [[1, 1], [4, 1], [4, 3], [1, 3]]}]}
        )
    )
    return root


def test_find_images_sorted_junk_skipped(layout: Path) -> None:
    names = [p.relative_to(layout).as_posix() for p in find_images(layout)]
    assert names == sorted(names)
    assert len(names) == 9  # 7 images + 2 masks; no .DS_Store, AppleDouble or Thumbs.db
    assert not any(Path(n).name.startswith(".") for n in names)
    assert find_images(layout / "T1/normal/T1_normal_0.png") == [layout / "T1/normal/T1_normal_0.png"]
    assert find_images(layout / "nope") == []


def test_train_mode_takes_normals_only(layout: Path) -> None:
    ds = ThermalDataset(layout)
    assert [r.name for r in ds] == ["T1/normal/T1_normal_0.png", "T1/normal/T1_normal_1.png",
                                    "T1/normal/T1_normal_2.png", "T2/normal/a.png"]  # fmt: skip
    assert {r.label for r in ds} == {0} and ds.groups() == ["T1", "T2"]


def test_test_mode_labels_groups_masks(layout: Path) -> None:
    ds = ThermalDataset(layout, mode="test")
    by = {r.name: r for r in ds}
    assert len(ds) == 7 and Counter(ds.labels) == {0: 4, 1: 3}
    dbl = by["T1/faulty/T1_faulty_0.png.png"]
    assert dbl.group == "T1" and dbl.mask_path == layout / "masks/T1/faulty/T1_faulty_0.png"
    m = ds.load_mask(ds.records.index(dbl))
    assert m.shape == (10, 12) and m.dtype == bool and m.sum() == 12 and m[2:5, 3:7].all()
    # a T2 image carrying a T1 name: group from the folder, mask from masks/T2/faulty
    odd = by["T2/faulty/T1_faulty_9.png"]
    assert odd.group == "T2" and odd.mask_path == layout / "masks/T2/faulty/T1_faulty_9.png"
    # no mask file but polygons in annotations.json -> rasterised ground truth
    jp = ds.records.index(by["T1/faulty/T1_faulty_1.jpg"])
    assert ds[jp].mask_path is None and len(ds[jp].polygons) == 1
    assert ds.load_mask(jp).sum() == 4 * 3
    # a normal image: all False at its own size; RGBA loads as 3 channels
    n = ds.records.index(by["T2/normal/a.png"])
    assert ds.load_mask(n).shape == (6, 8) and not ds.load_mask(n).any()
    assert ds.load_image(n).shape == (6, 8, 3)


def test_faulty_without_ground_truth_is_none(layout: Path) -> None:
    os.remove(layout / "masks/T2/faulty/T1_faulty_9.png")
    ds = ThermalDataset(layout, mode="test")
    i = [r.name for r in ds].index("T2/faulty/T1_faulty_9.png")
    assert ds[i].mask_path is None and ds.load_mask(i) is None


def test_lazy_images_reads_on_demand(layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = ThermalDataset(layout)
    calls: list[str] = []
    original = ImageRecord.load_image
    monkeypatch.setattr(ImageRecord, "load_image", lambda self: calls.append(self.name) or original(self))
    imgs = ds.images()
    assert isinstance(imgs, LazyImages) and len(imgs) == 4 and calls == []
    assert imgs[1][0, 0, 0] == pytest.approx(51 / 255)
    assert calls == ["T1/normal/T1_normal_1.png"]
    assert len(imgs[1:3]) == 2 and len(calls) == 1
    assert [float(a[0, 0, 0]) for a in imgs[:3]] == pytest.approx([50 / 255, 51 / 255, 52 / 255])


def test_flat_folder_and_errors(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    _img(flat / "a.png")
    _img(flat / "sub" / "b.png")
    _mask(flat / "masks" / "a.png", 6, 8, (0, 1, 0, 1))  # a masks/ folder is never data
    tr = ThermalDataset(flat)
    assert [r.name for r in tr] == ["a.png", "sub/b.png"] and tr.labels == [None, None] and tr.groups() == []
    te = ThermalDataset(flat, mode="test")
    assert len(te) == 2 and te[0].mask_path == flat / "masks/a.png" and te.load_mask(1) is None
    with pytest.raises(DataError, match=r"nope: no such folder"):
        ThermalDataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"x")
    with pytest.raises(DataError, match=r"empty: no images found"):
        ThermalDataset(tmp_path / "empty")
    only_faulty = tmp_path / "of"
    _img(only_faulty / "T1" / "faulty" / "x.png")
    with pytest.raises(DataError, match="only faulty"):
        ThermalDataset(only_faulty)
    (tmp_path / "bad").mkdir()
    _img(tmp_path / "bad" / "normal" / "x.png")
    (tmp_path / "bad" / "annotations.json").write_text("{not json")
    with pytest.raises(DataError, match="annotations.json: cannot read annotations"):
        ThermalDataset(tmp_path / "bad")


def test_symlinks_keep_names_and_cycles_end(tmp_path: Path, layout: Path) -> None:
    linked = tmp_path / "linked"
    (linked / "T9").mkdir(parents=True)
    os.symlink(layout / "T1" / "normal", linked / "T9" / "normal")  # symlinked folder
    (linked / "T9" / "faulty").mkdir()
    os.symlink(layout / "T1" / "faulty" / "T1_faulty_0.png.png", linked / "T9" / "faulty" / "x.png")
    os.symlink(linked, linked / "T9" / "loop")  # a cycle must not hang discovery
    ds = ThermalDataset(linked, mode="test")
    assert all(str(r.path).startswith(str(linked)) for r in ds)  # never resolved
    assert sorted(r.name for r in ds if r.label == 1) == ["T9/faulty/x.png"]
    assert sum(r.label == 0 for r in ds) == 3 and ds.groups() == ["T9"]


def test_mask_reading_rules(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 1], [2, 0]], np.uint8)).save(tmp_path / "cls.png")  # class-index mask
    assert read_mask(tmp_path / "cls.png").tolist() == [[False, True], [True, False]]
    _mask(tmp_path / "half.png", 4, 6, (0, 2, 0, 3))
    up = read_mask(tmp_path / "half.png", (8, 12))  # same picture at twice the size: resized
    assert up.shape == (8, 12) and up.sum() == 4 * 6 * 4 // 4
    with pytest.raises(DataError, match="mask is 6x4 but its image is 4x4"):
        read_mask(tmp_path / "half.png", (4, 4))
    (tmp_path / "junk.png").write_text("nope")
    with pytest.raises(DataError, match="cannot read mask"):
        read_mask(tmp_path / "junk.png")
    assert mask_stem("T2_faulty_002.png.png") == "T2_faulty_002" and mask_stem("a") == "a"


def _recs(groups: dict[str, int]) -> list[ImageRecord]:
    return [ImageRecord(Path(f"{g}/normal/{i}.png"), f"{g}/normal/{i}.png", 0, g) for g, n in groups.items()
            for i in range(n)]  # fmt: skip


def test_split_normals_seeded_and_stratified() -> None:
    recs = _recs({"T1": 10, "T2": 5, "T3": 5})
    tr, va = split_normals(recs, 0.2, seed=0)
    assert len(va) == 4 and len(tr) == 16 and not {r.name for r in tr} & {r.name for r in va}
    assert Counter(r.group for r in va) == {"T1": 2, "T2": 1, "T3": 1}
    assert [r.name for r in split_normals(recs, 0.2, seed=0)[1]] == [r.name for r in va]
    others = {tuple(r.name for r in split_normals(recs, 0.2, seed=s)[1]) for s in range(1, 6)}
    assert len(others) > 1
    # tiny sets: one validation image from two, none from one; each group keeps a training image
    assert [len(p) for p in split_normals(_recs({"A": 2}))] == [1, 1]
    assert [len(p) for p in split_normals(_recs({"A": 1}))] == [1, 0]
    tr, va = split_normals(_recs({"A": 1, "B": 1, "C": 6}), 0.25)
    assert len(va) == 2 and {r.group for r in tr} == {"A", "B", "C"}
    with pytest.raises(ValueError):
        split_normals(recs, 1.0)


# ------------------------------------------------------------------------------------------ the dev set


@pytest.fixture(scope="module")
def dev(dev_data: Path) -> Path:
    """The development set from conftest's ``dev_data`` (skipped when it is absent)."""
    return dev_data


def test_dev_set_test_mode_counts_and_masks(dev: Path) -> None:
    ds = ThermalDataset(dev, mode="test")
    assert Counter(ds.labels) == {0: 24, 1: 64}
    assert sum(r.mask_path is not None for r in ds if r.label == 1) == 64
    assert ds.groups() == [f"T{k}" for k in range(1, 10)]
    by = {r.name: r for r in ds}
    assert by["T2/faulty/T2_faulty_002.png.png"].mask_path == dev / "masks/T2/faulty/T2_faulty_002.png"
    odd = by["T5/faulty/T4_faulty_002.png"]
    assert odd.group == "T5" and odd.mask_path == dev / "masks/T5/faulty/T4_faulty_002.png"
    assert len(odd.polygons) > 0 and by["T1/normal/T1_normal_001.jpg"].polygons == []
    for r in ds:
        if r.label == 1:
            with Image.open(r.path) as im, Image.open(r.mask_path) as mk:
                assert mk.size == im.size, r.name
    m = ds.load_mask([r.name for r in ds].index("T2/faulty/T2_faulty_002.png.png"))
    assert m.shape == (303, 501) and 0 < m.sum() < m.size * 0.1
    assert ThermalDataset(dev).labels == [0] * 24


def test_dev_set_through_symlinked_copy_with_junk(dev: Path, tmp_path: Path) -> None:
    copy = tmp_path / "dev"
    copy.mkdir()
    for entry in dev.iterdir():
        os.symlink(entry, copy / entry.name)
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "extra" / "._T9_normal_001.jpg").write_bytes(b"\0\5\26\7")
    os.symlink(tmp_path / "extra", copy / "T10")
    ds = ThermalDataset(copy, mode="test")
    assert Counter(ds.labels) == {0: 24, 1: 64} and all(str(r.path).startswith(str(copy)) for r in ds)
    assert sum(r.mask_path is not None for r in ds) == 64
    tr, va = split_normals(ThermalDataset(copy).records, 0.2, seed=0)
    assert len(va) == 5 and len(tr) == 19


def test_predict_inputs_skip_the_dataset_ground_truth(tmp_path):
    from thermal_anomaly.pipeline import collect_inputs

    for rel in ("T1/faulty/a.png", "T1/normal/b.png", "masks/T1/faulty/a.png"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(p)
    names = [name for _p, name, _parts in collect_inputs([tmp_path])]
    assert names == ["T1/faulty/a.png", "T1/normal/b.png"]
    # the masks folder given on purpose is still read
    assert [n for _p, n, _ in collect_inputs([tmp_path / "masks"])] == ["T1/faulty/a.png"]
