"""Inference memory: peak RSS of streaming a recording from a .npy file on disk to a codes CSV, at 10k-10M frames.

    python benchmarks/memory.py                      # default model size (configs/model/vqvae.yaml), untrained
    python benchmarks/memory.py --ckpt EXP/checkpoints/best.pt --sizes 10000 100000
    python benchmarks/memory.py --model tiny         # width 32: same memory behaviour, ~10x faster

Each size runs in a fresh process (`--child`), so its `ru_maxrss` is the peak of that run alone. The recording is a
synthetic session tiled to the wanted length and written with `np.lib.format.open_memmap`; the child reads it as a
memory map chunk by chunk (`vqmap_nb.inference.encode_npy`). Pass: peak RSS does not grow with recording length
(10M frames / the first size of at least one chunk <= 1.2x). Results: benchmarks/results/memory.json.
"""
from __future__ import annotations
import argparse, json, resource, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json  # noqa: E402

SIZES = [10_000, 100_000, 1_000_000, 10_000_000]
TINY = {"width": 32, "depth": 1, "code_dim": 16}


def rss_mb() -> float:
    """Peak resident set size of this process so far (VmHWM), MiB.

    Not `ru_maxrss`: Linux carries the parent's high-water mark into a forked child, which would count the
    recording the parent just wrote."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"): return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(ckpt: str | None, model_size: str):
    "(model, preprocessor): from a checkpoint, or an untrained model with a preprocessor fitted on one session."
    if ckpt:
        from vqmap_nb.train import load_model
        model, pre, _, _ = load_model(ckpt)
        return model, pre
    from vqmap_nb.config import load_yaml
    from vqmap_nb.core import CONFIG_DIR, seed_everything
    from vqmap_nb.data.preprocess import Preprocessor
    from vqmap_nb.data.skeleton import load_skeleton
    from vqmap_nb.data.synthetic import simulate_session
    from vqmap_nb.vqvae import build_model
    seed_everything(0)
    pre = Preprocessor(load_skeleton("synth_rat")).fit([simulate_session(seed=0, seconds=60)])
    cfg = {**load_yaml(CONFIG_DIR / "model" / "vqvae.yaml"), **(TINY if model_size == "tiny" else {})}
    return build_model(cfg, pre.n_features).eval(), pre


def write_recording(path: Path, n_frames: int, block: int = 1_000_000) -> tuple[list[str], float]:
    "Tile a 120 s synthetic session into a (n_frames, K, 3) float32 .npy on disk; returns (keypoint names, fps)."
    from vqmap_nb.data.synthetic import simulate_session
    base = simulate_session(seed=1, seconds=120)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_frames,) + base.position.shape[1:])
    tile = np.concatenate([base.position] * max(1, block // len(base.position) + 1))
    for a in range(0, n_frames, block):
        b = min(n_frames, a + block); out[a:b] = tile[:b - a]
    out.flush(); del out
    return list(base.keypoint_names), float(base.fps)


def child(args) -> dict:
    "Stream one file and report peak RSS before (model loaded) and after."
    from vqmap_nb.core import get_device
    from vqmap_nb.inference import encode_npy, stream_margin
    torch.set_num_threads(args.threads)
    model, pre = build(args.ckpt, args.model)
    device = get_device(args.device); model = model.to(device)
    meta = json.loads(args.meta)
    stream_margin(model, pre)                       # measured once, outside the timed region
    base = rss_mb(); t0 = time.perf_counter()
    n = encode_npy(model, pre, args.child, meta["names"], meta["fps"], args.out_csv, chunk=args.chunk)
    out = {"frames": n, "seconds": time.perf_counter() - t0, "peak_rss_mb": rss_mb(), "rss_after_load_mb": base,
           "csv_mb": Path(args.out_csv).stat().st_size / 2 ** 20, "device": str(device)}
    if device.type == "cuda": out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
    return out


def measure(n: int, tmp: Path, args) -> dict:
    "Write an n-frame recording, stream it in a fresh process, return its figures."
    npy = tmp / f"rec_{n}.npy"
    names, fps = write_recording(npy, n)
    cmd = [sys.executable, __file__, "--child", str(npy), "--out-csv", str(tmp / f"codes_{n}.csv"),
           "--meta", json.dumps({"names": names, "fps": fps}), "--chunk", str(args.chunk), "--model", args.model,
           "--threads", str(args.threads), "--device", args.device] + (["--ckpt", args.ckpt] if args.ckpt else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode: raise SystemExit(f"child failed for {n} frames:\n{r.stderr[-3000:]}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["file_mb"] = npy.stat().st_size / 2 ** 20
    npy.unlink(); (tmp / f"codes_{n}.csv").unlink()
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    p.add_argument("--ckpt", default=None, help="measure a trained checkpoint instead of an untrained model")
    p.add_argument("--model", choices=["default", "tiny"], default="default")
    p.add_argument("--chunk", type=int, default=8192, help="frames per streamed chunk (the library default)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto: where the model runs")
    p.add_argument("--out", default=str(RESULTS / "memory.json"))
    p.add_argument("--tmp", default=None, help="folder for the temporary recordings (needs ~0.2 GB per 1M frames)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out-csv", default=None, help=argparse.SUPPRESS)
    p.add_argument("--meta", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child: print(json.dumps(child(args))); return
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as d:
        for n in args.sizes:
            r = measure(n, Path(d), args); rows.append(r)
            print(f"{n:>10} frames: peak RSS {r['peak_rss_mb']:.0f} MiB ({r['rss_after_load_mb']:.0f} after loading), "
                  f"{r['seconds']:.1f} s, {n / r['seconds']:.0f} frames/s", flush=True)
            report(rows, args)


def report(rows: list[dict], args):
    "Print the table and write results/memory.json (after every size, so partial runs keep their figures)."
    ref = next((r for r in rows if r["frames"] >= args.chunk), rows[0])   # below one chunk, less is held
    growth = rows[-1]["peak_rss_mb"] / ref["peak_rss_mb"]
    print(table([(f"{r['frames']:,}", f"{r['file_mb']:.0f}", f"{r['peak_rss_mb']:.0f}",
                  f"{r['peak_rss_mb'] - r['rss_after_load_mb']:.0f}", f"{r['seconds']:.1f}",
                  f"{r['frames'] / r['seconds']:,.0f}") for r in rows],
                header=("frames", "file MiB", "peak RSS MiB", "streaming MiB", "seconds", "frames/s")))
    print(f"peak RSS {rows[-1]['frames']:,} / {ref['frames']:,} frames = {growth:.2f}x (target <= 1.2x): "
          f"{'PASS' if growth <= 1.2 else 'FAIL'}")
    write_json({"machine": machine(), "model": args.ckpt or args.model, "chunk": args.chunk, "rows": rows,
                "growth": growth, "growth_reference_frames": ref["frames"], "pass": growth <= 1.2}, Path(args.out))

if __name__ == "__main__":
    main()
