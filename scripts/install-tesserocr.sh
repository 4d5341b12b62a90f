#!/usr/bin/env bash
# Builds tesserocr (tesseract in process: colour-bar labels read in ~30 ms instead of ~200 ms) against
# Debian's libtesseract, so it is the same tesseract as the program. Optional: without it the tool calls the
# tesseract program. Never fails the set-up. Usage: install-tesserocr.sh PYTHON
set -u
py="${1:-python3}"
if ! pkg-config --exists tesseract lept 2>/dev/null; then
  echo "note: libtesseract-dev not installed; labels will be read by the tesseract program (slower)" >&2
  exit 0
fi
"$py" -m pip install -q --no-binary tesserocr tesserocr==2.13.0 >/tmp/thermal-anomaly-tesserocr.log 2>&1 \
  || echo "note: could not build tesserocr (see /tmp/thermal-anomaly-tesserocr.log); using the tesseract program" >&2
exit 0
