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

import numpy as np
from PIL import Image, ImageFile, ImageOps

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
def _opened(path: Path) -> Iterator[Image.Image]:
    """Open, size-check and fully decode the first frame; map every failure to one DataError."""
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


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a damaged EXIF block is not worth losing a valid picture over."""
    try:
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


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in _HIGH_DEPTH_MODES:
        grey = _scale_min_max(np.asarray(im))
        return np.repeat(grey[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in im.info
    )
    if has_alpha:
        # Screenshots (the dev set's T2-T5) are RGBA: composite onto black, as the camera UI shows them.
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        return np.ascontiguousarray(rgba[:, :, :3] * rgba[:, :, 3:4])
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as H×W×3 float32 RGB in [0, 1], original size kept, EXIF orientation applied.

    Single-channel 16-bit/32-bit/float images are scaled by their own min..max and replicated to three
    channels; transparency is composited onto black. Any failure is ``DataError("<path>: <reason>")``.
    """
    path = Path(path)
    with _opened(path) as im:
        try:
            rgb = _to_rgb(im)
        except Exception as exc:
            raise DataError(f"{path}: cannot convert image mode {im.mode} ({_one_line(exc)})") from None
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


def _to_uint8(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        clean = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return (np.clip(clean, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise ValueError(f"save_png expects bool, uint8 or float in [0, 1], got {array.dtype}")


def save_png(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Save H×W (grey), H×W×1, H×W×3 (RGB) or H×W×4 (RGBA) as PNG atomically.

    ``bool`` is written 0/255 (masks), floats are clipped to [0, 1] and scaled to 0..255.
    """
    data = _to_uint8(array)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    if not (data.ndim == 2 or (data.ndim == 3 and data.shape[2] in (3, 4))):
        raise ValueError(f"save_png expects H×W, H×W×3 or H×W×4, got shape {data.shape}")
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(data)).save(tmp, format="PNG")
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
