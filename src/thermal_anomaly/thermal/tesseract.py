"""Tesseract, loaded once per process: the digits of a colour bar's labels in ~20-30 ms, not ~200 ms.

Starting the ``tesseract`` program loads its LSTM model every time, which is most of the cost of reading a
few labels. Through ``tesserocr`` one engine stays loaded for the life of the process (a batch pays the
loading once); the command-line program through ``pytesseract`` is the fallback where ``tesserocr`` is not
installed. ``tesserocr`` is built against Debian's libtesseract (``make install``), so both engines are the
same tesseract and read the same. Both use the language data of Debian's ``tesseract-ocr`` package (or ``TESSDATA_PREFIX``).
Set ``THERMAL_ANOMALY_OCR_ENGINE=cli`` to force the command-line program (for comparison).
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import struct
import subprocess
import sys
import threading
from functools import lru_cache

import numpy as np

#: only what scale labels are made of: tesseract cannot turn an icon, "°C" or a logo into letters
WHITELIST = "0123456789.-"
#: the tiles are normalised to dark text on white: tesseract must not try the inverted image too
_VARIABLES = {"tessedit_char_whitelist": WHITELIST, "tessedit_do_invert": "0"}
_CLI_CONFIG = "--psm 6 " + " ".join(f"-c {k}={v}" for k, v in _VARIABLES.items())
ENGINE_ENV = "THERMAL_ANOMALY_OCR_ENGINE"

#: one word read: (text, confidence 0-100, top row, height) in the image's pixels
Word = tuple[str, float, int, int]


@lru_cache(maxsize=1)
def tessdata_dir() -> str | None:
    """The folder holding ``eng.traineddata``: ``TESSDATA_PREFIX``, else Debian's."""
    candidates = [os.environ.get("TESSDATA_PREFIX", "")]
    candidates += sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"), reverse=True)
    candidates += ["/usr/share/tessdata", "/usr/local/share/tessdata"]
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "eng.traineddata")):
            return c
    return None


@lru_cache(maxsize=1)
def _in_process() -> bool:
    if os.environ.get(ENGINE_ENV, "").lower() == "cli" or tessdata_dir() is None:
        return False
    try:
        import tesserocr
    except ImportError:
        return False
    # the same tesseract as the program's (a wheel that bundles another version reads digits differently)
    program = _program_version()
    return program is None or tesserocr.tesseract_version().split()[1] == program


def _program_version() -> str | None:
    """Version of the ``tesseract`` program on PATH (e.g. "5.3.0"), or None."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    try:
        got = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    words = (got.stdout or got.stderr).split()
    return words[1] if len(words) > 1 else None


@lru_cache(maxsize=1)
def _cli() -> bool:
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


def available() -> bool:
    """True when labels can be read (the in-process engine or the command-line program)."""
    return _in_process() or _cli()


def engine() -> str:
    """Which engine reads labels: ``"tesserocr"``, ``"cli"`` or ``"none"``."""
    return "tesserocr" if _in_process() else "cli" if _cli() else "none"


#: the engine's own process: loads the model once, reads one mosaic per request (size header, raw pixels;
#: answer: one "text\tconfidence\ttop\theight" line per word)
_SERVER = r"""
import struct, sys
import tesserocr
from PIL import Image
api = tesserocr.PyTessBaseAPI(path=sys.argv[1], lang="eng", psm=tesserocr.PSM.SINGLE_BLOCK)
for kv in sys.argv[2:]:
    api.SetVariable(*kv.split("=", 1))
inp, out, level = sys.stdin.buffer, sys.stdout.buffer, tesserocr.RIL.WORD
while len(head := inp.read(8)) == 8:
    h, w = struct.unpack("<II", head)
    api.SetImage(Image.frombytes("L", (w, h), inp.read(h * w)))
    api.Recognize()
    words = []
    for r in tesserocr.iterate_level(api.GetIterator(), level):
        try:
            text = (r.GetUTF8Text(level) or "").strip()
        except RuntimeError:
            continue
        box = r.BoundingBox(level)
        if text and box:
            words.append(f"{text}\t{r.Confidence(level):.4f}\t{box[1]}\t{box[3] - box[1]}")
    api.Clear()
    data = "\n".join(words).encode()
    out.write(struct.pack("<I", len(data)) + data)
    out.flush()
"""


class _Engine:
    """Tesseract loaded once, in a small process of its own.

    Its own process because Debian's libtesseract runs its LSTM on OpenMP teams of four threads, which on a
    two-core machine spin against each other (and against torch, which shares the OpenMP runtime in one
    process): capped at one thread (``OMP_THREAD_LIMIT``, which only takes effect at a process's start) a
    few lines of digits read ~4x faster, and torch keeps its threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._owner = os.getpid()  # a forked worker process starts an engine of its own

    def _start(self) -> subprocess.Popen:
        args = [f"{k}={v}" for k, v in _VARIABLES.items()]
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        return subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(tessdata_dir()), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    def read(self, image: np.ndarray) -> list[Word]:
        img = np.ascontiguousarray(image, np.uint8)
        with self._lock:
            for attempt in (0, 1):  # a engine that died is started once more
                if self._owner != os.getpid():  # forked: the parent's engine and pipes are not ours
                    self._proc, self._owner = None, os.getpid()
                if self._proc is None or self._proc.poll() is not None:
                    self._proc = self._start()
                try:
                    assert self._proc.stdin is not None and self._proc.stdout is not None
                    self._proc.stdin.write(struct.pack("<II", *img.shape) + img.tobytes())
                    self._proc.stdin.flush()
                    head = self._proc.stdout.read(4)
                    if len(head) != 4:
                        raise OSError("tesseract engine stopped")
                    (n,) = struct.unpack("<I", head)
                    body = self._proc.stdout.read(n).decode()
                    break
                except OSError:
                    self.close()
                    if attempt:
                        raise
        out: list[Word] = []
        for line in body.splitlines():
            text, conf, top, height = line.split("\t")
            out.append((text, float(conf), int(top), int(height)))
        return out

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


_ENGINE = _Engine()
atexit.register(_ENGINE.close)


def read_words(image: np.ndarray) -> list[Word]:
    """Every word tesseract reads in a grey uint8 ``image`` (one block of text lines)."""
    if _in_process():
        return _ENGINE.read(image)
    import pytesseract

    data = pytesseract.image_to_data(
        image, config=_CLI_CONFIG, output_type=pytesseract.Output.DICT, timeout=10
    )
    return [
        (text.strip(), float(conf), int(top), int(height))
        for text, conf, top, height in zip(
            data["text"], data["conf"], data["top"], data["height"], strict=False
        )
        if (text or "").strip()
    ]
