"""Radiometric files: pixel values that *are* temperatures (or raw sensor counts), no palette in between.

- FLIR radiometric JPEG: the raw sensor counts and the camera's Planck and atmosphere constants, read with
  ``flyr``; °C from the file's own emissivity, reflected apparent temperature, distance, humidity and air
  temperature, each of which a caller may override (``RadiometricParams``), since a thermographer often
  corrects emissivity after the shot.
- DJI R-JPEG: recognised, but its raw data need DJI's Thermal SDK (not included): the picture is decoded.
- float TIFF (32/64-bit): taken as °C directly.
- 16-bit TIFF/PNG: taken as centi-Kelvin (value / 100 - 273.15), the convention of FLIR/Teledyne radiometric
  TIFF exports and many drone cameras; anything outside -60..2000 °C under that reading is rejected.

A radiometric file that cannot be read is never an error here: ``read`` says why, and the caller decodes the
picture instead.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from .planck import ZERO_C, signal_position

_TIFF = {".tif", ".tiff"}
_JPEG = {".jpg", ".jpeg"}
#: °C outside which a raw reading is taken as a misread layout, not a scene
_PLAUSIBLE_C = (-100.0, 3000.0)


@dataclass(frozen=True)
class RadiometricParams:
    """Overrides of the object parameters stored in a FLIR file; None keeps the file's value.

    Units as a thermographer enters them: emissivity 0..1, temperatures °C, distance m, relative humidity as a
    fraction 0..1 (50 % = 0.5).
    """

    emissivity: float | None = None
    reflected_temp: float | None = None
    distance: float | None = None
    humidity: float | None = None
    atmospheric_temp: float | None = None

    def __post_init__(self) -> None:
        e, d, h = self.emissivity, self.distance, self.humidity
        if e is not None and not 0.0 < e <= 1.0:
            raise ValueError(f"emissivity must be in (0, 1], got {e}")
        if d is not None and not d >= 0.0:
            raise ValueError(f"distance must be >= 0 m, got {d}")
        if h is not None and not 0.0 <= h <= 1.0:
            raise ValueError(f"humidity is a fraction 0..1 (50 % = 0.5), got {h}")
        for name in ("reflected_temp", "atmospheric_temp"):
            t = getattr(self, name)
            if t is not None and not t > -ZERO_C:
                raise ValueError(f"{name} must be above absolute zero (-273.15 °C), got {t}")

    def flyr_adjustments(self) -> dict[str, float]:
        """The overrides under flyr's metadata names and units (Kelvin, humidity 0..1)."""
        out: dict[str, float] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None:
                key = _FLYR_KEYS[f.name]
                out[key] = float(v) + ZERO_C if f.name.endswith("_temp") else float(v)
        return out


_FLYR_KEYS = {
    "emissivity": "emissivity",
    "reflected_temp": "reflected_apparent_temperature",
    "distance": "object_distance",
    "humidity": "relative_humidity",
    "atmospheric_temp": "atmospheric_temperature",
}
#: what a read reports it used: the overridable parameters and the camera's IR window
_USED_KEYS = {
    **_FLYR_KEYS,
    "ir_window_temp": "ir_window_temperature",
    "ir_window_transmission": "ir_window_transmission",
}


@dataclass
class Radiometric:
    """Temperatures read from a file's raw data.

    ``celsius`` is H×W float32 at the raw data's own size (a FLIR JPEG's sensor, not its picture), NaN where
    the physics has no answer (radiance below the reflected/atmospheric share under an override). ``params``
    are the object parameters used (°C, m, humidity 0..1); empty for a temperature TIFF, which has none.
    """

    celsius: np.ndarray
    params: dict[str, float] = field(default_factory=dict)
    camera: str | None = None
    format: str = "tiff"  # "flir-jpeg" | "tiff"


# --------------------------------------------------------------------------------------------- public


