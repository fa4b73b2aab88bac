#!/usr/bin/env bash
# Obtain Tiny ImageNet 100/20's images (DESIGN.md §1) in ${HBN_DATA:-data}/: a copy already there
# (the official tiny-imagenet-200.zip, its extracted folder, or the 100-class subset zip); else
# the subset these machines hold in shared/data/ (linked, after its sha256 is checked); else the
# official archive downloaded by the loader; else say exactly what to do.
set -u
dest=${HBN_DATA:-data}
subset=tiny-imagenet-200-h100.zip
sha=608360c9fa39f9fed4984109bb30a57bc07aa1fc54e6c411507a0b52a5049a5c
mkdir -p "$dest"
for f in "$dest/tiny-imagenet-200/wnids.txt" "$dest/tiny-imagenet-200.zip" "$dest/$subset"; do
  [ -e "$f" ] && { echo "Tiny ImageNet: found $f"; exit 0; }
done
here=$(cd "$(dirname "$0")/.." && pwd)
for shared in "$here/../shared/data/$subset" "${HBN_SHARED:-/nonexistent}/data/$subset"; do
  [ -f "$shared" ] || continue
  if [ "$(sha256sum "$shared" | cut -d' ' -f1)" != "$sha" ]; then
    echo "Tiny ImageNet: $shared fails its sha256 (expected $sha); not used" >&2; continue
  fi
  ln -sf "$(cd "$(dirname "$shared")" && pwd)/$subset" "$dest/$subset"
  echo "Tiny ImageNet: linked $dest/$subset -> $shared (sha256 checked)"; exit 0
done
py=${PYTHON:-.venv/bin/python}
if "$py" -c "from pathlib import Path; from hbn.tinyimagenet import find_source; find_source(Path('$dest'))" 2>/tmp/tin-get.err; then
  echo "Tiny ImageNet: downloaded the official archive into $dest"; exit 0
fi
cat >&2 <<MSG
Tiny ImageNet could not be obtained ($(tail -n 1 /tmp/tin-get.err)).
Put the official tiny-imagenet-200.zip (http://cs231n.stanford.edu/tiny-imagenet-200.zip), its
extracted tiny-imagenet-200/ folder, or $subset into $dest/ (or set HBN_DATA).
MSG
exit 1
