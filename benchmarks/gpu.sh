#!/usr/bin/env bash
# The GPU checks in one run (a CUDA machine with the package importable and nbdev on the PATH; run from the
# repository root, with ../shared/data/subtle_mouse3d present for step 4):
#   1. the `#| gpu` notebook cells (nbdev_test --flags gpu, nbs/22_tasks.ipynb): training on CUDA, fp32
#      CPU-loadable checkpoints, the same codes on CUDA and CPU;
#   2. benchmarks/speed.py on CUDA (training / inference frames/s, fp32 and bf16 autocast);
#   3. the default pipeline on the GPU: train.py configs/base/vqvae.yaml (synthetic default, default step budget),
#      then inference.py --mode all;
#   4. the same on real data: train.py with dataset=configs/dataset/subtle_mouse.yaml, then inference.py --mode all;
#   5. benchmarks/memory.py on CUDA (10k to 10M frames streamed from disk through inference.py).
# Usage: bash benchmarks/gpu.sh [OUTDIR]     (default benchmarks/results/gpu; logs, json and summary.txt land there)
# Files: summary.txt (card, torch, rc and seconds of each step), <step>.log, speed.json, train_metrics.csv and
# metrics.json (synthetic default), subtle_train_metrics.csv and subtle_metrics.json, memory.json.
set -uo pipefail
OUT=${1:-benchmarks/results/gpu}; mkdir -p "$OUT"
PY=${PYTHON:-python3}; WORK=$(mktemp -d)
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/summary.txt"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/summary.txt"

step() {  # step NAME CMD...: run, keep its log, append rc and seconds to summary.txt
  local name=$1; shift; local t0=$SECONDS
  echo "== $name: $*"; "$@" > "$OUT/$name.log" 2>&1; local rc=$?
  tail -n 25 "$OUT/$name.log"
  echo "$name: rc $rc, $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
}

pipeline() {  # pipeline NAME PREFIX [train.py overrides...]: train on CUDA, analyse with --mode all, keep the metrics
  local name=$1 prefix=$2; shift 2
  step "train$name" $PY train.py configs/base/vqvae.yaml "expdir=$WORK/run$name" train.progress=false train.device=cuda "$@"
  cp "$WORK/run$name/metrics.csv" "$OUT/${prefix}train_metrics.csv" 2>/dev/null
  step "inference$name" $PY inference.py "$WORK/run$name/checkpoints/best.pt" --mode all --device cuda --quiet
  cp "$WORK/run$name/inference/metrics.json" "$OUT/${prefix}metrics.json" 2>/dev/null
}

step gpu_cells nbdev_test --flags gpu --path nbs/22_tasks.ipynb --do_print
step speed $PY benchmarks/speed.py --device cuda --out "$OUT/speed.json"
pipeline "" ""
pipeline _subtle subtle_ dataset=configs/dataset/subtle_mouse.yaml
step memory $PY benchmarks/memory.py --device cuda --sizes 10000 1000000 10000000 --out "$OUT/memory.json"
rm -rf "$WORK"
