#!/usr/bin/env bash
# Installs the Debian packages the tool can use: tesseract for reading colour-bar numbers, and its library
# and headers so tesserocr can be built against the same tesseract (scripts/install-tesserocr.sh).
# Optional: without them the tool degrades to relative temperatures (or slower OCR). Never fails the set-up.
set -u
if command -v tesseract >/dev/null 2>&1 && pkg-config --exists tesseract lept 2>/dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: tesseract not installed (needs root and apt-get); colour-bar numbers will not be read" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
( apt-get update -qq && apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    libtesseract-dev libleptonica-dev pkg-config g++ ) >/tmp/thermal-anomaly-apt.log 2>&1 \
  || echo "note: could not install tesseract (see /tmp/thermal-anomaly-apt.log); continuing without OCR" >&2
exit 0
