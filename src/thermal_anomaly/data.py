"""Datasets: the development layout (``T*/normal|faulty``, ``masks/``, ``annotations.json``) and splits.

Paths are kept exactly as found below the root (never resolved), because inputs may be symbolic links
and output names must come from the names the user sees. Images are read on demand so detectors can
fit on folders larger than memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

import cv2
import numpy as np
from PIL import Image

from .errors import DataError
from .io import IMAGE_EXTENSIONS, check_image, is_image_file, read_image

NORMAL_DIR = "normal"
FAULTY_DIR = "faulty"
MASKS_DIR = "masks"
ANNOTATIONS_FILE = "annotations.json"

#: folders that copy tools and notebooks leave behind; never data
_SKIP_DIRS = frozenset({"__MACOSX", "__pycache__"})


@dataclass
class ImageRecord:
    """One image of a dataset and what is known about it."""

    path: Path
    name: str
    label: int | None = None
    group: str | None = None
    mask_path: Path | None = None
    polygons: list[dict] = field(default_factory=list)

    def load_image(self) -> np.ndarray:
        """H×W×3 float32 RGB in [0, 1] (``DataError`` if unreadable)."""
        return read_image(self.path)

    def load_mask(self, shape: tuple[int, int] | None = None) -> np.ndarray | None:
        """Ground truth as bool H×W: the mask file, else the annotation polygons, else None.

        A normal image without either is all False. ``shape`` (H, W) saves reading the image header.
        """
        if self.mask_path is None and not self.polygons and self.label != 0:
            return None
        if shape is None:
            shape = image_shape(self.path)
        if self.mask_path is not None:
            return read_mask(self.mask_path, shape)
        if self.polygons:
            return rasterize_polygons(self.polygons, shape)
        return np.zeros(shape, bool)


def image_shape(path: str | os.PathLike) -> tuple[int, int]:
    """(H, W) as ``read_image`` would return it, from the header only when no EXIF rotation applies."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)
    except Exception:
        return read_image(path).shape[:2]  # raises the proper DataError for a bad file
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def read_mask(path: str | os.PathLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a ground-truth mask (0 = normal, anything else = fault) as bool H×W.

    Lossless masks are ``> 0`` so class-index masks (1, 2, 3, ...) count too; JPEG masks are split at
    mid-grey to survive compression noise. With ``shape``, a mask of another size is a ``DataError``
    unless it is the same picture scaled (aspect within 2 %), which is resized by nearest neighbour.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            lossy = (im.format or "").upper() == "JPEG"
            if im.mode in ("RGB", "RGBA", "P", "CMYK", "LA", "PA", "YCbCr"):
                im = im.convert("L")
            values = np.asarray(im)
    except Exception as exc:
        raise DataError(
            f"{path}: cannot read mask ({' '.join(str(exc).split()) or type(exc).__name__})"
        ) from None
    if values.ndim == 3:
        values = values.max(axis=2)
    mask = values >= 128 if lossy else values > 0
    if shape is not None and mask.shape != tuple(shape):
        h, w = shape
        mh, mw = mask.shape
        if abs((mw / mh) / (w / h) - 1.0) > 0.02:
            raise DataError(f"{path}: mask is {mw}x{mh} but its image is {w}x{h}")
        mask = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    return mask


def rasterize_polygons(polygons: Sequence[dict], shape: tuple[int, int]) -> np.ndarray:
    """Fill annotation polygons (``{"polygon": [[x, y], ...]}`` in pixels) into a bool H×W mask."""
    canvas = np.zeros(shape, np.uint8)
    for item in polygons:
        pts = np.asarray(item.get("polygon", []), dtype=np.float64)
        if pts.ndim != 2 or pts.shape[0] < 3 or pts.shape[1] != 2:
            continue
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 1)
    return canvas.astype(bool)


# ------------------------------------------------------------------------------------------ discovery


def _walk(root: Path) -> Iterator[Path]:
    """Yield image paths below ``root`` (as given), following symlinked folders once (no cycles)."""
    seen: set[str] = set()

    def visit(folder: Path) -> Iterator[Path]:
        try:
            real = os.path.realpath(folder)
            if real in seen:
                return
            seen.add(real)
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            child = folder / entry.name
            if entry.name.startswith(".") or entry.name in _SKIP_DIRS:
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                yield from visit(child)
            elif is_image_file(child):
                yield child

    yield from visit(root)


def find_images(root: str | os.PathLike) -> list[Path]:
    """All image files below ``root`` (recursive, sorted by relative path, names as found, junk skipped).

    A file given as ``root`` is returned alone if it is an image.
    """
    root = Path(root)
    if root.is_file():
        return [root] if is_image_file(root) else []
    if not root.is_dir():
        return []
    return sorted(_walk(root), key=lambda p: p.relative_to(root).as_posix())


