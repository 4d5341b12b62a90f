"""Reading images safely and writing outputs atomically.

Every reader turns *any* failure (missing, empty, truncated, not an image, too large) into a one-line
``DataError("<path>: <reason>")`` so a batch can report the bad file and go on. Writers go through
``atomic_path`` so an interrupted run never leaves a half-written result that looks complete.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps

from .errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")

#: Largest image (in pixels) we agree to decode: the dev set's biggest is ~6 MP, a 120 MP limit still
#: admits any real camera export while refusing decompression bombs before they exhaust memory.
MAX_IMAGE_PIXELS = 120_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

#: Names that carry an image extension but are operating-system junk, never pictures.
_JUNK_NAMES = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})

# Modes holding one high-depth channel: a thermal export's raw counts or temperatures.
_HIGH_DEPTH_MODES = frozenset({"I", "F", "I;16", "I;16B", "I;16L", "I;16N", "I;16S", "I;32", "I;32B"})


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary name keeps the final suffix so libraries that infer the format from it work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


# --------------------------------------------------------------------------------------------- reading


def is_image_file(path: str | os.PathLike) -> bool:
    """True for names with an image extension (any case), False for hidden and OS junk files.

    Only the name is looked at: ``._foo.jpg`` (macOS AppleDouble) and other dot-files are metadata that
    copy tools leave beside the real pictures and would otherwise fail to decode.
    """
    name = Path(path).name
    if not name or name.startswith(".") or name.lower() in _JUNK_NAMES:
        return False
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _check_file(path: Path) -> None:
    if not os.path.lexists(path):
        raise DataError(f"{path}: no such file")
    if not path.exists():
        raise DataError(f"{path}: broken symbolic link")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not an image file")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"{path}: cannot access ({_one_line(exc)})") from None
    if size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")


@contextlib.contextmanager
def _opened(path: Path, draft: bool = False) -> Iterator[Image.Image]:
    """Open, size-check and fully decode the first frame; map every failure to one DataError. ``draft``: a
    JPEG is decoded at 1/8 scale (its whole stream is still read, so truncation is still an error), for a
    check that does not need the pixels."""
    _check_file(path)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched PIL to pad truncated files with grey; that would score garbage as an image.
        raise DataError(f"{path}: refusing to read with PIL's LOAD_TRUNCATED_IMAGES enabled")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w <= 0 or h <= 0:
                    raise DataError(f"{path}: image has no pixels ({w}x{h})")
                if w * h > MAX_IMAGE_PIXELS:
                    raise DataError(
                        f"{path}: image too large ({w}x{h} = {w * h / 1e6:.0f} MP, limit "
                        f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP; possible decompression bomb)"
                    )
                if draft and im.format == "JPEG":
                    im.draft(im.mode, (max(1, w // 8), max(1, h // 8)))
                im.load()  # force the full decode so truncation is an error here, not grey pixels
                yield _upright(im)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"{path}: image too large, possible decompression bomb ({_one_line(exc)})") from None
    except Image.UnidentifiedImageError:
        raise DataError(f"{path}: not a readable image (unknown or corrupt format)") from None
    except MemoryError:
        raise DataError(f"{path}: not enough memory to decode the image") from None
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, struct.error, ... on bad files
        raise DataError(f"{path}: cannot decode image ({_one_line(exc)})") from None


#: EXIF orientations that ``ImageOps.exif_transpose`` turns or flips (1 and anything else: as stored)
_TURNED = frozenset(range(2, 9))


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a damaged EXIF block is not worth losing a valid picture over.

    A picture stored upright is used as it is: ``exif_transpose`` would return a copy of it (~20 ms for a
    6 MP photo), and the caller only reads it while the file is open."""
    try:
        if im.getexif().get(ExifTags.Base.Orientation, 1) not in _TURNED:
            return im
        return ImageOps.exif_transpose(im)
    except Exception:
        return im


