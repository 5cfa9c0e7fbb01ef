#!/usr/bin/env bash
# The GPU checks in one run (a CUDA machine with the package importable and nbdev on the PATH):
#   1. the `#| gpu` notebook cells (nbdev_test --flags gpu): training on CUDA, CPU-loadable
#      checkpoints, identical codes on CUDA and CPU;
#   2. benchmarks/speed.py on CUDA (training / inference frames/s, fp32 and bf16);
#   3. the default pipeline on the GPU: train.py configs/base/vqvae.yaml, then inference.py --mode all;
#   4. benchmarks/memory.py on CUDA (10k to 10M frames streamed from disk).
# Usage: bash benchmarks/gpu.sh [OUTDIR]     (default benchmarks/results/gpu; logs, json and summary.txt land there)
set -uo pipefail
OUT=${1:-benchmarks/results/gpu}; mkdir -p "$OUT"
PY=${PYTHON:-python3}; WORK=$(mktemp -d)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/summary.txt"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/summary.txt"

step() {  # step NAME CMD...: run, keep its log, append rc and seconds to summary.txt
  local name=$1; shift; local t0=$SECONDS
  echo "== $name: $*"; "$@" > "$OUT/$name.log" 2>&1; local rc=$?
  tail -n 25 "$OUT/$name.log"
  echo "$name: rc $rc, $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
}

step gpu_cells nbdev_test --flags gpu --path nbs/20_train.ipynb --do_print
step speed $PY benchmarks/speed.py --device cuda --out "$OUT/speed.json"
step train $PY train.py configs/base/vqvae.yaml "expdir=$WORK/demo" train.progress=false
cp "$WORK/demo/metrics.csv" "$OUT/train_metrics.csv" 2>/dev/null
step inference $PY inference.py "$WORK/demo/checkpoints/best.pt" --mode all --device cuda
find "$WORK/demo/inference" -maxdepth 1 -name '*.json' -exec cp {} "$OUT/" \; 2>/dev/null
step memory $PY benchmarks/memory.py --device cuda --sizes 10000 1000000 10000000 --tmp "$WORK" --out "$OUT/memory.json"
rm -rf "$WORK"