def _label_of(parts: Sequence[str]) -> tuple[int | None, int | None]:
    """(label, index of the deciding folder) from the folder names of a relative path (nearest wins)."""
    for i in range(len(parts) - 2, -1, -1):
        low = parts[i].lower()
        if low == NORMAL_DIR:
            return 0, i
        if low == FAULTY_DIR:
            return 1, i
    return None, None


def mask_stem(name: str) -> str:
    """The file name up to its first dot: ``T2_faulty_002.png.png`` -> ``T2_faulty_002``."""
    return name.split(".", 1)[0] if not name.startswith(".") else name


# ------------------------------------------------------------------------------------------ dataset


class LazyImages(Sequence[np.ndarray]):
    """A read-on-demand ``Sequence`` of images: nothing is held in memory between accesses."""

    def __init__(self, records: Sequence[ImageRecord]) -> None:
        self._records = list(records)

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, index: slice) -> LazyImages: ...
    def __getitem__(self, index: int | slice) -> np.ndarray | LazyImages:
        if isinstance(index, slice):
            return LazyImages(self._records[index])
        return self._records[index].load_image()

    @property
    def records(self) -> list[ImageRecord]:
        return list(self._records)


class ThermalDataset(Sequence[ImageRecord]):
    """Images below ``root`` in the development layout.

    ``mode="train"``: the images under every ``normal/`` folder (all images not under ``faulty/`` when
    there is no ``normal/`` folder). ``mode="test"``: images under ``normal/`` (label 0) and ``faulty/``
    (label 1); when neither exists, all images with label None. ``masks/`` below the root is never data.
    """

    def __init__(self, root: str | os.PathLike, mode: Literal["train", "test"] = "train") -> None:
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        self.root = Path(root)
        self.mode = mode
        if not self.root.exists():
            raise DataError(f"{self.root}: no such folder")
        if not self.root.is_dir():
            raise DataError(f"{self.root}: not a folder")
        self._annotations, self._ann_prefix = self._load_annotations()
        candidates = []
        for path in find_images(self.root):
            parts = path.relative_to(self.root).parts
            if parts[0] == MASKS_DIR and len(parts) > 1:
                continue
            candidates.append((path, parts, *_label_of(parts)))
        if not candidates:
            raise DataError(f"{self.root}: no images found (extensions {', '.join(IMAGE_EXTENSIONS)})")
        labelled = [c for c in candidates if c[2] is not None]
        if mode == "train":
            normals = [c for c in labelled if c[2] == 0]
            chosen = normals if normals else [c for c in candidates if c[2] is None]
            if not chosen:
                raise DataError(f"{self.root}: no images found to learn normal from (only faulty/ images)")
        else:
            chosen = labelled if labelled else candidates
        self.records = [self._record(path, parts, label, idx) for path, parts, label, idx in chosen]

    # -- construction helpers

    def _load_annotations(self) -> tuple[dict[str, list], str]:
        """``annotations.json`` at the root, or at the parent when the root is one asset's folder."""
        for file, prefix in (
            (self.root / ANNOTATIONS_FILE, ""),
            (self.root.parent / ANNOTATIONS_FILE, self.root.name + "/"),
        ):
            if file.is_file():
                try:
                    data = json.loads(file.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise DataError(
                        f"{file}: cannot read annotations ({' '.join(str(exc).split())})"
                    ) from None
                if not isinstance(data, dict):
                    raise DataError(f"{file}: annotations must be an object mapping image paths to lists")
                return data, prefix
        return {}, ""

    def _mask_dirs(self, rel_dir: Sequence[str], group: str | None) -> list[Path]:
        dirs = [self.root / MASKS_DIR / Path(*rel_dir)] if rel_dir else [self.root / MASKS_DIR]
        if group is not None:
            dirs.append(self.root / MASKS_DIR / group / FAULTY_DIR)
        # root is one asset's folder (e.g. T1/): its masks live beside it in ../masks/T1/...
        if not (self.root / MASKS_DIR).is_dir():
            dirs.append(self.root.parent / MASKS_DIR / self.root.name / Path(*rel_dir))
        return dirs

    def _find_mask(self, filename: str, rel_dir: Sequence[str], group: str | None) -> Path | None:
        stems = [mask_stem(filename)]
        full_stem = Path(filename).stem
        if full_stem not in stems:
            stems.append(full_stem)
        for folder in self._mask_dirs(rel_dir, group):
            if not folder.is_dir():
                continue
            for stem in stems:
                for suffix in ("", "_mask"):
                    for ext in (".png", ".PNG", ".bmp", ".tif", ".tiff"):
                        cand = folder / f"{stem}{suffix}{ext}"
                        if cand.is_file():
                            return cand
        return None

    def _record(self, path: Path, parts: tuple[str, ...], label: int | None, idx: int | None) -> ImageRecord:
        name = "/".join(parts)
        group = parts[0] if idx is not None and idx >= 1 else None
        polygons = self._annotations.get(self._ann_prefix + name, [])
        if not isinstance(polygons, list):
            raise DataError(f"{self.root / ANNOTATIONS_FILE}: entry {name!r} is not a list")
        mask_path = self._find_mask(parts[-1], parts[:-1], group)
        return ImageRecord(
            path=path, name=name, label=label, group=group, mask_path=mask_path, polygons=polygons
        )

    # -- sequence protocol

    def __len__(self) -> int:
        return len(self.records)

    @overload
    def __getitem__(self, index: int) -> ImageRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[ImageRecord]: ...
    def __getitem__(self, index: int | slice) -> ImageRecord | list[ImageRecord]:
        return self.records[index]

    def __repr__(self) -> str:
        return f"ThermalDataset({str(self.root)!r}, mode={self.mode!r}, n={len(self)})"

    # -- loading

    def load_image(self, i: int) -> np.ndarray:
        return self.records[i].load_image()

    def load_mask(self, i: int) -> np.ndarray | None:
        """bool H×W ground truth; None for a faulty/unknown image without one; all False for a normal one."""
        return self.records[i].load_mask()

    def images(self) -> LazyImages:
        """All images as a lazy sequence (read when indexed)."""
        return LazyImages(self.records)

    @property
    def labels(self) -> list[int | None]:
        return [r.label for r in self.records]

    def subset(self, records: Sequence[ImageRecord]) -> ThermalDataset:
        """The same data set restricted to ``records`` (e.g. a train/held-out split)."""
        import copy

        if not records:
            raise DataError(f"{self.root}: empty selection of images")
        out = copy.copy(self)
        out.records = list(records)
        return out

    def image_groups(self) -> list[str | None]:
        """The asset of each image, in order (None where the layout does not say)."""
        return [r.group for r in self.records]

    def groups(self) -> list[str]:
        """The assets present, sorted (records without a group are not listed)."""
        return sorted({r.group for r in self.records if r.group is not None})


def readable_records(
    records: Sequence[ImageRecord], progress: bool = False
) -> tuple[list[ImageRecord], list[tuple[str, str]]]:
    """(the records whose image can be read, (path, reason) of each that cannot), in order: a folder of
    2,000 normals with one corrupt file is still learned from, and the file is named. Each file is checked
    as ``read_image`` reads it (:func:`~thermal_anomaly.io.check_image`: a JPEG decoded at 1/8 scale, since a
    truncated one shows only when its whole stream is read)."""
    from tqdm.auto import tqdm

    ok, bad = [], []
    for r in tqdm(records, desc="checking", unit="image", disable=not progress):
        try:
            check_image(r.path)
        except DataError as exc:
            bad.append((str(r.path), str(exc)))
        else:
            ok.append(r)
    return ok, bad


# ------------------------------------------------------------------------------------------ splits


def split_normals(
    records: Sequence[ImageRecord], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[ImageRecord], list[ImageRecord]]:
    """Seeded train/validation split, stratified by group, original order kept within each part.

    At least one validation image when there are two or more, never all of them; each group keeps a
    training image while the target allows it, so every asset is still learned.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n = len(records)
    if n < 2:
        return list(records), []
    target = min(n - 1, max(1, round(n * val_fraction)))
    rng = np.random.default_rng(seed)
    by_group: dict[str | None, list[int]] = {}
    for i, r in enumerate(records):
        by_group.setdefault(r.group, []).append(i)
    keys = sorted(by_group, key=lambda g: (g is None, str(g)))
    shuffled = {g: list(rng.permutation(by_group[g])) for g in keys}
    # Largest-remainder allocation of the target over groups, capped to leave one training image each.
    quota = {g: len(by_group[g]) * target / n for g in keys}
    take = {g: min(int(quota[g]), len(by_group[g]) - 1) for g in keys}
    order = sorted(keys, key=lambda g: (-(quota[g] - int(quota[g])), -len(by_group[g]), str(g)))
    for relax in (1, 0):  # first keep one training image per group, then allow emptying groups
        for g in order * n:
            if sum(take.values()) >= target:
                break
            if take[g] < len(by_group[g]) - relax:
                take[g] += 1
    val_idx = {int(i) for g in keys for i in shuffled[g][: take[g]]}
    train = [r for i, r in enumerate(records) if i not in val_idx]
    val = [r for i, r in enumerate(records) if i in val_idx]
    return train, val
