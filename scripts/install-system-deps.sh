#!/usr/bin/env bash
# Installs the Debian packages the tool can use: tesseract for reading colour-bar numbers, and its library
# and headers so tesserocr can be built against the same tesseract (scripts/install-tesserocr.sh); for the
# service (`thermal-anomaly serve`): chromium (PDF reports, browser tests and screenshots through Playwright,
# which never downloads a browser of its own) and postgresql (its tests start a throw-away server).
# Optional: without them the tool degrades to relative temperatures (or slower OCR), the service to HTML
# reports and SQLite, and their tests skip. Never fails the set-up.
set -u
packages=()
if ! { command -v tesseract >/dev/null 2>&1 && pkg-config --exists tesseract lept 2>/dev/null; }; then
  packages+=(tesseract-ocr tesseract-ocr-eng libtesseract-dev libleptonica-dev pkg-config g++)
fi
if ! command -v chromium >/dev/null 2>&1; then
  packages+=(chromium)
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  packages+=(postgresql)
fi
if [ "${#packages[@]}" = "0" ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: not installed (needs root and apt-get): ${packages[*]}; colour-bar numbers may not be read," \
    "the service's PDF reports and its browser/PostgreSQL tests are skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
( apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" ) \
    >/tmp/thermal-anomaly-apt.log 2>&1 \
  || echo "note: could not install ${packages[*]} (see /tmp/thermal-anomaly-apt.log); continuing without them" >&2
exit 0