def read(path: str | os.PathLike, params: RadiometricParams | None = None) -> tuple[Radiometric | None, str]:
    """(temperatures, "") for a readable radiometric file; (None, "") for an ordinary picture; (None, reason)
    for a radiometric file whose raw data cannot be used, so the caller decodes the picture and says why.

    Only a missing or unopenable TIFF/PNG raises ``DataError`` (as the picture decoder would).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in _TIFF | {".png"}:
        celsius = read_radiometric(p)
        return (None, "") if celsius is None else (Radiometric(celsius), "")
    if suffix not in _JPEG:
        return None, ""
    try:
        data = p.read_bytes()
    except OSError:
        return None, ""  # the picture reader reports the file itself
    segments = _app_segments(data)
    if any(m == 0xE1 and s.startswith(b"FLIR\x00") for m, s in segments):
        try:
            return _read_flir(data, params or RadiometricParams()), ""
        except Exception as exc:  # flyr raises anything from KeyError to struct.error on odd files
            text = " ".join(str(exc).split()) or type(exc).__name__
            if isinstance(exc, KeyError):  # flyr's lookup of a FLIR APP1 chunk the file does not hold
                text = f"part {text} of the FLIR data missing, file truncated?"
            return None, f"FLIR radiometric data unreadable ({text}): decoded from the picture"
    if _is_dji_rjpeg(segments):
        return None, (
            "DJI R-JPEG: its raw temperatures need DJI's Thermal SDK, which this tool does not include: "
            "decoded from the picture"
        )
    return None, ""


def scene_positions(celsius: np.ndarray) -> np.ndarray:
    """Each pixel's place (0 .. 1) on the scale a camera's auto-range would print for this field: its own
    min..max, spread evenly in signal as a camera spreads its colours (:mod:`.planck`); NaN -> 0."""
    t = np.asarray(celsius, dtype=np.float32)
    finite = np.isfinite(t)
    pos = np.zeros(t.shape, np.float32)
    if finite.any():
        lo, hi = float(t[finite].min()), float(t[finite].max())
        if hi > lo:
            pos[finite] = signal_position(t[finite], lo, hi)
    return pos


def render_positions(pos: np.ndarray) -> np.ndarray:
    """H×W×3 float32 RGB in [0, 1]: scale positions through the iron palette."""
    from .palette import palette_lut

    lut = palette_lut("iron")
    idx = np.clip(np.rint(pos * (len(lut) - 1)), 0, len(lut) - 1).astype(np.intp)
    return np.ascontiguousarray(lut[idx], dtype=np.float32)


def render_celsius(celsius: np.ndarray) -> np.ndarray:
    """``celsius`` as a camera's auto-ranged iron picture of it (:func:`scene_positions`), so a detector
    trained on palette pictures sees a radiometric file like a picture of the same scene. NaN: cold end."""
    return render_positions(scene_positions(celsius))


def read_radiometric(path: str | os.PathLike) -> np.ndarray | None:
    """H×W float32 °C when a TIFF/PNG holds one temperature per pixel, else None (a pseudo-colour picture)."""
    p = Path(path)
    if p.suffix.lower() not in _TIFF | {".png"}:
        return None
    try:
        with Image.open(p) as im:
            if im.mode not in ("F", "I;16", "I;16B", "I;16L", "I"):
                return None
            arr = np.asarray(im)
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: cannot read image ({exc})") from None
    if arr.ndim != 2:
        return None
    if np.issubdtype(arr.dtype, np.floating):
        if p.suffix.lower() not in _TIFF:
            return None
        return arr.astype(np.float32)
    celsius = arr.astype(np.float32) / 100.0 - ZERO_C
    finite = celsius[np.isfinite(celsius)]
    if finite.size == 0 or finite.min() < -60 or finite.max() > 2000:
        return None  # not centi-Kelvin: an ordinary 16-bit grey picture
    return celsius


# --------------------------------------------------------------------------------------------- FLIR


def _read_flir(data: bytes, params: RadiometricParams) -> Radiometric:
    """flyr parses the FFF records and the camera constants and owns the Planck/atmosphere formula; the raw
    counts are decoded here (vectorised, and in the byte order the record says), then checked for sense."""
    from flyr.records import RecordIndex, extract_flir_app1, parse_flir_records
    from flyr.thermal import parse_camera_info
    from flyr.thermogram import FlyrThermogram

    fff = extract_flir_app1(io.BytesIO(data))
    records = parse_flir_records(fff)
    for need in (RecordIndex.RAW_DATA, RecordIndex.CAMERA_INFO):
        if need.value not in records:
            raise ValueError(f"no {need.name.lower().replace('_', ' ')} record")
    raw = _raw_counts(fff.getvalue(), records[RecordIndex.RAW_DATA.value])
    info = parse_camera_info(fff, records[RecordIndex.CAMERA_INFO.value])
    thermo = FlyrThermogram(raw, info)
    adjust = params.flyr_adjustments()
    if adjust:
        thermo.adjust_metadata(in_place=True, **adjust)
    with np.errstate(invalid="ignore", divide="ignore"):
        celsius = (thermo.kelvin - ZERO_C).astype(np.float32)
    celsius[~np.isfinite(celsius)] = np.nan
    finite = np.isfinite(celsius)
    if finite.mean() < (0.01 if adjust else 0.5):
        raise ValueError(f"only {finite.mean():.0%} of the pixels convert to a temperature")
    med = float(np.median(celsius[finite]))
    if not _PLAUSIBLE_C[0] <= med <= _PLAUSIBLE_C[1]:
        raise ValueError(f"implausible median temperature {med:.0f} °C")
    md = thermo.metadata
    used = {}
    for ours, theirs in _USED_KEYS.items():  # in our names and units: °C to 4 decimals, the rest to 6
        v = float(md[theirs])
        used[ours] = round(v - ZERO_C, 4) if ours.endswith("_temp") else round(v, 6)
    return Radiometric(celsius, used, _camera(data), "flir-jpeg")


def _raw_counts(fff: bytes, record: tuple[int, int, int, int]) -> np.ndarray:
    """The raw-data record: a 32-byte header (width, height) then PNG or plain 16-bit counts.

    The record entry's subtype says the byte order (1 = big-endian, 2 = little-endian, 3 = PNG, whose
    samples FLIR stores byte-swapped); flyr reads little-endian always and one sample at a time.
    """
    entry, _, offset, length = record
    subtype = int.from_bytes(fff[entry + 2 : entry + 4], "big")
    if offset + 32 > len(fff):
        raise ValueError("raw data record truncated")
    big = subtype == 1
    order = "big" if big else "little"
    width = int.from_bytes(fff[offset + 2 : offset + 4], order)
    height = int.from_bytes(fff[offset + 4 : offset + 6], order)
    if not (0 < width <= 8192 and 0 < height <= 8192):
        raise ValueError(f"raw data size {width}x{height} not understood")
    body = fff[offset + 32 : offset + 32 + length]
    if body[:4] == b"\x89PNG":
        with Image.open(io.BytesIO(body)) as im:
            im.load()
            counts = np.asarray(im).astype(np.uint16).byteswap()
    else:
        n = width * height * 2
        if len(body) < n:
            raise ValueError(f"raw data record truncated ({len(body)} of {n} bytes)")
        counts = np.frombuffer(body[:n], dtype=">u2" if big else "<u2").reshape(height, width)
    if counts.shape != (height, width):
        raise ValueError(f"raw data {counts.shape[1]}x{counts.shape[0]}, header says {width}x{height}")
    return counts.astype(np.float64)


def _camera(data: bytes) -> str | None:
    """'Make Model' from EXIF, when the camera wrote a real model name."""
    try:
        with warnings.catch_warnings(), Image.open(io.BytesIO(data)) as im:
            warnings.simplefilter("ignore")  # a damaged EXIF block only costs the name
            exif = im.getexif()
    except Exception:
        return None
    make, model = (str(exif.get(t) or "").strip(" \x00") for t in (271, 272))
    if model in ("", "*"):
        return None
    return model if make.split(" ")[0].lower() in model.lower() else f"{make} {model}".strip()


# --------------------------------------------------------------------------------------------- JPEG


def _app_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every APPn/COM segment before the image data; stops quietly at damage."""
    out: list[tuple[int, bytes]] = []
    if data[:2] != b"\xff\xd8":
        return out
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no more metadata
            break
        size = int.from_bytes(data[i + 2 : i + 4], "big")
        if size < 2:
            break
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            out.append((marker, data[i + 4 : i + 2 + size]))
        i += 2 + size
    return out


def _is_dji_rjpeg(segments: list[tuple[int, bytes]]) -> bool:
    """A DJI maker (EXIF Make or DJI's XMP namespace) and APP3 segments, where R-JPEGs keep the raw counts;
    an ordinary DJI photo has no APP3."""
    if not any(m == 0xE3 and s for m, s in segments):
        return False
    for m, s in segments:
        if m != 0xE1:
            continue
        if s.startswith(b"Exif\x00\x00"):
            try:
                exif = Image.Exif()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exif.load(s)
                if str(exif.get(271) or "").strip(" \x00").upper().startswith("DJI"):
                    return True
            except Exception:
                pass
        elif b"drone-dji" in s:
            return True
    return False
