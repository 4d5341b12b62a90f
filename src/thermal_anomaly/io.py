"""Reading images safely and writing outputs atomically (first version; to be extended)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


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


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as H×W×3 float32 RGB in [0, 1]."""
    try:
        with Image.open(path) as im:
            im.load()
            rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot read image ({exc})") from None
    return rgb
