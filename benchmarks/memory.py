"""Memory of the command users run: peak RSS of `python inference.py CKPT --data FILE --mode codes|all` on recordings
of 100k to 10M frames.

    python benchmarks/memory.py                          # default model size, untrained; 100k, 1M and 10M frames
    python benchmarks/memory.py --sizes 10000 1000000 --modes codes
    python benchmarks/memory.py --ckpt EXP/checkpoints/best.pt --device cuda --out benchmarks/results/gpu/memory.json

The recording is a synthetic session tiled to the wanted length and written to a `.npy` with
`np.lib.format.open_memmap` (never held in memory). Each run is a fresh process started through a small wrapper
whose only child is the command, so `ru_maxrss` of its children is the peak resident memory of that run alone.
Pass: the peak at the largest size is at most 1.2x the peak at the smallest, for every mode. The smallest recording
(100k frames, 55 min at 30 fps) is long enough to fill the fixed-size samples `--mode all` keeps (300 windows for the
latent map, 500 for the reconstructions), so the ratio measures what grows with the recording's length; on 10k frames
(104 windows of the default 3.2 s) those samples are partly empty and the peak is lower for that reason alone.
Results: benchmarks/results/memory.json.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SIZES = [100_000, 1_000_000, 10_000_000]
TINY = {"width": 32, "depth": 1, "code_dim": 16}
WRAPPER = ("import resource, subprocess, sys, time; t = time.perf_counter(); r = subprocess.run(sys.argv[1:]); "
           "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t)")


def make_checkpoint(root: Path, model_size: str) -> Path:
    "An untrained model of the default (or tiny) size with a preprocessor fitted on one synthetic session, as a checkpoint."
    from vqmap_nb.config import load_config
    from vqmap_nb.core import CONFIG_DIR, save_torch, seed_everything
    from vqmap_nb.data.datasets import preprocess_kwargs
    from vqmap_nb.data.preprocess import Preprocessor
    from vqmap_nb.data.skeleton import load_skeleton
    from vqmap_nb.data.synthetic import simulate_session
    from vqmap_nb.models import build_model, config_record
    from vqmap_nb.train import CKPT_FORMAT
    seed_everything(0)
    cfg = load_config(CONFIG_DIR / "base" / "vqvae.yaml", [f"model.{k}={v}" for k, v in (TINY if model_size == "tiny" else {}).items()])
    sk = load_skeleton("synth_rat")
    model = build_model(cfg["model"], 3 * sk.n_keypoints + 3, fps=30)
    pre = Preprocessor(sk, **preprocess_kwargs({}, 30.0, model.downsample)).fit([simulate_session(seed=0, seconds=60)])
    ckpt = {"format": CKPT_FORMAT, "kind": "vqvae", "config": cfg, "model": model.state_dict(), "n_features": pre.n_features,
            "preprocessor": pre.state_dict(), "skeleton": sk.to_dict(), **config_record(model.cfg)}
    path = root / "exp" / "checkpoints" / "best.pt"
    save_torch(ckpt, path)
    return path


def write_recording(path: Path, n_frames: int, block: int = 1_000_000):
    "Tile a 120 s synthetic session into a (n_frames, K, 3) float32 .npy on disk, a block at a time."
    from vqmap_nb.data.synthetic import simulate_session
    base = simulate_session(seed=1, seconds=120)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_frames,) + base.position.shape[1:])
    tile = np.concatenate([base.position] * max(1, block // len(base.position) + 1))
    for a in range(0, n_frames, block):
        b = min(n_frames, a + block)
        out[a:b] = tile[:b - a]
    out.flush()
    del out


def run_cli(ckpt: Path, data: Path, mode: str, out: Path, device: str, threads: int) -> dict:
    "Run inference.py in a fresh process; its exit code, peak RSS (MiB) and wall time (s)."
    cmd = [sys.executable, str(REPO / "inference.py"), str(ckpt), "--data", str(data), "--mode", mode, "--out", str(out),
           "--quiet", "--fps", "30", "--device", device]
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, env=env, cwd=REPO)
    code, kib, secs = r.stdout.split()[-3:]
    if int(code) != 0: raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    return {"peak_rss_mib": int(kib) / 1024, "seconds": float(secs)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    p.add_argument("--modes", nargs="+", default=["codes", "all"])
    p.add_argument("--ckpt", default=None, help="a trained checkpoint (default: an untrained model of the default size)")
    p.add_argument("--model", choices=["default", "tiny"], default="default")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(RESULTS / "memory.json"))
    a = p.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        ckpt = Path(a.ckpt) if a.ckpt else make_checkpoint(d, a.model)
        for n in a.sizes:
            data = d / f"rec_{n}.npy"
            write_recording(data, n)
            for mode in a.modes:
                r = run_cli(ckpt, data, mode, d / f"out_{n}_{mode}", a.device, a.threads)
                r.update(frames=n, mode=mode, file_mib=data.stat().st_size / 2 ** 20, frames_per_s=n / r["seconds"])
                results.setdefault(mode, []).append(r)
                print(mode, n, f"{r['peak_rss_mib']:.0f} MiB", f"{r['seconds']:.1f} s", flush=True)
            data.unlink()
    ratios = {m: rs[-1]["peak_rss_mib"] / rs[0]["peak_rss_mib"] for m, rs in results.items()}
    r = {"command": "python inference.py CKPT --data FILE.npy --mode MODE", "runs": results, "ratio": ratios,
         "pass": all(v <= 1.2 for v in ratios.values()), "model": "checkpoint" if a.ckpt else a.model,
         "device": a.device, "threads": a.threads, "machine": machine(), "when": time.strftime("%Y-%m-%d")}
    print(report(r))
    write_json(r, a.out)


def report(r: dict) -> str:
    "Peak memory of each run, and the ratio of the largest recording's to the smallest's."
    rows = [(m, f"{x['frames']:,}", f"{x['file_mib']:.0f}", f"{x['peak_rss_mib']:.0f}", f"{x['seconds']:.1f}", f"{x['frames_per_s']:,.0f}")
            for m, rs in r["runs"].items() for x in rs]
    rows += [(f"{m}: largest / smallest", "", "", f"**{v:.2f}**", "", "target <= 1.2") for m, v in r["ratio"].items()]
    return table(rows, ("--mode", "frames", "file MiB", "peak RSS MiB", "seconds", "frames/s"))


if __name__ == "__main__":
    main()
