"""io: reading unusual-but-valid images exactly, refusing broken ones with one-line DataErrors, atomic writes."""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from thermal_anomaly.errors import DataError
from thermal_anomaly.io import (
    IMAGE_EXTENSIONS,
    MAX_IMAGE_PIXELS,
    atomic_path,
    is_image_file,
    read_image,
    read_raw,
    save_npy,
    save_png,
    save_tiff_float,
    write_json,
    write_text,
)


def _rgb(h: int = 6, w: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _jpeg_bytes(a: np.ndarray, **kw) -> bytes:
    b = io.BytesIO()
    Image.fromarray(a).save(b, "JPEG", quality=95, **kw)
    return b.getvalue()


# ------------------------------------------------------------------------------------------ valid inputs


def test_rgb_png_is_exact_and_keeps_size(tmp_path: Path) -> None:
    a = _rgb(7, 11)
    Image.fromarray(a).save(tmp_path / "x.png")
    out = read_image(tmp_path / "x.png")
    assert out.shape == (7, 11, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, a / 255.0, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (5, 3)])
def test_tiny_images(tmp_path: Path, shape: tuple[int, int]) -> None:
    a = _rgb(*shape)
    Image.fromarray(a).save(tmp_path / "t.png")
    assert read_image(tmp_path / "t.png").shape == (*shape, 3)


