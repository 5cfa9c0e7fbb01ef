"""Cross-species co-embedding on real recordings: a mouse and human actors in one codebook, measured by what they do.

Trains `configs/base/vqvae_coemb_real.yaml` (SUBTLE mice at 20 fps + Bandai Namco human mocap at 30 fps, codes of
0.2 s in both) and, with the same step budget, one single-species model per species (`configs/base/vqvae.yaml` with
that species' dataset sub-config: the same files, held-out clips and windows). Then, on recordings no model saw:

- mouse: the 4 labelled y5a5 animals, per-frame labels walking, rearing, standing, grooming;
- human: the clips the config leaves out (4 of the 15 styles and the second normal take: ~25 % of each action's clips),
  each labelled by the action in its file name (dataset-1_{action}_{style}_{take}.bvh);

each behaviour's distribution over the shared top codes, and the cross-species similarity matrix (1 - Jensen-Shannon
divergence, bits) with a heat map. Targets (every figure reported, met or not):

- walking: the mouse's walking is nearer to the human locomotion actions (walk, run, dash, walk-back, walk-left,
  walk-right) than to every non-locomotion action by a clear margin: mean similarity to the locomotion actions minus
  the largest similarity to a non-locomotion action >= MARGIN (0.05); the strict form (the least similar locomotion
  action against the most similar other one) is reported too; and the margin is at least the baseline's;
- baseline: k-means with n_top clusters on features both skeletons share, standardised with each species' own
  training statistics: ground speed of the body centre (any direction: walking backwards or sideways is locomotion
  too), |turning rate| of the heading (both per second, from the centre and heading the preprocessing uses) and the
  height of the body centre above the floor, averaged over code-length blocks (0.2 s), fitted on equal numbers of
  training blocks from each species, and read out exactly as the model's codes;
- reconstruction: MPJPE (data units, cm, egocentric) of each species through the co-embedding <= 1.25x its
  single-species model, on the held-out recordings;
- sharing: >= 80 % of the top codes used (> 0.5 % of a species' frames) are used by both species.

    python benchmarks/coembed_real.py                       # the full budget (train.steps of the config, ~25 min, 1 thread)
    python benchmarks/coembed_real.py --steps 30 --out /tmp/coembed_real.json     # smoke run (~2 min)
    python benchmarks/coembed_real.py --set model.align_weight=1 --out /tmp/x.json     # another setting
"""
from __future__ import annotations

import argparse
import fnmatch
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, write_json  # noqa: E402

from vqmap_nb import viz  # noqa: E402
from vqmap_nb.coembed import DatasetView  # noqa: E402
from vqmap_nb.config import load_config  # noqa: E402
from vqmap_nb.core import CONFIG_DIR, resolve_path  # noqa: E402
from vqmap_nb.data.datasets import dataset_configs, load_dataset_poses  # noqa: E402
from vqmap_nb.data.io import load_poses  # noqa: E402
from vqmap_nb.encode import encode_session  # noqa: E402
from vqmap_nb.mapping import _stitch, _windows, load_coembed  # noqa: E402
from vqmap_nb.metrics import label_distributions, shared_codes, similarity_matrix, usage_counts  # noqa: E402
from vqmap_nb.tasks import run_training  # noqa: E402
from vqmap_nb.train import load_model  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MOUSE_TEST = "y5a5_*.npz"
MOUSE_LABELS = ["walking", "rearing", "standing", "grooming"]
LOCOMOTION = ["walk", "run", "dash", "walk-back", "walk-left", "walk-right"]
MARGIN = 0.05


def action(path) -> str:
    "The action of a Bandai clip from its file name: dataset-1_{action}_{style}_{take}.bvh."
    return Path(path).stem.split("_")[1]


# ---------------------------------------------------------------- training

def train_all(args, root: Path) -> tuple[dict, dict]:
    "The co-embedding and one single-species model per dataset, same steps; returns (seconds of each, coembed config)."
    over = [f"expdir={root / 'coemb'}", "train.progress=false", *([f"train.steps={args.steps}"] if args.steps else []), *args.set]
    cfg = load_config(CONFIG_DIR / "base" / "vqvae_coemb_real.yaml", over)
    times = {}
    if not (root / "coemb" / "checkpoints" / "best.pt").exists():
        t0 = time.perf_counter(); run_training(cfg); times["coembed"] = time.perf_counter() - t0
    per = cfg["dataloader"]["batch_size"] // len(cfg["dataset"]["datasets"])
    for name, sub in dataset_configs(cfg["dataset"]).items():
        if (root / name / "checkpoints" / "best.pt").exists(): continue
        single = load_config(CONFIG_DIR / "base" / "vqvae.yaml",
                             [f"expdir={root / name}", "train.progress=false", f"train.steps={cfg['train']['steps']}",
                              f"dataloader.batch_size={per}", f"seed={cfg['seed']}"])
        single["dataset"] = sub
        t0 = time.perf_counter(); run_training(single); times[name] = time.perf_counter() - t0
    return times, cfg


