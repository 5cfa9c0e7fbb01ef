"""Speed of the default VQ-VAE (configs/base/vqvae.yaml) on this machine, with a profile of the hot paths.

Measures, in one run on the same machine:
- fp32 matmul throughput (a 2048x2048 `torch.mm` loop): the practical peak the model is compared to;
- data preparation: simulation, preprocessing (features) and window batching, frames/s;
- training frames/s through `Trainer.train_epoch` (augmentation, forward, backward, clipping, AdamW, scheduler);
- inference frames/s through `encode.encode_session` (streaming encoder + nearest codes) and batched `encode`;
- model FLOPs per frame (`torch.utils.flop_counter.FlopCounterMode`) and the achieved share of the matmul peak;
- on CUDA additionally training/inference frames/s with bf16 autocast (AMP) and the card's name.
Then profiles preprocessing (cProfile), one training step and inference (torch.profiler) and prints the top entries.

Targets on a 2-core CPU: inference >= 40 % of matmul throughput; training >= 3000 frames/s.
The model, window and batch are the defaults of configs/base/vqvae.yaml resolved at the data's frame rate (the window
from `data.datasets.PREPROCESS_DEFAULTS`, the frames per code from `model.code_seconds`).

    python benchmarks/speed.py [--steps 6] [--minutes 10] [--device auto] [--threads 1] [--out benchmarks/results/speed.json]
    python benchmarks/speed.py --steps 2 --minutes 1 --sessions 2 --min-seconds 0.3 --out /tmp/speed.json   # smoke run
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import itertools
import pstats
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, count_flops, machine, matmul_flops, sync, table, timed, write_json

from vqmap_nb.config import load_config
from vqmap_nb.core import CONFIG_DIR, get_device, seed_everything
from vqmap_nb.data.datasets import AUGMENT_DEFAULTS, common_fps, load_dataset_poses, preprocess_kwargs
from vqmap_nb.data.preprocess import Preprocessor
from vqmap_nb.data.synthetic import simulate_session
from vqmap_nb.data.windows import WindowDataset, augment
from vqmap_nb.encode import encode_session
from vqmap_nb.models import build_model, model_config
from vqmap_nb.tasks import vqvae_loss_fn
from vqmap_nb.train import Trainer

TIMED_S = 2.0   # seconds each inference timing and the matmul loop run for (--min-seconds)


def prepare(cfg: dict) -> dict:
    "Simulate the default dataset, fit the preprocessor and window it, timing each stage."
    d = cfg["dataset"]; out = {}
    t0 = time.perf_counter(); poses, skeleton = load_dataset_poses(d)
    out["simulate_s"] = time.perf_counter() - t0
    n_frames, fps = sum(p.n_frames for p in poses), common_fps(poses)
    frames_per_code = model_config(cfg["model"], 1, fps).downsample
    t0 = time.perf_counter()
    pre = Preprocessor(skeleton, **preprocess_kwargs(d.get("preprocess", {}), fps, frames_per_code)).fit(poses)
    out["fit_s"] = time.perf_counter() - t0
    t0 = time.perf_counter(); feats = [pre.features(p) for p in poses]
    out["features_frames_per_s"] = n_frames / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    ds = WindowDataset([f for f, _ in feats], [v for _, v in feats], pre.window, pre.stride)
    out["windows_s"] = time.perf_counter() - t0
    bs = int(cfg["dataloader"]["batch_size"])
    t0 = time.perf_counter(); nb = sum(1 for _ in ds.batches(bs, generator=torch.Generator().manual_seed(0)))
    out["batching_frames_per_s"] = nb * bs * pre.window / (time.perf_counter() - t0)
    out.update(n_frames=n_frames, n_windows=len(ds), n_features=pre.n_features)
    return {"stats": out, "poses": poses, "pre": pre, "ds": ds, "fps": fps}


def make_trainer(cfg: dict, data: dict, device, steps: int) -> Trainer:
    "A `Trainer` of the default model whose epochs are `steps` batches long (no files are written)."
    bs = int(cfg["dataloader"]["batch_size"])
    def batches(epoch, rank, world):
        g = torch.Generator().manual_seed(epoch)
        return itertools.islice(data["ds"].batches(bs, generator=g, drop_last=True), steps)
    model = build_model(cfg["model"], data["pre"].n_features, data["fps"])
    model.set_mirror(data["pre"].mirror_features)          # as fit_vqvae: the mirror-invariant top view needs it
    loss_fn = vqvae_loss_fn(data["pre"], cfg["dataset"].get("augment", {}))
    return Trainer(cfg, model, train_batches=batches, loss_fn=loss_fn, device=device, steps_per_epoch=steps)


def train_speed(tr: Trainer) -> dict:
    "Frames/s of the second epoch (the first holds the k-means codebook init and warm-up)."
    tr.train_epoch(); first = tr.epoch; tr.epoch += 1
    row = tr.train_epoch(); tr.epoch = first
    return {"train_frames_per_s": row["frames_per_s"], "train_loss": row["train_loss"]}


def train_flops_per_frame(tr: Trainer, x: torch.Tensor) -> float:
    "FLOPs of forward + backward of the training loss on batch `x`, per frame."
    def step():
        loss, _ = tr.loss_fn(tr.model, x); loss.backward()
    f = count_flops(step); tr.opt.zero_grad(set_to_none=True)
    return f / (x.shape[0] * x.shape[1])


@torch.no_grad()
def infer_speed(model, pre, poses, device, batch_size: int = 512, min_s: float = TIMED_S) -> dict:
    "Streaming `encode_session` frames/s on a long recording, batched `encode` frames/s, encoder FLOPs per frame."
    model.eval()
    sec, _ = timed(lambda: encode_session(model, pre, poses), device, min_s=min_s)
    feats, _ = pre.features(poses)
    x = torch.as_tensor(feats[: (len(feats) // pre.window) * pre.window]).reshape(-1, pre.window, pre.n_features)[:batch_size].to(device)
    bsec, _ = timed(lambda: model.encode(x), device, min_s=min_s)
    L = min(len(feats), 8192) // model.downsample * model.downsample
    flops = count_flops(lambda: model.encode(torch.as_tensor(feats[:L])[None].to(device))) / L
    return {"infer_stream_frames_per_s": poses.n_frames / sec, "infer_batched_frames_per_s": x.shape[0] * x.shape[1] / bsec,
            "infer_flops_per_frame": flops, "infer_recording_frames": poses.n_frames}


def cuda_amp(tr: Trainer, model, pre, poses, min_s: float = TIMED_S) -> dict:
    "Training and inference frames/s with bf16 autocast on CUDA."
    tr.amp = True
    out = {"amp_" + k: v for k, v in train_speed(tr).items()}
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out["amp_infer_stream_frames_per_s"] = infer_speed(model, pre, poses, tr.device, min_s=min_s)["infer_stream_frames_per_s"]
    return out


def profile_preprocess(pre, poses, top: int = 8) -> list[str]:
    "cProfile of `pre.features` on one recording: the functions with the most own time."
    pr = cProfile.Profile(); pr.enable(); pre.features(poses); pr.disable()
    s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(top)
    return [l.rstrip() for l in s.getvalue().splitlines() if l.strip()][-top - 1:]


def profile_torch(fn, top: int = 10) -> list[str]:
    "torch.profiler CPU table of `fn()` (ops with the most own time)."
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=acts) as prof: fn()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top).splitlines()


def step_breakdown(tr: Trainer, ds, pre, aug_cfg: dict, reps: int = 3) -> dict:
    "Seconds per training step spent in batch gathering, augmentation, forward, backward and the optimizer."
    bs, t = int(tr.cfg["dataloader"]["batch_size"]), {k: 0.0 for k in ("gather", "augment", "forward", "backward", "optimizer")}
    it = ds.batches(bs, generator=torch.Generator().manual_seed(1), drop_last=True)
    tr.model.train()
    for _ in range(reps):
        t0 = time.perf_counter(); x = next(it).to(tr.device); sync(tr.device); t["gather"] += time.perf_counter() - t0
        t0 = time.perf_counter(); xa = augment(x, pre, **aug_cfg); sync(tr.device); t["augment"] += time.perf_counter() - t0
        t0 = time.perf_counter(); loss = tr.model(xa).loss; sync(tr.device); t["forward"] += time.perf_counter() - t0
        t0 = time.perf_counter(); tr.opt.zero_grad(set_to_none=True); loss.backward(); sync(tr.device); t["backward"] += time.perf_counter() - t0
        t0 = time.perf_counter(); tr.opt.step(); sync(tr.device); t["optimizer"] += time.perf_counter() - t0
    return {k: v / reps for k, v in t.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=6, help="training steps per timed epoch")
    p.add_argument("--minutes", type=float, default=10, help="length of the recording streamed for inference")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default); 1 is faster on a loaded machine")
    p.add_argument("--sessions", type=int, default=None, help="simulated sessions of the training data (default: the config's)")
    p.add_argument("--min-seconds", type=float, default=TIMED_S, help="seconds each inference timing and the matmul loop run")
    p.add_argument("--out", default=str(RESULTS / "speed.json"))
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    seed_everything(0); device = get_device(a.device)
    over = ["expdir=/nonexistent/speed", "train.progress=false", "train.amp=false",
            *([f"dataset.n_sessions={a.sessions}"] if a.sessions else [])]
    cfg = load_config(CONFIG_DIR / "base" / "vqvae.yaml", over)
    data = prepare(cfg)
    res = {"machine": machine(), "device": str(device), "batch_size": cfg["dataloader"]["batch_size"],
           "window": data["pre"].window, "stride": data["pre"].stride, "fps": data["fps"],
           "model": dataclasses.asdict(model_config(cfg["model"], data["pre"].n_features, data["fps"])),
           "settings": {k: v for k, v in vars(a).items() if k != "out"}}
    res["frames_per_code"] = res["model"]["downsample"]
    res["matmul_fp32_flops_per_s"] = matmul_flops(device, min_s=a.min_seconds)
    res["data"] = data["stats"]
    tr = make_trainer(cfg, data, device, a.steps)
    res.update(train_speed(tr))
    x0 = next(data["ds"].batches(int(cfg["dataloader"]["batch_size"]), shuffle=False)).to(device)
    res["train_flops_per_frame"] = train_flops_per_frame(tr, x0)
    res["train_flop_share"] = res["train_flops_per_frame"] * res["train_frames_per_s"] / res["matmul_fp32_flops_per_s"]
    res["train_step_s"] = step_breakdown(tr, data["ds"], data["pre"], {**AUGMENT_DEFAULTS, **cfg["dataset"].get("augment", {})})
    long = simulate_session(seed=999, species=cfg["dataset"]["species"], seconds=a.minutes * 60, fps=data["fps"])
    model = tr.raw_model
    res.update(infer_speed(model, data["pre"], long, device, min_s=a.min_seconds))
    res["infer_flop_share"] = res["infer_flops_per_frame"] * res["infer_stream_frames_per_s"] / res["matmul_fp32_flops_per_s"]
    res["infer_batched_flop_share"] = res["infer_flops_per_frame"] * res["infer_batched_frames_per_s"] / res["matmul_fp32_flops_per_s"]
    t0 = time.perf_counter(); data["pre"].features(long); res["features_long_frames_per_s"] = long.n_frames / (time.perf_counter() - t0)
    if device.type == "cuda": res.update(cuda_amp(tr, model, data["pre"], long, a.min_seconds))
    res["profile"] = {"preprocess_cprofile": profile_preprocess(data["pre"], long),
                      "train_step_torch": profile_torch(lambda: _one_step(tr, x0)),
                      "inference_torch": profile_torch(lambda: encode_session(model.eval(), data["pre"], long))}
    print(report(res)); write_json(res, a.out); print(f"wrote {a.out}")
    return res


def _one_step(tr: Trainer, x):
    tr.model.train(); loss, _ = tr.loss_fn(tr.model, x)
    tr.opt.zero_grad(set_to_none=True); loss.backward(); tr.opt.step()


def report(r: dict, profiles: bool = True) -> str:
    "The summary table (and the profiles)."
    g = 1e9; d = r["data"]; s = r["train_step_s"]
    rows = [("machine", f"{r['machine']['cpu']} ({r['machine']['cores']} cores, {r['machine']['torch_threads']} threads)", ""),
            ("device", r["device"] + (f" ({r['machine']['gpu']})" if r['machine']['gpu'] else ""), ""),
            ("model", f"window {r['window']} frames, {r['frames_per_code']} frames per code, batch {r['batch_size']}", ""),
            ("fp32 matmul 2048^2", f"{r['matmul_fp32_flops_per_s'] / g:.1f} GFLOP/s", ""),
            ("simulate default dataset", f"{d['simulate_s']:.2f} s ({d['n_frames']} frames)", ""),
            ("preprocess features", f"{d['features_frames_per_s']:.0f} frames/s", ""),
            ("window batching", f"{d['batching_frames_per_s'] / 1e6:.1f} M frames/s", ""),
            ("training", f"{r['train_frames_per_s']:.0f} frames/s", ">= 3000 frames/s"),
            ("training FLOPs/frame", f"{r['train_flops_per_frame'] / 1e6:.2f} MFLOP", ""),
            ("training share of matmul peak", f"{100 * r['train_flop_share']:.0f} %", ""),
            ("train step: gather/aug/fwd/bwd/opt", " / ".join(f"{1e3 * s[k]:.0f}" for k in s) + " ms", ""),
            ("inference (streaming encode_session)", f"{r['infer_stream_frames_per_s']:.0f} frames/s", ""),
            ("inference (batched encode)", f"{r['infer_batched_frames_per_s']:.0f} frames/s", ""),
            ("inference FLOPs/frame", f"{r['infer_flops_per_frame'] / 1e6:.2f} MFLOP", ""),
            ("inference share of matmul peak", f"{100 * r['infer_flop_share']:.0f} % (batched {100 * r['infer_batched_flop_share']:.0f} %)", ">= 40 %"),
            ("features of a long recording", f"{r['features_long_frames_per_s']:.0f} frames/s", "")]
    if "amp_train_frames_per_s" in r:
        rows += [("training bf16 AMP", f"{r['amp_train_frames_per_s']:.0f} frames/s", ""),
                 ("inference bf16 AMP", f"{r['amp_infer_stream_frames_per_s']:.0f} frames/s", "")]
    prof = r["profile"]
    if not profiles: return table(rows)
    return "\n".join([table(rows), "", "preprocess (cProfile, own time):", *prof["preprocess_cprofile"],
                      "", "training step (torch.profiler):", *prof["train_step_torch"],
                      "", "inference (torch.profiler):", *prof["inference_torch"]])


if __name__ == "__main__":
    main()
