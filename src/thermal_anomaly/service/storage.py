"""Files of the service under its data folder: uploads checked by their content, written then renamed.

Layout (paths in the database are relative to the data folder)::

    DATA/service.db                      the SQLite database (unless --database-url)
    DATA/tmp/                            uploads and work in progress (emptied at start)
    DATA/assets/<asset id>/baselines/<baseline id>.<ext>
    DATA/assets/<asset id>/models/<model id>/patchcore.pth
    DATA/inspections/<key>/<file>        the upload, beside predict's outputs: <file>.json,
                                         <file>.annotated.png, <file>.panel.png
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import ThermalAnomalyError

#: what PIL says a file is -> the extension it is stored under (the library reads by extension)
FORMATS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "BMP": ".bmp", "TIFF": ".tiff"}
CHUNK = 1 << 20


class UploadError(Exception):
    """An upload the service refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class StoredUpload:
    path: Path  # in DATA/tmp, named <stem><ext by content>
    filename: str  # the sanitised name the client gave, extension by content
    width: int
    height: int
    format: str


def safe_filename(name: str | None, ext: str) -> str:
    """The client's file name reduced to a harmless base name, with the extension its content has."""
    base = Path((name or "").replace("\\", "/")).name.lstrip(".")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = re.sub(r"[^A-Za-z0-9_.\-]+", "_", stem).strip("_.")[:120] or "image"
    return stem + ext


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def prepare(self) -> None:
        """Create the folders; empty tmp/ (work a killed process left half done)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        (self.root / "assets").mkdir(exist_ok=True)
        (self.root / "inspections").mkdir(exist_ok=True)

    def abs(self, rel: str | os.PathLike) -> Path:
        return self.root / rel

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def work_dir(self) -> Path:
        d = self.tmp / uuid.uuid4().hex
        d.mkdir(parents=True)
        return d

    # ------------------------------------------------------------------------------------ uploads
    def receive(self, fileobj, client_name: str | None, *, max_bytes: int, max_pixels: int) -> StoredUpload:
        """Copy an upload into tmp/ (at most ``max_bytes``), check by its content that it is a whole image
        of a supported format and at most ``max_pixels``; UploadError (4xx) otherwise."""
        work = self.work_dir()
        raw = work / "upload"
        size = 0
        with open(raw, "wb") as out:
            while True:
                chunk = fileobj.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    shutil.rmtree(work, ignore_errors=True)
                    raise UploadError(413, f"file too large: over the limit of {max_bytes} bytes")
                out.write(chunk)
        if size == 0:
            shutil.rmtree(work, ignore_errors=True)
            raise UploadError(400, "empty file (0 bytes)")
        try:
            fmt, width, height = check_image(raw, max_pixels)
        except UploadError:
            shutil.rmtree(work, ignore_errors=True)
            raise
        filename = safe_filename(client_name, FORMATS[fmt])
        final = work / filename
        os.replace(raw, final)
        return StoredUpload(final, filename, width, height, fmt)

    def place(self, src: Path, dest_rel: str) -> str:
        """Move ``src`` (file or folder, in tmp/) to ``dest_rel`` under the data folder, fsynced."""
        dest = self.abs(dest_rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_file():
            with open(src, "rb") as f:
                os.fsync(f.fileno())
        else:
            for p in src.rglob("*"):
                if p.is_file():
                    with open(p, "rb") as f:
                        os.fsync(f.fileno())
        os.replace(src, dest)
        fsync_dir(dest.parent)
        return dest_rel


def check_image(path: Path, max_pixels: int) -> tuple[str, int, int]:
    """(format, width, height) of a whole, readable image file of a supported format; UploadError else.

    The header is read first (format and size, without decoding: a decompression bomb is refused before
    its pixels exist), then the image is decoded in full by the library's reader, so a truncated file is
    refused too."""
    from ..io import read_image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                fmt = im.format or ""
                width, height = im.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(413, "image has too many pixels (possible decompression bomb)") from None
    except Exception:
        raise UploadError(415, "not an image (unknown or corrupt format)") from None
    if fmt not in FORMATS:
        raise UploadError(415, f"unsupported image format {fmt or 'unknown'}: use JPEG, PNG, BMP or TIFF")
    if width <= 0 or height <= 0:
        raise UploadError(400, "image has no pixels")
    if width * height > max_pixels:
        raise UploadError(
            413,
            f"image has too many pixels ({width}x{height}; the limit is {max_pixels / 1e6:g} MP,"
            " possible decompression bomb)",
        )
    try:
        read_image(path)
    except ThermalAnomalyError as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise UploadError(400, f"cannot read the image: {reason}") from None
    return fmt, width, height