def _scale_min_max(values: np.ndarray) -> np.ndarray:
    """Map a single-channel array onto [0, 1] by its own finite min..max (a thermal export's span)."""
    values = values.astype(np.float32, copy=False)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.float32)
    lo = float(values[finite].min())
    hi = float(values[finite].max())
    out = np.zeros(values.shape, np.float32)
    if hi > lo:
        out[finite] = (values[finite] - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0)


def _to_rgb(im: Image.Image, keep_bytes: bool = False) -> np.ndarray:
    mode = im.mode
    if mode in _HIGH_DEPTH_MODES:
        grey = _scale_min_max(np.asarray(im))
        return np.repeat(grey[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in im.info
    )
    if has_alpha:
        # Screenshots (the dev set's T2-T5) are RGBA: composite onto black, as the camera UI shows them.
        rgba = _bytes_to_float(np.asarray(im.convert("RGBA")))
        return np.ascontiguousarray(rgba[:, :, :3] * rgba[:, :, 3:4])
    rgb8 = np.ascontiguousarray(np.asarray(im if mode == "RGB" else im.convert("RGB")))
    return rgb8 if keep_bytes else _bytes_to_float(rgb8)


#: byte -> float [0, 1], ``k / 255`` in float32
_BYTE_TO_FLOAT = np.arange(256, dtype=np.float32) / 255.0


def _bytes_to_float(a: np.ndarray) -> np.ndarray:
    """H×W×C uint8 (C <= 4) as float32 in [0, 1]: exactly ``a.astype(float32) / 255``, one table lookup."""
    return cv2.LUT(np.ascontiguousarray(a, np.uint8), _BYTE_TO_FLOAT)


def check_image(path: str | os.PathLike) -> None:
    """Raise the ``DataError`` :func:`read_image` would raise for ``path`` on an unreadable file, without
    keeping its pixels: the same checks and a full pass over the file, a JPEG decoded at 1/8 scale (a 3077 px photo ~8x cheaper than
    reading it), so a batch can be vetted before the work that reads each image for real."""
    with _opened(Path(path), draft=True):
        pass


def read_image(path: str | os.PathLike, keep_bytes: bool = False) -> np.ndarray:
    """Read an image as H×W×3 float32 RGB in [0, 1], original size kept, EXIF orientation applied.

    Single-channel 16-bit/32-bit/float images are scaled by their own min..max and replicated to three
    channels; transparency is composited onto black. Any failure is ``DataError("<path>: <reason>")``.
    ``keep_bytes``: an 8-bit picture without transparency comes back as its H×W×3 uint8 RGB instead (the
    float is then exactly ``bytes / 255``, what ``thermal.palette.as_rgb_float`` makes of them).
    """
    path = Path(path)
    with _opened(path) as im:
        try:
            rgb = _to_rgb(im, keep_bytes)
        except Exception as exc:
            raise DataError(f"{path}: cannot convert image mode {im.mode} ({_one_line(exc)})") from None
    if rgb.dtype == np.uint8:
        return rgb
    return np.ascontiguousarray(rgb, dtype=np.float32)


def read_raw(path: str | os.PathLike) -> np.ndarray:
    """Read a single-channel image's stored values as H×W float32 (counts or temperatures, unscaled).

    Meant for 16-bit / float TIFF thermal exports whose numbers are the measurement; a colour image has
    no such numbers, so it is a ``DataError`` (use ``read_image`` and the palette instead).
    """
    path = Path(path)
    with _opened(path) as im:
        mode = im.mode
        if mode == "1":
            im = im.convert("L")
            mode = "L"
        if mode not in _HIGH_DEPTH_MODES and mode != "L":
            raise DataError(f"{path}: no raw values: a {mode} colour image, not a single-channel export")
        try:
            values = np.asarray(im)
        except Exception as exc:
            raise DataError(f"{path}: cannot read raw values ({_one_line(exc)})") from None
    return np.ascontiguousarray(values, dtype=np.float32)


# --------------------------------------------------------------------------------------------- writing


def _jsonable(obj: Any) -> Any:
    """Plain-JSON version of ``obj``: numpy scalars/arrays and paths converted; NaN/inf become null."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write strict JSON (UTF-8, indented) atomically; numpy values are converted, NaN/inf -> null."""
    text = json.dumps(_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_text(path, text)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


#: PNG writing: libpng (OpenCV) at zlib level 1 with run-length matching and the "up" filter on every row,
#: about half of Pillow's time at its fastest level for files of about the same size (benchmarks/pictures.py)
PNG_PARAMS = [
    cv2.IMWRITE_PNG_COMPRESSION,
    1,
    cv2.IMWRITE_PNG_STRATEGY,
    cv2.IMWRITE_PNG_STRATEGY_RLE,
    cv2.IMWRITE_PNG_FILTER,
    cv2.IMWRITE_PNG_FILTER_UP,
]


def to_uint8(array: np.ndarray) -> np.ndarray:
    """The one float-to-byte conversion of the project: ``bool`` -> 0/255 (masks), ``uint8`` as it is,
    floats in [0, 1] -> 0..255 rounded to nearest and saturated (OpenCV in one pass, ~10x numpy's three;
    NaN and below 0 -> 0, above 1 -> 255). Keeps the shape."""
    a = np.asarray(array)
    if a.dtype == np.bool_:
        return a.view(np.uint8) * np.uint8(255)
    if a.dtype == np.uint8:
        return a
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"expected bool, uint8 or float in [0, 1], got {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim == 3 and a.shape[2] > 4:  # OpenCV's element-wise calls take at most 4 channels
        return np.stack([to_uint8(a[..., c]) for c in range(a.shape[2])], axis=-1)
    # OpenCV reads a one-pixel array beside a number as a scalar pair (a 4×1 result): compare with zeros
    zero = 0.0 if a.size > 4 else np.zeros_like(a)
    return cv2.convertScaleAbs(cv2.max(a, zero), alpha=255.0).reshape(a.shape)


def encode_png(array: np.ndarray | Image.Image) -> bytes:
    """PNG bytes of H×W (grey), H×W×1, H×W×3 (RGB) or H×W×4 (RGBA), converted by :func:`to_uint8`."""
    data = to_uint8(np.asarray(array))
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    if data.ndim == 3 and data.shape[2] in (3, 4):
        data = cv2.cvtColor(data, cv2.COLOR_RGB2BGR if data.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    elif data.ndim != 2:
        raise ValueError(f"PNG expects H×W, H×W×3 or H×W×4, got shape {data.shape}")
    ok, buf = cv2.imencode(".png", data, PNG_PARAMS)
    if not ok:
        raise ValueError(f"PNG encoding failed for an array of shape {data.shape}")
    return buf.tobytes()


def save_png(path: str | os.PathLike, array: np.ndarray | Image.Image) -> Path:
    """Save H×W (grey), H×W×1, H×W×3 (RGB) or H×W×4 (RGBA) as PNG atomically (see :func:`encode_png`).

    ``bool`` is written 0/255 (masks), floats are clipped to [0, 1] and scaled to 0..255.
    """
    data = encode_png(array)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def save_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Save one array as ``.npy`` atomically (no pickled objects, so it is safe to load)."""
    array = np.asarray(array)
    if array.dtype == object:
        raise ValueError("save_npy refuses object arrays (they would need pickle to load)")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    return Path(path)


def save_tiff_float(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Save an H×W array as a one-channel float32 TIFF atomically (Pillow mode "F"; NaN kept).

    Float32 values, NaN included, read back bit for bit; the format every thermal tool opens.
    """
    data = np.ascontiguousarray(array, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"save_tiff_float expects H×W, got shape {data.shape}")
    with atomic_path(path) as tmp:
        Image.fromarray(data).save(tmp, format="TIFF")  # float32 -> mode "F"
    return Path(path)
