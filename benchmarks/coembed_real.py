"""Cross-species co-embedding on real recordings: a mouse and human actors in one codebook, measured by what they do.

Trains `configs/base/vqvae_coemb_real.yaml` (SUBTLE mice at 20 fps + Bandai Namco human mocap at 30 fps, codes of
0.2 s in both) with 3 seeds (which codes the species end up sharing varies between trainings, so one run says
little), and, with the same step budget, one single-species model per species (`configs/base/vqvae.yaml` with that
species' dataset sub-config: the same files, held-out clips and windows). Then, on recordings no model saw:

- mouse: the 4 labelled y5a5 animals, per-frame labels walking, rearing, standing, grooming;
- human: the clips the config leaves out (4 of the 15 styles and the second normal take: ~25 % of each action's clips),
  each labelled by the action in its file name (dataset-1_{action}_{style}_{take}.bvh);

each behaviour's distribution over the shared top codes, and the cross-species similarity matrix (1 - Jensen-Shannon
divergence, bits) with a heat map of its mean over the seeds. Targets (every figure reported, met or not; margins
and MPJPE are means over the seeds, each seed is reported too):

- walking: the mouse's walking is nearer to the human locomotion actions (walk, run, dash, walk-back, walk-left,
  walk-right) than to every non-locomotion action by a clear margin: mean similarity to the locomotion actions minus
  the largest similarity to a non-locomotion action >= MARGIN (0.05); the strict form (the least similar locomotion
  action against the most similar other one) is reported too; and the margin is at least the baseline's;
- baseline: k-means with n_top clusters on features both skeletons share, standardised with each species' own
  training statistics: ground speed of the body centre (any direction: walking backwards or sideways is locomotion
  too), |turning rate| of the heading (both per second, from the centre and heading the preprocessing uses) and the
  height of the body centre above the floor, averaged over code-length blocks (0.2 s), fitted on equal numbers of
  training blocks from each species, and read out exactly as the model's codes. Speed and turning enter either as
  they are or on a log scale (as the model's shared head reads them), with 3 k-means seeds each; the variant with the
  largest walking margin is the bar the model has to reach, and all six are reported;
- reconstruction: MPJPE (data units, cm, egocentric) of each species through the co-embedding <= 1.25x its
  single-species model, on the held-out recordings;
- sharing: >= 80 % of the top codes used (> 0.5 % of a species' frames) are used by both species.

    python benchmarks/coembed_real.py            # the full budget: train.steps of the config, 3 co-embedding seeds
    python benchmarks/coembed_real.py --steps 30 --seeds 0 --out /tmp/coembed_real.json     # smoke run (~1 min)
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
from common import table as common_table  # noqa: E402

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
    """A co-embedding per seed and one single-species model per dataset (the first seed), the same steps each; returns
    (seconds of each run, the first seed's co-embedding config)."""
    over = ["train.progress=false", *([f"train.steps={args.steps}"] if args.steps else []), *args.set]
    times, cfgs = {}, {}
    for seed in args.seeds:
        cfgs[seed] = cfg = load_config(CONFIG_DIR / "base" / "vqvae_coemb_real.yaml", [f"expdir={root / f'coemb_seed{seed}'}", f"seed={seed}", *over])
        if not (root / f"coemb_seed{seed}" / "checkpoints" / "best.pt").exists():
            t0 = time.perf_counter(); run_training(cfg); times[f"coembed_seed{seed}"] = time.perf_counter() - t0
    cfg = cfgs[args.seeds[0]]
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


def block_features(pres: dict, fpc: dict, recs: dict) -> dict:
    "{dataset: [(block features (B, 3), frame -> block (T,))]} of every recording, blocks of one code's length."
    return {k: [blocks(shared_features(pres[k], p), fpc[k]) for p, _ in items] for k, items in recs.items()}


def as_log(f: np.ndarray, floor: np.ndarray) -> np.ndarray:
    "Speed and |turning| (first two columns) on a log scale above `floor` (as the model's shared head reads them)."
    out = f.copy()
    out[:, :2] = np.log(f[:, :2] + floor)
    return out


def kmeans_baseline(train: dict, test: dict, labels: dict, n: int, log: bool, seed: int) -> dict:
    "{dataset: (codes, labels)}: k-means (n clusters) on block features standardised per species, fitted on `train`."
    pools = {k: np.concatenate([b for b, _ in v]) for k, v in train.items()}
    floors = {k: 0.1 * np.nanmean(x[:, :2], 0) for k, x in pools.items()}
    tf = lambda k, x: as_log(x, floors[k]) if log else x
    stats = {k: (np.nanmean(tf(k, x), 0), np.nanstd(tf(k, x), 0)) for k, x in pools.items()}
    z = lambda k, x: (tf(k, x) - stats[k][0]) / stats[k][1]
    pools = {k: z(k, x)[np.isfinite(x).all(1)] for k, x in pools.items()}
    m = min(len(x) for x in pools.values())
    rng = np.random.default_rng(seed)
    km = KMeans(n, n_init=10, random_state=seed).fit(
        np.concatenate([x[rng.choice(len(x), m, replace=False)] for x in pools.values()]))   # equal share per species
    out = {}
    for k, items in test.items():
        codes = []
        for b, idx in items:
            ok = np.isfinite(b).all(1)
            c = np.full(len(b), -1)
            c[ok] = km.predict(z(k, b[ok]))
            codes.append(c[idx])
        out[k] = (np.concatenate(codes), labels[k])
    return out


def baseline(model, pres: dict, ckpt: dict, recs: dict, seeds=(0, 1, 2)) -> tuple[dict, object, dict]:
    "Every (scale, seed) variant of the k-means baseline; the one with the largest walking margin is the one to beat."
    train = {}
    for k in recs:
        keep = set(ckpt["sessions"][k]["train"])
        train[k] = [(p, None) for p in load_dataset_poses(ckpt["config"]["dataset"]["datasets"][k])[0] if p.name in keep]
    fpc = {k: model.frames_per_code(k) for k in recs}
    train_b, test_b = block_features(pres, fpc, train), block_features(pres, fpc, recs)
    labels = {k: np.concatenate([lab for _, lab in items]) for k, items in recs.items()}
    runs = {f"{'log' if log else 'linear'}_seed{s}": score(kmeans_baseline(train_b, test_b, labels, model.n_top, log, s), model.n_top)
            for log in (False, True) for s in seeds}
    best = max(runs, key=lambda v: runs[v][0]["walking"]["margin"])
    return {**runs[best][0], "variant": best}, runs[best][1], {v: r["walking"] for v, (r, _) in runs.items()}


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


# ---------------------------------------------------------------- report

def table(res: dict) -> str:
    "The targets and what was measured, as a markdown table (plain text reads too)."
    m, w, b = res["model"], res["model"]["walking"], res["baseline"]["walking"]
    pm = lambda k: f"{m[k + '_mean']:.3f} ± {m[k + '_sd']:.3f}"
    met = res.get("targets_met", {})
    rows = [("walking: mean similarity to locomotion - largest to another action (mean ± sd over seeds)", pm("margin"), f">= {MARGIN}", met.get("walking_margin", "")),
            ("  per seed", " ".join(f"{s['walking']['margin']:.3f}" for s in m["seeds"]), "", ""),
            ("  mean matrix: locomotion mean / nearest other action", f"{w['mean_locomotion']:.3f} / {w['max_other']:.3f} ({w['nearest_other']})", "", ""),
            ("walking: least similar locomotion - largest other (strict)", pm("strict_margin"), "> 0 (reported)", ""),
            (f"k-means on shared movement features, best of 6 ({res['baseline']['variant']})", f"{b['margin']:.3f}", "<= the model's margin", met.get("walking_vs_baseline", "")),
            ("top codes used by both species / by either (least over seeds)", f"{m['shared_fraction_top_min']:.2f}", ">= 0.8", met.get("shared_top", ""))]
    rows += [(f"MPJPE {k}: co-embedding / single-species ({r['coembed']:.3f} / {r['single']:.3f} {r['units']})",
              f"{r['ratio']:.3f}", "<= 1.25", met.get("recon", {}).get(k, "")) for k, r in res["recon"].items()]
    return common_table(rows, ("quantity", "value", "target", "met"))


def evaluate_seed(path, recs: dict, reference: list, singles: dict) -> tuple[dict, object]:
    "Scores of one co-embedding checkpoint: similarity, walking margins, shared codes, held-out MPJPE."
    model, pres, _, ckpt = load_coembed(path)
    ref = {"human": frame_codes(model, pres, {"human": reference})["human"]}
    res, S = score(frame_codes(model, pres, recs), model.n_top, ref)
    res["seed"] = int(ckpt["config"]["seed"])
    res["mpjpe"] = {k: mpjpe(lambda x, k=k: model.translate(x, k, k), pres[k], [p for p, _ in items]) for k, items in recs.items()}
    res["mpjpe_ratio"] = {k: v / singles[k]["single"] for k, v in res["mpjpe"].items()}
    return res, S


def single_mpjpe(root: Path, recs: dict) -> dict:
    "Held-out MPJPE of each dataset's single-species model."
    out = {}
    for name, items in recs.items():
        single, spre, skel, _ = load_model(root / name / "checkpoints" / "best.pt")
        out[name] = {"single": mpjpe(lambda x, m=single: m(x).recon, spre, [p for p, _ in items]), "units": skel.units}
    return out


def summarise(runs: list) -> dict:
    "The seeds' results: each run, margins as mean and sd, the mean similarity matrix and its margins."
    S = sum(S for _, S in runs) / len(runs)
    first = runs[0][0]
    loco = [a for a in S.columns if a in LOCOMOTION]
    out = {"seeds": [{k: r[k] for k in ("seed", "walking", "walking_with_training_only_actions", "shared_fraction_top",
                                        "top", "mpjpe", "mpjpe_ratio", "similarity", "distributions")} for r, _ in runs],
           "similarity": S.round(4).to_dict(orient="index"),
           "walking": walking_margin(S, loco, [a for a in S.columns if a not in LOCOMOTION]), "frames": first["frames"],
           "shared_fraction_top_min": min(r["shared_fraction_top"] for r, _ in runs)}
    for k in ("margin", "strict_margin"):
        v = [r["walking"][k] for r, _ in runs]
        out[f"{k}_mean"], out[f"{k}_sd"] = float(np.mean(v)), float(np.std(v))
    return out, S


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=None, help="default: the config's train.steps")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="co-embedding seeds (training varies a lot between them)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest when other jobs share the cores)")
    ap.add_argument("--out", default=str(RESULTS / "coembed_real.json"))
    ap.add_argument("--workdir", default=None, help="keep the trained runs here and reuse the ones already there")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides of configs/base/vqvae_coemb_real.yaml")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    root = Path(args.workdir or tempfile.mkdtemp(prefix="coemb_real_"))
    times, cfg = train_all(args, root)
    recs = test_recordings(cfg)
    reference = training_only_actions(cfg, {a for _, lab in recs["human"] for a in set(lab)})
    singles = single_mpjpe(root, recs)
    runs = [evaluate_seed(root / f"coemb_seed{s}" / "checkpoints" / "best.pt", recs, reference, singles) for s in args.seeds]
    model_res, S = summarise(runs)
    model, pres, _, ckpt = load_coembed(root / f"coemb_seed{args.seeds[0]}" / "checkpoints" / "best.pt")
    base_res, S_base, base_variants = baseline(model, pres, ckpt, recs)
    recon = {k: {"coembed": float(np.mean([r["mpjpe"][k] for r, _ in runs])), **v} for k, v in singles.items()}
    for v in recon.values(): v["ratio"] = v["coembed"] / v["single"]
    res = {"config": "configs/base/vqvae_coemb_real.yaml", "overrides": args.set, "steps": cfg["train"]["steps"],
           "seeds": args.seeds, "fps": ckpt["model_config"]["fps"], "core_fps": ckpt["model_config"]["core_fps"],
           "frames_per_code": {k: model.frames_per_code(k) for k in model.names}, "n_top": model.n_top,
           "held_out": {"mouse": [p.name for p, _ in recs["mouse"]], "human": [p.name for p, _ in recs["human"]]},
           "training_only_actions": sorted({a for _, lab in reference for a in set(lab)}),
           "locomotion": LOCOMOTION, "margin_target": MARGIN, "model": model_res, "baseline": base_res,
           "baseline_features": ["ground speed", "|turning rate|", "body-centre height"], "baseline_variants": base_variants,
           "recon": recon, "train_seconds": times}
    res["targets_met"] = {"walking_margin": model_res["margin_mean"] >= MARGIN,
                          "walking_vs_baseline": model_res["margin_mean"] >= base_res["walking"]["margin"],
                          "shared_top": model_res["shared_fraction_top_min"] >= 0.8,
                          "recon": {k: r["ratio"] <= 1.25 for k, r in recon.items()}}
    res["total_seconds"] = time.perf_counter() - t_start
    res["machine"] = machine()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for s, tag, title in ((S, "", f"co-embedding top codes ({len(runs)} seeds)"), (S_base, "_baseline", "k-means on shared features")):
        fig = viz.plot_similarity(s, xlabel="human action (held-out clips)", ylabel="mouse behaviour (held-out mice)",
                                  title=f"{title}: 1 - JSD of code distributions", highlight=LOCOMOTION)
        fig.savefig(out.with_name(out.stem + tag + ".png"), dpi=110, bbox_inches="tight")
    print(table(res)); print("train seconds:", {k: round(v) for k, v in times.items()}, f"total {res['total_seconds']:.0f} s")
    print("model (mean over seeds):"); print(S.round(2).to_string()); print("baseline:"); print(S_base.round(2).to_string())
    print(f"wrote {write_json(res, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
