"""Everything the tool reads off one image's pixels, computed once and shared by the detector and the report.

The learned detector needs the camera overlays (to leave them out) and each pixel's place on the colour
scale (its heat evidence); the report needs the temperature map in °C. Both come from the same colour-bar
search, the same scale reading and the same colour decoding, so they are one value: a
:class:`ThermalAnalysis`, whose parts are computed on first use and kept. The detector and the report can
then never disagree on which end of the bar is hot, and nothing is decoded twice.

A radiometric file (FLIR JPEG with raw data, 16-bit/float TIFF) is analysed from its temperature field: the
detector sees that field rendered through the iron palette over the scene's own range (what a camera's
auto-range shows), the report reads the °C directly, and there are no camera overlays.
"""

from __future__ import annotations

import contextlib
import os
from functools import cached_property

import cv2
import numpy as np

from ..errors import DataError
from . import readouts
from .colorbar import ColorBar, find_colorbar
from .hot_cores import hot_cores
from .inset import inset_note, photo_around, thermal_inset
from .ocr import label_window
from .overlays import BORDER_SHARE, overlay_mask, ui_fills
from .palette import (
    ImageColours,
    as_rgb_float,
    channel_range,
    image_scope,
    sampled_copy,
    upsize_mask,
)
from .radiometric import Radiometric, RadiometricParams, read, render_positions, scene_positions
from .temperature import PictureScale, TemperatureMap, decode_colours, picture_scale, scale_positions

#: long side of the copy the learned detector's heat evidence is taken from (nearest-neighbour, so it is
#: the full-size decoding sampled, not a blend of scale positions)
DECODE_SIDE = 320


