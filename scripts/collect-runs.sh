#!/usr/bin/env bash
# Copy finished runs trained outside the work tree (e.g. `--out-dir ~/hbn-runs`, so that a
# later session can resume them) into runs/, without weights, checkpoints or locks: config,
# meta, metrics, exit records (test + validation), records.json and the training figure. An
# unfinished run brings its log so far (its page says it is unfinished; resume it where it lives).
#   scripts/collect-runs.sh ~/hbn-runs [dataset/profile-folder | dataset/profile-folder/run ...]
set -euo pipefail
src=${1:?usage: scripts/collect-runs.sh RUNS_ROOT [DATASET/PROFILE ...]}; shift
cd "$(dirname "$0")/.."
folders=("$@")
[ ${#folders[@]} -gt 0 ] || folders=($(cd "$src" && ls -d */*/))
for f in "${folders[@]}"; do
  if [ -f "$src/$f/config.json" ]; then runs=("$src/$f/"); f=$(dirname "$f"); else runs=("$src/$f"/*/); fi
  for run in "${runs[@]}"; do
    dest="runs/$f/$(basename "$run")"
    mkdir -p "$dest"
    # (tar, not rsync: every machine has it) weights, checkpoints and locks stay behind
    tar -C "$run" --exclude='*.pt' --exclude='.lock' --exclude='.records.tmp' -cf - . | tar -C "$dest" -xf -
    [ -f "$run/records.csv.gz" ] && echo "collected $dest" || echo "collected $dest (unfinished: log only)"
  done
done