# ---------------------------------------------------------------- held-out recordings

def test_recordings(cfg: dict) -> dict:
    "{dataset: [(poses, per-frame labels (T,) of str)]} of the recordings no model trained on."
    subs = dataset_configs(cfg["dataset"])
    mouse = subs["mouse"]
    out = {"mouse": [], "human": []}
    for p in load_poses(resolve_path(mouse["paths"][0]).parent / MOUSE_TEST, skeleton=mouse["skeleton"], fps=mouse["fps"]):
        lab = np.asarray(p.meta["labels"])
        out["mouse"].append((p, np.where(lab >= 0, np.array(MOUSE_LABELS)[np.maximum(lab, 0)], "")))
    human = subs["human"]
    for p in load_poses(resolve_path(human["paths"][0]), skeleton=human["skeleton"], fps=human["fps"]):
        if any(fnmatch.fnmatch(Path(p.source).name, pat) for pat in human.get("exclude", [])):
            out["human"].append((p, np.full(p.n_frames, action(p.source))))
    return out


def training_only_actions(cfg: dict, tested: set) -> list:
    "(poses, labels) of the human actions with no held-out clip (a single clip, used in training): a reference only."
    human = dataset_configs(cfg["dataset"])["human"]
    poses, _ = load_dataset_poses(human)
    return [(p, np.full(p.n_frames, action(p.source))) for p in poses if action(p.source) not in tested]


# ---------------------------------------------------------------- codes, similarity, targets

def frame_codes(model, pres: dict, recs: dict) -> dict:
    "{dataset: (codes (N,), labels (N,))} top codes of every frame through the dataset's adapter."
    out = {}
    for name, items in recs.items():
        view = DatasetView(model, name)
        codes = [encode_session(view, pres[name], p)["top"] for p, _ in items]
        out[name] = (np.concatenate(codes), np.concatenate([lab for _, lab in items]))
    return out


def distributions(codes: dict, n: int) -> dict:
    "{dataset: {behaviour: (n,) distribution over codes}} (unlabelled frames left out)."
    return {k: {b: d for b, d in label_distributions(np.where(lab != "", c, -1), lab, n).items() if b}
            for k, (c, lab) in codes.items()}


def walking_margin(S, loco: list, other: list) -> dict:
    "How much nearer the mouse's walking is to the human locomotion actions than to any other action."
    w = S.loc["walking"]
    return {"mean_locomotion": float(w[loco].mean()), "min_locomotion": float(w[loco].min()),
            "max_other": float(w[other].max()), "nearest_other": str(w[other].idxmax()),
            "margin": float(w[loco].mean() - w[other].max()), "strict_margin": float(w[loco].min() - w[other].max())}


def score(codes: dict, n: int, reference: dict | None = None) -> dict:
    "Similarity matrix (mouse behaviours x human actions), walking margin and shared codes from frame codes."
    dist = distributions(codes, n)
    actions = sorted(dist["human"], key=lambda a: (a not in LOCOMOTION, a))
    S = similarity_matrix(dist["mouse"], {a: dist["human"][a] for a in actions})
    loco, other = [a for a in actions if a in LOCOMOTION], [a for a in actions if a not in LOCOMOTION]
    usage = {k: usage_counts(c, n) / max(1, (c >= 0).sum()) for k, (c, _) in codes.items()}
    out = {"similarity": S.round(4).to_dict(orient="index"), "walking": walking_margin(S, loco, other),
           "top": shared_codes(usage), "distributions": {k: {b: d.round(4) for b, d in v.items()} for k, v in dist.items()},
           "frames": {k: {b: int(((lab == b) & (c >= 0)).sum()) for b in dist[k]} for k, (c, lab) in codes.items()}}
    out["shared_fraction_top"] = out["top"]["n_shared"] / max(1, out["top"]["n_any"])
    if reference:   # the actions seen only in training, added as further non-locomotion columns
        ref = distributions(reference, n)["human"]
        S2 = similarity_matrix(dist["mouse"], {**{a: dist["human"][a] for a in actions}, **ref})
        out["walking_with_training_only_actions"] = walking_margin(S2, loco, other + list(ref))
        out["similarity_training_only_actions"] = S2[list(ref)].round(4).to_dict(orient="index")
    return out, S


