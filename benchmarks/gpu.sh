#!/usr/bin/env bash
# The GPU checks in one run (a CUDA machine with the package importable and nbdev on the PATH; run from the
# repository root, with ../shared/data present for steps 5, 8 and 9):
#   1. the `#| gpu` notebook cells (nbdev_test --flags gpu): nbs/22_tasks.ipynb (training on CUDA, fp32 CPU-loadable
#      checkpoints, the same codes on CUDA and CPU) and nbs/21_encode.ipynb (features prepared on the card give the
#      codes of the numpy path, and a 1M-frame .npy is coded with features on the card and with numpy; nbdev_test
#      keeps no cell output, so those frames/s print only when the notebook is run by hand; step 6 records the CLI's);
#   2. benchmarks/speed.py on CUDA (training / inference frames/s, fp32 and bf16 autocast);
#   3. the default pipeline on the GPU: train.py configs/base/vqvae.yaml (synthetic default, default step budget),
#      then inference.py --mode all;
#   4. the same with the GPU training setting: train=configs/train/gpu.yaml dataloader.batch_size=512;
#   5. the same on real data: train.py with dataset=configs/dataset/subtle_mouse.yaml, then inference.py --mode all;
#   6. end to end: inference.py CKPT --data BIG.npy --mode codes --device cuda on a 1M-frame recording (the model of
#      step 3; the recording and the timing are benchmarks/memory.py's), frames/s into summary.txt;
#   7. benchmarks/memory.py on CUDA (10k to 10M frames streamed from disk through inference.py);
#   8. benchmarks/real.py --parts subtle --seeds 0 with train.device=cuda;
#   9. every tutorial notebook nbs/tutorials/*.ipynb through nbdev_test, timed one by one.
# Usage: bash benchmarks/gpu.sh [OUTDIR]     (default benchmarks/results/gpu; logs, json and summary.txt land there)
# Files: summary.txt (card, torch, rc and seconds of each step, frames/s of step 6), <step>.log, speed.json,
# train_metrics.csv and metrics.json (synthetic default), gpu_train_metrics.csv and gpu_metrics.json (GPU setting),
# subtle_train_metrics.csv and subtle_metrics.json, codes_1m.json, memory.json, real_subtle.json.
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
  local name=$1 prefix=$2; shift 2   # the overrides go first: a whole-section swap (train=FILE) replaces train.* set before it
  step "train$name" $PY train.py configs/base/vqvae.yaml "$@" "expdir=$WORK/run$name" train.progress=false train.device=cuda
  cp "$WORK/run$name/metrics.csv" "$OUT/${prefix}train_metrics.csv" 2>/dev/null
  step "inference$name" $PY inference.py "$WORK/run$name/checkpoints/best.pt" --mode all --device cuda --quiet
  cp "$WORK/run$name/inference/metrics.json" "$OUT/${prefix}metrics.json" 2>/dev/null
}

codes_1m() {  # codes_1m CKPT: inference.py --mode codes --device cuda on a 1M-frame .npy; frames/s into summary.txt
  step codes_1m $PY benchmarks/memory.py --ckpt "$1" --device cuda --sizes 1000000 --modes codes --out "$OUT/codes_1m.json"
  $PY -c "import json, sys; x = json.load(open(sys.argv[1]))['runs']['codes'][0]; print(f\"codes_1m: {x['frames_per_s']:,.0f} frames/s ({x['frames']:,} frames in {x['seconds']:.1f} s, inference.py --mode codes --device cuda, peak RSS {x['peak_rss_mib']:.0f} MiB)\")" \
    "$OUT/codes_1m.json" | tee -a "$OUT/summary.txt"
}

step gpu_cells nbdev_test --flags gpu --path nbs/22_tasks.ipynb --do_print
step gpu_cells_encode nbdev_test --flags gpu --path nbs/21_encode.ipynb --do_print
step speed $PY benchmarks/speed.py --device cuda --out "$OUT/speed.json"
pipeline "" ""
pipeline _gpu gpu_ train=configs/train/gpu.yaml dataloader.batch_size=512
pipeline _subtle subtle_ dataset=configs/dataset/subtle_mouse.yaml
codes_1m "$WORK/run/checkpoints/best.pt"
step memory $PY benchmarks/memory.py --device cuda --sizes 10000 1000000 10000000 --out "$OUT/memory.json"
step real_subtle $PY benchmarks/real.py --parts subtle --seeds 0 --out "$OUT/real_subtle.json" --set train.device=cuda
for nb in nbs/tutorials/*.ipynb; do step "tutorial_$(basename "$nb" .ipynb)" nbdev_test --path "$nb" --do_print; done
rm -rf "$WORK"
