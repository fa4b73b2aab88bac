#!/usr/bin/env bash
# A rendered book page as a PNG, as a reader sees it: headless Chromium (Debian's `chromium`).
#   scripts/screenshot.sh PAGE.html OUT.png [WIDTH [HEIGHT]]
set -euo pipefail
page=${1:?usage: scripts/screenshot.sh PAGE.html OUT.png [WIDTH [HEIGHT]]}; out=${2:?missing OUT.png}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$profile" --window-size="${3:-1400},${4:-3000}" \
  --screenshot="$(realpath -m "$out")" "file://$(realpath "$page")" 2>/dev/null
echo "$out"