@pytest.mark.parametrize("shape", [(1,), (1, 1), (1, 1, 3), (1, 1, 4), (2, 2), (1, 5), (2, 1, 3)])
def test_to_uint8_of_tiny_arrays_keeps_shape_and_values(shape: tuple[int, ...]) -> None:
    """OpenCV reads a one-pixel array beside a number as a scalar pair: a one-pixel picture (a 1×1 PNG) used
    to end a whole batch with a reshape error."""
    from thermal_anomaly.io import to_uint8

    a = np.linspace(-0.2, 1.2, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    a.flat[0] = np.nan
    want = np.rint(np.clip(np.nan_to_num(a), 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)
    got = to_uint8(a)
    assert got.shape == a.shape and np.array_equal(got, want)


def test_greyscale_l_and_la_replicated(tmp_path: Path) -> None:
    g = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(g, "L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    for c in range(3):
        np.testing.assert_allclose(out[:, :, c], g / 255.0, atol=1e-6)
    alpha = np.full_like(g, 255)
    alpha[0, 0] = 0  # transparent pixel -> black
    Image.fromarray(np.stack([g, alpha], axis=2), "LA").save(tmp_path / "la.png")
    out = read_image(tmp_path / "la.png")
    assert out[0, 0].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(out[2, 3], [g[2, 3] / 255.0] * 3, atol=1e-6)


def test_rgba_composited_onto_black(tmp_path: Path) -> None:
    a = np.zeros((2, 2, 4), np.uint8)
    a[..., :3] = 200
    a[..., 3] = [[255, 0], [128, 255]]
    Image.fromarray(a, "RGBA").save(tmp_path / "s.png")
    out = read_image(tmp_path / "s.png")
    np.testing.assert_allclose(
        out[:, :, 0], [[200 / 255, 0.0], [200 / 255 * 128 / 255, 200 / 255]], atol=1e-6
    )


def test_palette_image(tmp_path: Path) -> None:
    im = Image.new("P", (4, 3))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    im.putdata([0, 1, 2, 0] * 3)
    im.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    assert out[0, 0].tolist() == [1.0, 0.0, 0.0]
    assert out[0, 1].tolist() == [0.0, 1.0, 0.0]
    assert out[0, 2].tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16bit_scaled_by_own_min_max(tmp_path: Path, fmt: str) -> None:
    v = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000 + 20000).astype(np.uint16)
    path = tmp_path / f"t16.{fmt.lower()}"
    Image.fromarray(v).save(path, fmt)
    assert Image.open(path).mode.startswith("I;16")
    out = read_image(path)
    assert out.shape == (3, 4, 3)
    np.testing.assert_allclose(out[:, :, 1], (v - 20000.0) / 11000.0, atol=1e-6)
    np.testing.assert_array_equal(read_raw(path), v.astype(np.float32))


def test_16bit_big_endian_tiff(tmp_path: Path) -> None:
    v = np.array([[100, 300], [500, 900]], dtype=">u2")
    Image.frombuffer("I;16B", (2, 2), v.tobytes(), "raw", "I;16B", 0, 1).save(tmp_path / "b.tif")
    np.testing.assert_allclose(read_image(tmp_path / "b.tif")[:, :, 0], [[0, 0.25], [0.5, 1.0]], atol=1e-6)
    np.testing.assert_array_equal(read_raw(tmp_path / "b.tif"), [[100, 300], [500, 900]])


def test_int32_and_float_tiff(tmp_path: Path) -> None:
    i32 = np.array([[-5, 0], [5, 15]], dtype=np.int32)
    Image.fromarray(i32).save(tmp_path / "i.tif")
    assert Image.open(tmp_path / "i.tif").mode == "I"
    np.testing.assert_allclose(read_image(tmp_path / "i.tif")[:, :, 2], [[0, 0.25], [0.5, 1.0]], atol=1e-6)
    temps = np.array([[21.5, 22.5], [np.nan, 41.5]], dtype=np.float32)  # degrees C, one dead pixel
    Image.fromarray(temps).save(tmp_path / "f.tiff")
    out = read_image(tmp_path / "f.tiff")
    np.testing.assert_allclose(out[:, :, 0], [[0, 0.05], [0, 1.0]], atol=1e-6)
    raw = read_raw(tmp_path / "f.tiff")
    assert raw.dtype == np.float32 and raw[1, 1] == pytest.approx(41.5) and np.isnan(raw[1, 0])


def test_constant_16bit_image_is_zero_not_nan(tmp_path: Path) -> None:
    Image.fromarray(np.full((3, 3), 7, np.uint16)).save(tmp_path / "c.png")
    out = read_image(tmp_path / "c.png")
    assert np.isfinite(out).all() and out.max() == 0.0


def test_cmyk_jpeg(tmp_path: Path) -> None:
    a = np.zeros((16, 16, 3), np.uint8)
    a[:, :8] = [220, 30, 30]
    a[:, 8:] = [30, 30, 220]
    Image.fromarray(a).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    out = read_image(tmp_path / "c.jpg")
    assert out.shape == (16, 16, 3)
    assert out[8, 2, 0] > 0.7 and out[8, 2, 2] < 0.3  # red half stays red
    assert out[8, 13, 2] > 0.7 and out[8, 13, 0] < 0.3  # blue half stays blue


def test_exif_orientation_applied(tmp_path: Path) -> None:
    a = np.zeros((4, 6, 3), np.uint8)
    a[0, 0] = 255  # top-left marker in the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(a).save(tmp_path / "o.png", exif=exif.tobytes())
    out = read_image(tmp_path / "o.png")
    assert out.shape == (6, 4, 3)
    assert out[0, -1].tolist() == [1.0, 1.0, 1.0]  # marker moved to top-right


@pytest.mark.parametrize("orientation", [None, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
def test_every_exif_orientation_reads_as_exif_transpose_gives_it(tmp_path: Path, orientation) -> None:
    from PIL import ImageOps

    a = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    Image.fromarray(a).save(tmp_path / "o.png", exif=exif.tobytes())
    with Image.open(tmp_path / "o.png") as im:
        want = np.asarray(ImageOps.exif_transpose(im))  # what read_image did before it skipped the copy
    assert np.array_equal(read_image(tmp_path / "o.png", keep_bytes=True), want)


def test_upper_case_and_many_dots(tmp_path: Path) -> None:
    a = _rgb()
    Image.fromarray(a).save(tmp_path / "T2_faulty_002.png.PNG", "PNG")
    (tmp_path / "scan.2024.01.JPEG").write_bytes(_jpeg_bytes(a))
    assert read_image(tmp_path / "T2_faulty_002.png.PNG").shape == (6, 8, 3)
    assert read_image(tmp_path / "scan.2024.01.JPEG").shape == (6, 8, 3)


def test_real_rgba_screenshot_reads(dev_data: Path) -> None:
    out = read_image(dev_data / "T2/faulty/T2_faulty_002.png.png")
    assert out.shape == (303, 501, 3) and 0.0 <= out.min() and out.max() <= 1.0


# ------------------------------------------------------------------------------------------ broken inputs


def _assert_data_error(path: Path, needle: str) -> None:
    assert needle, "an empty needle matches any message"
    with pytest.raises(DataError) as info:
        read_image(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg
    assert needle in msg.lower(), msg


@pytest.mark.parametrize("cut", [-2, -40, 0.5, 300])
def test_truncated_jpeg_is_an_error(tmp_path: Path, cut: float) -> None:
    data = _jpeg_bytes(_rgb(64, 80))
    n = int(len(data) * cut) if isinstance(cut, float) else (len(data) + cut if cut < 0 else cut)
    (tmp_path / "t.jpg").write_bytes(data[:n])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    _assert_data_error(tmp_path / "t.jpg", "truncated")


def test_truncated_png_is_an_error(tmp_path: Path) -> None:
    b = io.BytesIO()
    Image.fromarray(_rgb(64, 64)).save(b, "PNG")
    (tmp_path / "t.png").write_bytes(b.getvalue()[: len(b.getvalue()) * 2 // 3])
    _assert_data_error(tmp_path / "t.png", "truncated")


def test_load_truncated_images_flag_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _jpeg_bytes(_rgb(64, 80))
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    _assert_data_error(tmp_path / "t.jpg", "load_truncated_images")


def test_other_bad_files(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    _assert_data_error(tmp_path / "empty.png", "empty")
    (tmp_path / "noise.jpg").write_bytes(np.random.default_rng(1).bytes(4096))
    _assert_data_error(tmp_path / "noise.jpg", "not a readable image")
    (tmp_path / "notes.png").write_text("this is text, not a picture\n")
    _assert_data_error(tmp_path / "notes.png", "not a readable image")
    (tmp_path / "folder.png").mkdir()
    _assert_data_error(tmp_path / "folder.png", "directory")
    _assert_data_error(tmp_path / "missing.png", "no such file")
    os.symlink(tmp_path / "gone.png", tmp_path / "dangling.png")
    _assert_data_error(tmp_path / "dangling.png", "broken symbolic link")


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    # A 1-bit 12000x12000 PNG is ~18 kB on disk but 144 MP: over the limit, refused from the header.
    Image.new("1", (12000, 12000)).save(tmp_path / "bomb.png")
    assert 12000 * 12000 > MAX_IMAGE_PIXELS
    _assert_data_error(tmp_path / "bomb.png", "too large")


def test_pil_bomb_warning_becomes_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.new("L", (50, 50)).save(tmp_path / "w.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # PIL warns above this, errors above twice it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reader must not depend on the caller's warning filters
        _assert_data_error(tmp_path / "w.png", "too large")


def test_read_raw_refuses_colour(tmp_path: Path) -> None:
    Image.fromarray(_rgb()).save(tmp_path / "c.png")
    with pytest.raises(DataError, match="no raw values"):
        read_raw(tmp_path / "c.png")
    with pytest.raises(DataError, match="empty"):
        (tmp_path / "e.tif").write_bytes(b"")
        read_raw(tmp_path / "e.tif")


# ------------------------------------------------------------------------------------------ names


def test_is_image_file() -> None:
    assert IMAGE_EXTENSIONS == (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
    for name in ["a.jpg", "B.JPEG", "c.Png", "d.bmp", "e.TIF", "f.tiff", "T2_faulty_002.png.png", "x/y.jpg"]:
        assert is_image_file(name), name
    for name in [".DS_Store", "._foo.jpg", ".hidden.png", "Thumbs.db", "a.gif", "a.txt", "png", "a.jpg.txt"]:
        assert not is_image_file(name), name


# ------------------------------------------------------------------------------------------ writers


def test_write_json_strict_and_numpy(tmp_path: Path) -> None:
    p = write_json(
        tmp_path / "sub" / "r.json",
        {
            "s": np.float32(0.5),
            "n": np.int64(3),
            "b": np.bool_(True),
            "a": np.arange(3),
            "nan": float("nan"),
            "p": Path("x/y"),
        },
    )
    text = p.read_text()
    assert "NaN" not in text
    assert json.loads(text) == {"s": 0.5, "n": 3, "b": True, "a": [0, 1, 2], "nan": None, "p": "x/y"}
    assert [f.name for f in (tmp_path / "sub").iterdir()] == ["r.json"]  # no temporary left behind


def test_write_text_and_atomic_failure_keeps_old(tmp_path: Path) -> None:
    write_text(tmp_path / "a.txt", "old\n")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert (tmp_path / "a.txt").read_text() == "old\n"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.txt"]


def test_save_png_round_trips(tmp_path: Path) -> None:
    mask = np.zeros((5, 7), bool)
    mask[1:3, 2:5] = True
    save_png(tmp_path / "m.png", mask)
    m = np.asarray(Image.open(tmp_path / "m.png"))
    assert m.dtype == np.uint8 and set(np.unique(m)) == {0, 255} and (m == 255).sum() == 6
    f = np.linspace(-0.5, 1.5, 5 * 7 * 3, dtype=np.float32).reshape(5, 7, 3)
    save_png(tmp_path / "f.png", f)
    np.testing.assert_allclose(read_image(tmp_path / "f.png"), np.clip(f, 0, 1), atol=1 / 255)
    a = _rgb()
    save_png(tmp_path / "u.png", a)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "u.png")), a)
    with pytest.raises(ValueError):
        save_png(tmp_path / "bad.png", np.zeros((3, 3), np.int32))
    with pytest.raises(ValueError):
        save_png(tmp_path / "bad.png", np.zeros((3, 3, 2), np.uint8))


def test_save_npy_round_trips(tmp_path: Path) -> None:
    a = np.random.default_rng(0).random((4, 5)).astype(np.float32)
    save_npy(tmp_path / "m.anomaly_map.npy", a)
    b = np.load(tmp_path / "m.anomaly_map.npy", allow_pickle=False)
    assert b.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        save_npy(tmp_path / "o.npy", np.array([{}], dtype=object))


def test_save_tiff_float_round_trips_through_read_raw(tmp_path: Path) -> None:
    a = np.random.default_rng(0).normal(30, 8, (6, 9))  # float64 in: written as float32
    a[2, 3] = np.nan
    assert save_tiff_float(tmp_path / "t.tiff", a) == tmp_path / "t.tiff"
    back = read_raw(tmp_path / "t.tiff")
    assert back.shape == (6, 9) and back.tobytes() == a.astype(np.float32).tobytes()  # NaN included
    with pytest.raises(ValueError):
        save_tiff_float(tmp_path / "rgb.tiff", np.zeros((3, 3, 3), np.float32))
    assert sorted(f.name for f in tmp_path.iterdir()) == ["t.tiff"]


def test_check_image_refuses_what_read_image_refuses_and_passes_the_rest(
    tmp_path: Path, dev_data: Path
) -> None:
    """``check_image`` (a JPEG at 1/8 scale: training vets 2,000 normals with it) must still read a JPEG's
    whole stream: every cut of a real camera JPEG that ``read_image`` refuses, it refuses with the same
    message; whole files of every kind pass."""
    from thermal_anomaly.io import check_image

    data = (dev_data / "T1/normal/T1_normal_001.jpg").read_bytes()
    for i, n in enumerate([len(data) - 2, len(data) - 300, len(data) * 3 // 4, len(data) // 2, 700]):
        cut = tmp_path / f"cut{i}.jpg"
        cut.write_bytes(data[:n])
        with pytest.raises(DataError) as want:
            read_image(cut)
        with pytest.raises(DataError) as got:
            check_image(cut)
        assert str(got.value) == str(want.value)
    for rel in (
        "T1/normal/T1_normal_001.jpg",
        "T2/faulty/T2_faulty_002.png.png",
        "T6/normal/T6_normal_001.jpg",
    ):
        check_image(dev_data / rel)
