#!/usr/bin/env bash
# The device checks for a session that has a GPU (issue: fast training), as one prepared run:
#   1. benchmarks/train_throughput.py: authors'-style pipeline vs ours, batch 64, one model;
#   2. the `paper` profile (five models x 120 epochs, AG-HBN 100 + 20) trained concurrently on
#      one GPU with exit records, on Fashion-MNIST (CIFAR-100 cannot be fetched there either).
# Results land in $OUT (device tool) or ./gpu-results. Needs a venv with `pip install -e .`.
set -euo pipefail
out=${OUT:-gpu-results}
mkdir -p "$out"
py=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
PYTHONUNBUFFERED=1 $py benchmarks/train_throughput.py --steps 300 --warmup 30 2>&1 | tee "$out/throughput.log"
cp benchmarks/results/train_throughput-gpu-*.json "$out/" || true
start=$(date +%s)
# The five models at once on the one GPU (the device machine has no submitit: plain processes).
for m in alexnet b-alexnet sem-alexnet gran-hbn ag-hbn; do
  PYTHONUNBUFFERED=1 $py -m hbn train --model $m --profile paper --dataset fashion-mnist \
    --out-dir gpu-runs --no-progress --resume > "$out/paper-$m.log" 2>&1 &
done
wait
cat "$out"/paper-*.log > "$out/paper.log"
echo "paper profile wall: $(( $(date +%s) - start )) s" | tee -a "$out/paper.log"
tar czf "$out/paper-runs.tgz" --exclude='*.pt' gpu-runs