# ---------------------------------------------------------------- baseline: k-means on shared features

def shared_features(pre, p) -> np.ndarray:
    "(T, 3) ground speed, |turning rate| (per second) and body-centre height, NaN where missing."
    sk = pre.skeleton
    raw, valid = pre.raw_features(p, check=False)                                 # egocentric positions, then global motion
    ego = raw[:, :pre.n_pos].reshape(len(raw), sk.n_keypoints, sk.n_space)
    g = raw[:, pre.n_pos:] * p.fps                                                # (T, 3) per second
    height = ego[:, sk.index(sk.center), sk.up_axis].mean(1)
    return np.where(valid[:, None], np.stack([np.hypot(g[:, 0], g[:, 1]), np.abs(g[:, 2]), height], -1), np.nan)


def blocks(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    "(T, F) -> block means (B, F) of n frames (the last one partial) and each frame's block (T,)."
    idx = np.arange(len(x)) // n
    sums = np.zeros((idx[-1] + 1, x.shape[1])); np.add.at(sums, idx, np.nan_to_num(x))
    cnt = np.zeros(idx[-1] + 1); np.add.at(cnt, idx, np.isfinite(x).all(1))
    with np.errstate(invalid="ignore"): means = sums / cnt[:, None]
    return np.where(cnt[:, None] > 0, means, np.nan), idx


def kmeans_baseline(model, pres: dict, ckpt: dict, recs: dict, n: int, seed: int = 0) -> dict:
    "{dataset: (codes, labels)} from k-means on species-independent block features, fitted on the training recordings."
    train = {}
    for name in recs:
        sub = ckpt["config"]["dataset"]["datasets"][name]
        keep = set(ckpt["sessions"][name]["train"])
        train[name] = [p for p in load_dataset_poses(sub)[0] if p.name in keep]
    fpc = {k: model.frames_per_code(k) for k in recs}
    feats = {k: [blocks(shared_features(pres[k], p), fpc[k])[0] for p in ps] for k, ps in train.items()}
    stats = {k: (np.nanmean(np.concatenate(f), 0), np.nanstd(np.concatenate(f), 0)) for k, f in feats.items()}
    z = lambda k, x: (x - stats[k][0]) / stats[k][1]
    pools = {k: z(k, np.concatenate(f)) for k, f in feats.items()}
    pools = {k: x[np.isfinite(x).all(1)] for k, x in pools.items()}
    m = min(len(x) for x in pools.values())
    rng = np.random.default_rng(seed)
    X = np.concatenate([x[rng.choice(len(x), m, replace=False)] for x in pools.values()])   # equal share per species
    km = KMeans(n, n_init=10, random_state=seed).fit(X)
    out = {}
    for name, items in recs.items():
        codes = []
        for p, _ in items:
            b, idx = blocks(shared_features(pres[name], p), fpc[name])
            ok = np.isfinite(b).all(1)
            c = np.full(len(b), -1); c[ok] = km.predict(z(name, b[ok]))
            codes.append(c[idx])
        out[name] = (np.concatenate(codes), np.concatenate([lab for _, lab in items]))
    return out


# ---------------------------------------------------------------- reconstruction

@torch.no_grad()
def mpjpe(fn, pre, poses: list) -> float:
    "Mean per-joint position error (data units, egocentric) of `fn((N, window, F)) -> (N, window, F)` over valid frames."
    se, n = 0.0, 0
    for p in poses:
        f, v = pre.features(p, check=False)
        x, st = _windows(f, pre.window)
        r = _stitch(fn(x).numpy(), st, len(f))
        err = np.linalg.norm(pre.to_positions(r) - pre.to_positions(f), axis=-1)[v]   # (valid frames, K)
        se, n = se + float(err.sum()), n + err.size
    return se / max(1, n)


def reconstruction(root: Path, model, pres: dict, recs: dict) -> dict:
    "Held-out MPJPE of each dataset through the co-embedding and through its single-species model."
    out = {}
    for name, items in recs.items():
        poses = [p for p, _ in items]
        single, spre, skel, _ = load_model(root / name / "checkpoints" / "best.pt")
        co = mpjpe(lambda x, k=name: model.translate(x, k, k), pres[name], poses)
        so = mpjpe(lambda x, m=single: m(x).recon, spre, poses)
        out[name] = {"coembed": co, "single": so, "ratio": co / so, "units": skel.units}
    return out


# ---------------------------------------------------------------- report

def table(res: dict) -> str:
    w, b = res["model"]["walking"], res["baseline"]["walking"]
    rows = [("walking: mean sim. to locomotion - max sim. to other actions", f"{w['margin']:.3f}", f">= {MARGIN}"),
            ("  (model: locomotion mean / nearest other action)", f"{w['mean_locomotion']:.3f} / {w['max_other']:.3f} ({w['nearest_other']})", ""),
            ("walking: least similar locomotion - max other (strict)", f"{w['strict_margin']:.3f}", "> 0 (reported)"),
            ("k-means baseline margin (shared features)", f"{b['margin']:.3f}", f"<= model {w['margin']:.3f}"),
            ("top codes used by both species / by either", f"{res['model']['shared_fraction_top']:.2f}", ">= 0.8")]
    rows += [(f"MPJPE {k} coembed / single ({r['coembed']:.3f} / {r['single']:.3f} {r['units']})", f"{r['ratio']:.3f}", "<= 1.25")
             for k, r in res["recon"].items()]
    n = max(len(r[0]) for r in rows)
    return "\n".join([f"{'metric':<{n}}  value  target"] + [f"{a:<{n}}  {v}  {t}" for a, v, t in rows])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=None, help="default: the config's train.steps")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest when other jobs share the cores)")
    ap.add_argument("--out", default=str(RESULTS / "coembed_real.json"))
    ap.add_argument("--workdir", default=None, help="keep the trained runs here and reuse the ones already there")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides of configs/base/vqvae_coemb_real.yaml")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    root = Path(args.workdir or tempfile.mkdtemp(prefix="coemb_real_"))
    times, cfg = train_all(args, root)
    model, pres, skels, ckpt = load_coembed(root / "coemb" / "checkpoints" / "best.pt")
    recs = test_recordings(cfg)
    tested = {a for _, lab in recs["human"] for a in set(lab)}
    ref = {"human": frame_codes(model, pres, {"human": training_only_actions(cfg, tested)})["human"]}
    model_res, S = score(frame_codes(model, pres, recs), model.n_top, ref)
    base_res, S_base = score(kmeans_baseline(model, pres, ckpt, recs, model.n_top, cfg["seed"]), model.n_top)
    res = {"config": "configs/base/vqvae_coemb_real.yaml", "overrides": args.set, "steps": cfg["train"]["steps"],
           "fps": ckpt["model_config"]["fps"], "core_fps": ckpt["model_config"]["core_fps"],
           "frames_per_code": {k: model.frames_per_code(k) for k in model.names}, "n_top": model.n_top,
           "held_out": {"mouse": [p.name for p, _ in recs["mouse"]], "human": [p.name for p, _ in recs["human"]]},
           "training_only_actions": sorted(set(ref["human"][1])),
           "locomotion": LOCOMOTION, "margin_target": MARGIN, "model": model_res, "baseline": base_res,
           "baseline_features": ["ground speed", "|turning rate|", "body-centre height"],
           "recon": reconstruction(root, model, pres, recs), "train_seconds": times}
    w = res["model"]["walking"]
    res["targets_met"] = {"walking_margin": w["margin"] >= MARGIN, "walking_vs_baseline": w["margin"] >= res["baseline"]["walking"]["margin"],
                          "shared_top": res["model"]["shared_fraction_top"] >= 0.8,
                          "recon": {k: r["ratio"] <= 1.25 for k, r in res["recon"].items()}}
    res["total_seconds"] = time.perf_counter() - t_start
    res["machine"] = machine()
    out = Path(args.out)
    for s, tag, title in ((S, "", "co-embedding top codes"), (S_base, "_baseline", "k-means on shared features")):
        fig = viz.plot_similarity(s, xlabel="human action (held-out clips)", ylabel="mouse behaviour (held-out mice)",
                                  title=f"{title}: 1 - JSD of code distributions", highlight=LOCOMOTION)
        fig.savefig(out.with_name(out.stem + tag + ".png"), dpi=110, bbox_inches="tight")
    print(table(res)); print("train seconds:", {k: round(v) for k, v in times.items()}, f"total {res['total_seconds']:.0f} s")
    print("model:"); print(S.round(2).to_string()); print("baseline:"); print(S_base.round(2).to_string())
    print(f"wrote {write_json(res, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
