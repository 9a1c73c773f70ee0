#!/usr/bin/env bash
# Render a saddle report in a real browser (headless Chromium from Debian's packages) and save
# a full-page screenshot, to check by eye that the page, its inline figures and its tables
# display as intended, with no network access.
#
#   scripts/check-report.sh [REPORT_DIR] [SCREENSHOT.png]
#
# REPORT_DIR defaults to saddle-report (run `saddle reproduce` first); the screenshot defaults
# to REPORT_DIR/screenshot.png. Installs chromium with apt-get when it is missing (needs root
# or sudo). Not part of CI.
set -euo pipefail

dir="${1:-saddle-report}"
shot="${2:-$dir/screenshot.png}"
page="$dir/index.html"
if [[ ! -f "$page" ]]; then
    echo "error: $page not found; run 'saddle reproduce --out $dir' first" >&2
    exit 2
fi

browser=""
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser="$b"; break; fi
done
if [[ -z "$browser" ]]; then
    echo "installing Debian's chromium ..." >&2
    sudo_cmd=""
    if [[ $(id -u) -ne 0 ]]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
    browser=chromium
fi

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
abs="$(cd "$(dirname "$page")" && pwd)/$(basename "$page")"
# A tall window captures the whole report; Chromium's --screenshot saves the viewport.
height="${CHECK_REPORT_HEIGHT:-16000}"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size=1400,"$height" \
    --screenshot="$(realpath -m "$shot")" "file://$abs" 2>/dev/null
if [[ ! -s "$shot" ]]; then
    echo "error: no screenshot written" >&2
    exit 1
fi
echo "screenshot: $shot"