class ThermalAnalysis:
    """One image and what is read off it: ``rgb``, ``overlay``, ``bar``, ``temperature``, scale positions.

    Build it from pixels (``ThermalAnalysis(image)``) or from a file (:meth:`from_file`, which reads a
    radiometric file's raw data when it has them). Parts are computed lazily and cached on the object, so a
    detector that needs only the overlays does not pay for reading the scale's numbers.
    """

    def __init__(
        self,
        image: np.ndarray,
        *,
        path: str | os.PathLike | None = None,
        temperature: TemperatureMap | None = None,
        note: str = "",
    ) -> None:
        try:
            self.rgb = as_rgb_float(image)
        except ValueError as exc:
            raise DataError(f"{path or 'image'}: {exc}") from None
        # an 8-bit picture's bytes: its colours are found from them, exactly (``rgb`` is bytes / 255)
        rgb8 = np.asarray(image)
        self._bytes = rgb8 if rgb8.dtype == np.uint8 and rgb8.shape == self.rgb.shape else None
        self.path = None if path is None else str(path)
        #: why a radiometric file's raw data were not used (the picture was decoded instead)
        self.note = note
        self._given = temperature
        #: work shared by the parts computed within ``_scope`` (work copies, channel ranges): kept from the
        #: overlay search to the UI-fill test, the last part that uses it, which drops it
        self._shared: dict = {}

    def _scope(self) -> contextlib.AbstractContextManager[None]:
        """The picture's :func:`~.palette.image_scope`, its results kept in ``_shared`` across parts."""
        return image_scope(self.rgb, self._shared)

    @classmethod
    def from_radiometric(cls, raw: Radiometric, *, path: str | os.PathLike | None = None) -> ThermalAnalysis:
        """A temperature field: °C as read, the picture the detector sees rendered from it, no overlays."""
        celsius = np.asarray(raw.celsius, np.float32)
        valid = np.isfinite(celsius)
        rng = (float(celsius[valid].min()), float(celsius[valid].max())) if valid.any() else None
        pos = scene_positions(celsius)
        temp = TemperatureMap(
            celsius,
            "C",
            valid,
            "radiometric",
            "",
            rng,
            params=raw.params or None,
            camera=raw.camera,
            position=pos,
            decodable=valid,
        )
        return cls(render_positions(pos), path=path, temperature=temp)

    @classmethod
    def from_file(cls, path: str | os.PathLike, params: RadiometricParams | None = None) -> ThermalAnalysis:
        """Read ``path``: its raw temperatures when it is radiometric, else its picture (with the reason in
        ``note`` when raw data were there but could not be used)."""
        from ..io import read_image

        raw, note = read(path, params)
        if raw is not None:
            return cls.from_radiometric(raw, path=path)
        return cls(read_image(path, keep_bytes=True), path=path, note=note)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rgb.shape[:2]

    @property
    def radiometric(self) -> bool:
        return self._given is not None and self._given.source == "radiometric"

    @cached_property
    def _ui(self) -> tuple[np.ndarray, ColorBar | None]:
        # overlay masking and the bar search share work copies and one strip search within the scope
        if self.radiometric:
            return np.zeros(self.shape, bool), None
        with self._scope():
            return overlay_mask(self.rgb), find_colorbar(self.rgb)

    @cached_property
    def inset(self) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) of the thermal inset of a picture-in-picture, or None (:mod:`.inset`)."""
        if self.radiometric:
            return None
        return thermal_inset(self.rgb, self._ui[0])

    @cached_property
    def overlay(self) -> np.ndarray:
        """Burned-in camera UI (logo, text, colour bar with its legend, boxes, and the photo around a
        picture-in-picture's thermal inset), H×W bool.

        The overlay search knows no palette; what it took for text but the palette reads as a saturated hot
        spot (:func:`~.hot_cores.hot_cores`) is scene."""
        ui = self._ui_overlay()
        return ui if self.inset is None else ui | photo_around(self.inset, self.shape)

    def _ui_overlay(self) -> np.ndarray:
        """The camera's UI as the overlay search found it, less what the palette reads as saturated heat."""
        raw, bar = self._ui
        if not raw.any():
            return raw
        keep = None
        if bar is not None:
            wx0, wy0, wx1, wy1 = label_window(bar, self.shape)
            bx0, by0, bx1, by1 = bar.box
            keep = (min(wx0, bx0), min(wy0, by0), max(wx1, bx1), max(wy1, by1))
        border = int(np.ceil(BORDER_SHARE * max(self.shape))) + 1
        try:
            lut = self.scale.lut
        except Exception:  # noqa: BLE001 - a scale that cannot be read fails where temperatures are used
            return raw
        with self._scope():
            heat = hot_cores(self.rgb, raw, lut, keep, border)
        return raw & ~heat if heat.any() else raw

    @property
    def bar(self) -> ColorBar | None:
        """The picture's colour bar, or None."""
        return self._ui[1]

    @cached_property
    def scale(self) -> PictureScale:
        """How the picture's colours map to temperature (its bar, turned the way its numbers say, or a
        named palette). Not for a radiometric file."""
        return picture_scale(self.rgb, self._ui[0], self.bar)  # the overlay as found: see ``overlay``

    @cached_property
    def ui_fills(self) -> np.ndarray:
        """Small white or grey fills against the camera's UI (a logo's body; :func:`~.overlays.ui_fills`),
        H×W bool: no temperature, though outside the overlay mask the learned model sees."""
        if self.radiometric:
            return np.zeros(self.shape, bool)
        overlay = self.overlay
        with self._scope():
            small, scale = sampled_copy(self.rgb)
            lo, hi = channel_range(small)
        self._shared.clear()  # nothing computed after this part uses them
        if scale == 1.0:
            return ui_fills(overlay, lo, hi)
        # a large photo: on a sampled copy the overlay's size (it is found at that size too)
        ov = upsize_mask(overlay, small.shape[:2])
        return upsize_mask(ui_fills(ov, lo, hi), self.shape)

    @cached_property
    def temperature(self) -> TemperatureMap:
        """°C (radiometric, or a colour bar whose numbers are read) or relative temperature, H×W."""
        if self._given is not None:
            return self._given
        colours = None if self._bytes is None else ImageColours(self._bytes)
        temp = decode_colours(self.rgb, self.overlay, self.bar, self.scale, colours)
        if self.ui_fills.any():
            temp.valid = temp.valid & ~self.ui_fills
            temp.decodable = temp.decodable & ~self.ui_fills
        # the camera's own spot read-out, where it prints one, must agree with the decoded °C
        temp = readouts.checked(self.rgb, self.bar, temp)
        temp.note = "; ".join(n for n in (self.note, inset_note(self.inset)) if n)
        return temp

    def prefetch(self) -> ThermalAnalysis:
        """Compute now what every report needs (overlays, bar, scale reading, temperature map), so the
        detector samples the report's decoding instead of reading its own copy. A decoding failure is not
        raised here: it is met again, and reported, where the temperature is used."""
        try:
            self.temperature  # noqa: B018 - computed for its cache
        except Exception:  # noqa: BLE001 - see above
            pass
        return self

    def relative(
        self, overlay: np.ndarray | None = None, side: int = DECODE_SIDE
    ) -> tuple[np.ndarray, np.ndarray]:
        """(position on the scale 0 cold .. 1 hot, valid) at most ``side`` px on the long side.

        Valid excludes colours that are no temperature and, when given, ``overlay`` (the detector passes
        the overlays it leaves out).
        """
        h, w = self.shape
        scale = min(1.0, side / max(h, w))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if "temperature" in self.__dict__ or self._given is not None:
            # decoded already (the report needs it): the evidence is that decoding, sampled
            temp = self.temperature
            pos, ok = temp.position, temp.decodable  # set by every map an analysis makes
            if scale < 1:
                pos = cv2.resize(pos, size, interpolation=cv2.INTER_NEAREST)
                ok = cv2.resize(ok.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        else:
            # only the detector asks (fitting): the same scale, read off a sampled copy, is enough
            small = cv2.resize(self.rgb, size, interpolation=cv2.INTER_NEAREST) if scale < 1 else self.rgb
            pos, bad = scale_positions(small, self.scale)
            ok = ~bad
            if self.ui_fills.any():
                ok &= ~upsize_mask(self.ui_fills, ok.shape)
        if overlay is not None and scale < 1:
            overlay = cv2.resize(overlay.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        valid = ok if overlay is None else ok & ~overlay
        return pos.astype(np.float32, copy=False), valid


def as_analysis(image: np.ndarray | ThermalAnalysis) -> ThermalAnalysis:
    """An analysis as given, or a new one of a picture's pixels."""
    return image if isinstance(image, ThermalAnalysis) else ThermalAnalysis(image)
