"""Real behaviour, measured: the default pipeline on real recordings against baselines run on the same frames.

    python benchmarks/real.py                         # every part, default config, 2 seeds (about 28 min on 2 CPU cores)
    python benchmarks/real.py --parts subtle --seeds 0 --steps 300 --out /tmp/real.json      # a quick look
    python benchmarks/real.py --set model.n_top=6     # the same measurements for another setting

Parts (each trains `configs/base/vqvae.yaml` with the part's dataset config and nothing else changed, unless --set):
- subtle: SUBTLE/AVATAR 3D mice (../shared/data/subtle_mouse3d). Train on the 9 unlabelled y3a6 animals; code the 4
  labelled y5a5 animals, which no model saw. On their labelled frames (walking, rearing, standing, grooming): NMI and
  purity of top codes and of motifs; median (IQR) bout durations of top codes against the labelled bouts; boundary F1
  of code changes against label changes within 0.2 s; MPJPE of the encoder's own codes on held-out windows; seed
  stability (ARI of top codes between seeds on the held-out frames). Baselines on the same frames with the same
  numbers of clusters, fitted on the same training animals with the model's own features: k-means on egocentric pose +
  velocity; spectrogram-UMAP (Morlet wavelets of PCA components, UMAP, k-means; MotionMapper/SUBTLE style); k-means on
  code-length blocks for MPJPE. keypoint-MoSeq is scored when `benchmarks/kpms.py` (its own environment: it needs jax)
  has written results/kpms.json: all its syllables, and its n - 1 most used plus the rest at the model's numbers of codes.
- bandai: Bandai Namco human mocap (../shared/data/bandai_human3d), one action per clip (17). Clips are split 75/25
  within each action; NMI with the action of each held-out clip's majority top code and of k-means clusters of its
  motif histogram, against k-means (pose + velocity) treated the same way; one training and one k-means per seed (each
  with that training's features and the seed as its init), the target compares their means.
- mouse34: the stac-mjx 3D mouse (one recording, 80/20 by block): MPJPE of the encoder's codes vs block k-means.
- gpt: on the subtle model of the first seed: a GPT prior over its motif codes (configs/base/gpt.yaml), held-out NLL
  per code on the 4 labelled animals against bigram and trigram baselines fitted on the training codes, and usage /
  transition KL of generated against held-out real codes.

Targets (issue "Real behaviour, measured"): subtle top and motif NMI >= 1.25x k-means and >= spectrogram-UMAP; median
top-code bout within 2x of the labelled median; encoder MPJPE below block k-means on subtle and mouse34; seed ARI of top
codes >= 0.7; bandai action NMI >= 1.25x k-means. Every figure is reported, met or not. Results: benchmarks/results/real.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json  # noqa: E402

from vqmap_nb.baselines import PoseVelocityKMeans, SpectrogramUMAP, block_kmeans_mpjpe  # noqa: E402
from vqmap_nb.config import load_config, load_yaml  # noqa: E402
from vqmap_nb.core import CONFIG_DIR  # noqa: E402
from vqmap_nb.data.datasets import training_sessions  # noqa: E402
from vqmap_nb.data.io import load_poses  # noqa: E402
from vqmap_nb.data.preprocess import mirror_poses  # noqa: E402
from vqmap_nb.encode import encode_session  # noqa: E402
from vqmap_nb.metrics import (  # noqa: E402
    ari,
    boundary_f1,
    contingency,
    hist_quantiles,
    homogeneity_completeness,
    mirror_groups,
    nmi,
    nmi_ceiling,
    pose_errors,
    purity,
    run_lengths,
    transition_kl,
    usage_kl,
)
from vqmap_nb.tasks import run_training  # noqa: E402
from vqmap_nb.train import load_model  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SUBTLE, BANDAI = DATA / "subtle_mouse3d", DATA / "bandai_human3d" / "data"
HELD_OUT = ["y5a5_adult_6112", "y5a5_young_7100", "y5a5_adult_6115", "y5a5_young_7678"]
LABELS = ["walking", "rearing", "standing", "grooming"]


# ---------------------------------------------------------------- training and coding

def train(root: Path, name: str, dataset: str | dict, seed: int, a) -> Path:
    "Train configs/base/vqvae.yaml on a dataset (a config path, or a config dict); returns best.pt."
    cfg = load_config(CONFIG_DIR / "base" / "vqvae.yaml", [f"expdir={root / name}", f"seed={seed}", "train.progress=false",
                                                           *([f"dataset={dataset}"] if isinstance(dataset, str) else []),
                                                           *([f"train.steps={a.steps}"] if a.steps else []), *a.set])
    if isinstance(dataset, dict): cfg["dataset"] = dataset
    torch.set_num_threads(a.threads)   # torch's count rose during earlier runs (after the trainings; not traced further)
    t0 = time.perf_counter()
    run_training(cfg)
    print(f"  trained {name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return root / name / "checkpoints" / "best.pt"


def held_out(model, pre, poses) -> dict:
    "{name: {top, motif}} frame codes of held-out recordings."
    return {p.name: encode_session(model, pre, p) for p in poses}


@torch.no_grad()
def encoder_mpjpe(model, pre, poses) -> float:
    "MPJPE (data units) of held-out non-overlapping valid windows reconstructed from the encoder's own codes."
    x = []
    for p in poses:
        f, v = pre.features(p, check=False)
        n = len(f) // pre.window
        w, ok = f[:n * pre.window].reshape(n, pre.window, -1), v[:n * pre.window].reshape(n, pre.window).all(1)
        x.append(w[ok])
    x = np.concatenate(x)
    rec = np.concatenate([model(torch.as_tensor(x[i:i + 256])).recon.numpy() for i in range(0, len(x), 256)])
    return pose_errors(pre.to_positions(x), pre.to_positions(rec))["mpjpe"]


# ---------------------------------------------------------------- agreement with labels

def bouts_s(seqs: list, fps: float) -> list:
    "Median and quartiles (s) of the runs of valid values over sequences."
    h = np.zeros(100_000, np.int64)
    for s in seqs:
        v, n = run_lengths(np.asarray(s))
        np.add.at(h, np.minimum(n[v >= 0], len(h) - 1), 1)
    q = hist_quantiles(h, (0.25, 0.5, 0.75))
    return [round(x / fps, 3) for x in q]


def label_scores(codes: dict, labels: dict, fps: float, level: str = "top") -> dict:
    "NMI, its homogeneity and completeness, purity (labelled frames, pooled), median/IQR bout (all frames), boundary F1 within 0.2 s (mean per recording)."
    c = np.concatenate([codes[n][level] for n in labels])
    y = np.concatenate([labels[n] for n in labels])
    C = contingency(y, c)
    return {"nmi": nmi(C), **homogeneity_completeness(C), "purity": purity(C), "bout_s": bouts_s([codes[n][level] for n in labels], fps),
            "boundary_f1": float(np.mean([boundary_f1(np.where(labels[n] >= 0, codes[n][level], -1), labels[n],
                                                      int(round(0.2 * fps)))["f1"] for n in labels]))}


# ---------------------------------------------------------------- left / right

def sides_merged(codes: dict, mirror_codes: dict, labels: dict, n: int) -> dict:
    """How much of a labelling's split is left vs right: the share of labelled frames whose code changes when the animal is
    mirrored, and NMI with the labels once each code is merged with its mirror partner (`metrics.mirror_groups`)."""
    c, cm = (np.concatenate([d[k] for k in labels]) for d in (codes, mirror_codes))
    y = np.concatenate([labels[k] for k in labels])
    g = mirror_groups(c, cm, n)
    lab = (y >= 0) & (c >= 0) & (cm >= 0)
    merged = np.where(c >= 0, g[np.maximum(c, 0)], -1)
    return {"changes_under_mirror": float((c[lab] != cm[lab]).mean()), "n_groups": int(len(np.unique(g[np.unique(c[c >= 0])]))),
            "nmi": nmi(contingency(y, merged))}


# ---------------------------------------------------------------- parts

def subtle(root: Path, a) -> dict:
    poses = {n: load_poses(SUBTLE / f"{n}.npz", skeleton="subtle_mouse9", fps=20)[0] for n in HELD_OUT}
    labels = {n: p.meta["labels"] for n, p in poses.items()}
    train_poses = load_poses(sorted(SUBTLE.glob("y3a6_*.npz")), skeleton="subtle_mouse9", fps=20)
    out = {"held_out": HELD_OUT, "labels": LABELS, "label_bouts_s": bouts_s(list(labels.values()), 20.0), "seeds": {}}
    codes_by_seed = {}
    for seed in a.seeds:
        ckpt = train(root, f"subtle_s{seed}", "configs/dataset/subtle_mouse.yaml", seed, a)
        model, pre, _, _ = load_model(ckpt)
        t0 = time.perf_counter()
        codes = codes_by_seed[seed] = held_out(model, pre, list(poses.values()))
        apply_s = time.perf_counter() - t0
        mirror = {p.name: encode_session(model, pre, mirror_poses(p, pre.skeleton))["motif"] for p in poses.values()}
        out["seeds"][seed] = {"top": label_scores(codes, labels, 20.0, "top"), "motif": label_scores(codes, labels, 20.0, "motif"),
                              "motif_sides_merged": sides_merged({n: c["motif"] for n, c in codes.items()}, mirror, labels, model.n_motifs),
                              "mpjpe": encoder_mpjpe(model, pre, list(poses.values())), "n_top": model.n_top,
                              "n_motifs": model.n_motifs, "code_frames": model.downsample,
                              "apply_frames_per_s": sum(len(p.position) for p in poses.values()) / apply_s}
        print(f"  seed {seed}: {json.dumps(out['seeds'][seed]['top'])} mpjpe {out['seeds'][seed]['mpjpe']:.3f}", flush=True)
        if seed == a.seeds[0]: first = (model, pre, ckpt)
    model, pre, ckpt = first
    out["ari_top"] = _seed_ari(codes_by_seed, "top")
    out["ari_motif"] = _seed_ari(codes_by_seed, "motif")
    out["baselines"] = subtle_baselines(pre, train_poses, poses, labels, model.n_top, model.n_motifs, model.downsample, a)
    out["checkpoint"] = str(ckpt)
    return out


def _seed_ari(codes_by_seed: dict, level: str) -> float | None:
    seeds = list(codes_by_seed)
    if len(seeds) < 2: return None
    x, y = (np.concatenate([codes_by_seed[s][n][level] for n in HELD_OUT]) for s in seeds[:2])
    ok = (x >= 0) & (y >= 0)
    return ari(contingency(x[ok], y[ok]))


def subtle_baselines(pre, train_poses, poses, labels, n_top, n_motifs, frames_per_code, a) -> dict:
    out = {}
    for name, make in (("kmeans_pose_velocity", PoseVelocityKMeans), ("spectrogram_umap", SpectrogramUMAP)):
        t0 = time.perf_counter()
        res = {}
        for level, k in (("top", n_top), ("motif", n_motifs)):
            model = make(pre, k, seed=0).fit(train_poses)
            codes = {n: {level: model.predict(p)} for n, p in poses.items()}
            res[level] = label_scores(codes, labels, 20.0, level)
            if level == "motif":
                res["motif_sides_merged"] = sides_merged({n: c["motif"] for n, c in codes.items()},
                                                         {n: model.predict(mirror_poses(p, pre.skeleton)) for n, p in poses.items()}, labels, k)
        out[name] = {**res, "seconds": time.perf_counter() - t0}
        print(f"  {name}: top {res['top']['nmi']:.3f} motif {res['motif']['nmi']:.3f}", flush=True)
    out["block_kmeans_mpjpe"] = block_kmeans_mpjpe(pre, train_poses, list(poses.values()), n_motifs, frames_per_code)
    out["keypoint_moseq"] = keypoint_moseq(labels, n_top, n_motifs)
    return out


def most_used(seqs: dict, k: int) -> dict:
    "Each sequence with its k - 1 most used values (over all sequences) kept and every other value merged into one."
    allv = np.concatenate(list(seqs.values()))
    keep = np.argsort(-np.bincount(allv), kind="stable")[:k - 1]
    lut = np.full(allv.max() + 1, k - 1)
    lut[keep] = np.arange(len(keep))
    return {n: lut[s] for n, s in seqs.items()}


def keypoint_moseq(labels: dict, n_top: int, n_motifs: int) -> dict | str:
    """keypoint-MoSeq's held-out syllables scored like every other method: all its syllables, and its n - 1 most used
    plus the rest merged at the model's numbers of codes. `benchmarks/kpms.py` fits and applies it in its own
    environment and writes results/kpms.json; without that file this part says why it is missing."""
    path = RESULTS / "kpms.json"
    if not path.exists(): return "not run: an optional extra in its own environment (benchmarks/kpms.py writes results/kpms.json)"
    meta = json.loads(path.read_text())
    if not (path.parent / meta["syllables_file"]).exists(): return f"not scored: {path.parent / meta['syllables_file']} is missing; re-run benchmarks/kpms.py"
    z = np.load(path.parent / meta["syllables_file"])
    if meta["held_out"] != list(labels) or any(len(z[n]) != len(labels[n]) for n in labels):
        return f"not scored: {path} holds other held-out frames; re-run benchmarks/kpms.py"
    syll = {n: z[n].astype(np.int64) for n in labels}
    out = {"all": label_scores({n: {"all": s} for n, s in syll.items()}, labels, 20.0, "all")}
    for level, k in (("top", n_top), ("motif", n_motifs)):
        out[level] = label_scores({n: {level: s} for n, s in most_used(syll, k).items()}, labels, 20.0, level)
    keys = ("n_syllables_used", "n_syllables_over_1pct", "fit_seconds", "apply_seconds", "apply_frames_per_s", "train_frames",
            "held_out_frames", "settings", "when")
    return {**out, **{k: meta[k] for k in keys}}


def bandai(root: Path, a) -> dict:
    files = sorted(BANDAI.glob("*.bvh"))
    action = {f.stem: f.stem.split("_")[1] for f in files}
    rng = np.random.default_rng(0)
    test = []
    for act in sorted(set(action.values())):                      # a quarter of each action's clips held out
        clips = [f for f in files if action[f.stem] == act]
        test += list(rng.choice(clips, max(1, len(clips) // 4), replace=False))
    train_files = [f for f in files if f not in test]
    dataset = {**load_yaml(CONFIG_DIR / "dataset" / "bandai_human.yaml"), "paths": [str(f) for f in train_files]}
    held = load_poses(test, skeleton="bandai_human", fps=30)
    names = sorted(set(action.values()))
    y = np.array([names.index(action[p.name]) for p in held])
    out = {"n_train_clips": len(train_files), "n_test_clips": len(held), "seeds": {}, "kmeans_seeds": {}}
    train_poses = load_poses(train_files, skeleton="bandai_human", fps=30)
    for seed in a.seeds:      # one training per seed (a clip-level NMI varies a lot between them), k-means beside each
        model, pre, _, _ = load_model(train(root, f"bandai_s{seed}", dataset, seed, a))
        codes = held_out(model, pre, held)
        out["seeds"][seed] = clip_scores([codes[p.name]["top"] for p in held], [codes[p.name]["motif"] for p in held],
                                         y, model.n_top, model.n_motifs)
        km_top = PoseVelocityKMeans(pre, model.n_top, seed=seed).fit(train_poses)   # the seed's own features and init
        km_motif = PoseVelocityKMeans(pre, model.n_motifs, seed=seed).fit(train_poses)
        out["kmeans_seeds"][seed] = clip_scores([km_top.predict(p) for p in held], [km_motif.predict(p) for p in held], y,
                                                model.n_top, model.n_motifs)
    out["kmeans_pose_velocity"] = {k: float(np.mean([v[k] for v in out["kmeans_seeds"].values()]))
                                   for k in ("nmi_majority_top", "nmi_motif_histogram")}
    out["n_top"], out["nmi_ceiling_top"] = model.n_top, nmi_ceiling(y, model.n_top)   # no n_top-code labelling does better
    return out


def clip_scores(top: list, motif: list, y: np.ndarray, n_top: int, n_motifs: int) -> dict:
    "NMI with the action of each clip's majority top code, and of k-means clusters (17) of its motif histogram."
    from sklearn.cluster import KMeans
    maj = np.array([np.bincount(t[t >= 0], minlength=n_top).argmax() if (t >= 0).any() else -1 for t in top])
    hist = np.stack([np.bincount(m[m >= 0], minlength=n_motifs) / max(1, (m >= 0).sum()) for m in motif])
    groups = KMeans(len(set(y)), n_init=10, random_state=0).fit_predict(hist)
    return {"nmi_majority_top": nmi(contingency(y, maj)), "nmi_motif_histogram": nmi(contingency(y, groups))}


def mouse34(root: Path, a) -> dict:
    out = {"seeds": {}}
    for seed in a.seeds:
        ckpt = train(root, f"mouse34_s{seed}", "configs/dataset/mouse34.yaml", seed, a)
        model, pre, _, ck = load_model(ckpt)
        poses, splits = training_sessions(ck)
        tr, te = [p for p in poses if splits[p.name] == "train"], [p for p in poses if splits[p.name] == "val"]
        out["seeds"][seed] = {"mpjpe": encoder_mpjpe(model, pre, te),
                              "block_kmeans_mpjpe": block_kmeans_mpjpe(pre, tr, te, model.n_motifs, model.downsample)}
    return out


def gpt(root: Path, a, subtle_result: dict) -> dict:
    from vqmap_nb.generate import sample_motifs
    from vqmap_nb.gpt import Bigram, Trigram, sequence_nll
    from vqmap_nb.tasks import cached_codes, split_valid
    vq_ckpt = Path(subtle_result["checkpoint"])
    cfg = load_config(CONFIG_DIR / "base" / "gpt.yaml", [f"expdir={root / 'gpt'}", f"model.vqvae_checkpoint={vq_ckpt}",
                                                       "train.progress=false", *a.gpt_set])
    run_training(cfg)
    g, _, _, _ = load_model(root / "gpt" / "checkpoints" / "best.pt")
    vq, pre, _, _ = load_model(vq_ckpt)
    train_codes = [c.numpy() for c in cached_codes(vq_ckpt, root / "gpt" / "codes_cache.pt")["train"]]
    held = [load_poses(SUBTLE / f"{n}.npz", skeleton="subtle_mouse9", fps=20)[0] for n in HELD_OUT]
    real = [s for p in held for s in split_valid(encode_session(vq, pre, p)["motif"][::vq.downsample])]
    T, V = g.cfg.block_size - 1, vq.n_motifs
    bi, tri = Bigram(V).fit(train_codes, window=T), Trigram(V).fit(train_codes, window=T)
    n_codes = sum(len(s) for s in real)
    gen = list(sample_motifs(g, max(8, n_codes // T), T, seed=0))
    return {"nll_gpt": sequence_nll(g, real), "nll_bigram": bi.nll(real, T), "nll_trigram": tri.nll(real, T),
            "usage_kl": usage_kl(real, gen, V), "transition_kl": transition_kl(real, gen, V), "n_held_out_codes": n_codes}


# ---------------------------------------------------------------- summary

def targets(r: dict) -> dict:
    "Each target of the issue: the figure, its threshold, and whether it is met."
    out = {}
    s = r.get("subtle")
    if s:
        mean = lambda level, k: float(np.mean([v[level][k] for v in s["seeds"].values()]))
        km, sp = s["baselines"]["kmeans_pose_velocity"], s["baselines"]["spectrogram_umap"]
        for level in ("top", "motif"):
            out[f"subtle_{level}_nmi_vs_kmeans"] = _t(mean(level, "nmi"), 1.25 * km[level]["nmi"], f">= 1.25 x k-means ({km[level]['nmi']:.3f})")
            out[f"subtle_{level}_nmi_vs_spectrogram"] = _t(mean(level, "nmi"), sp[level]["nmi"], f">= spectrogram-UMAP ({sp[level]['nmi']:.3f})")
        med = float(np.mean([v["top"]["bout_s"][1] for v in s["seeds"].values()]))
        lab = s["label_bouts_s"][1]
        out["subtle_median_bout"] = {"value": med, "target": f"within 2x of the labelled median ({lab:.2f} s)",
                                     "met": lab / 2 <= med <= 2 * lab}
        mp = float(np.mean([v["mpjpe"] for v in s["seeds"].values()]))
        out["subtle_mpjpe"] = _t(-mp, -s["baselines"]["block_kmeans_mpjpe"], f"< block k-means ({s['baselines']['block_kmeans_mpjpe']:.3f})", mp)
        if s.get("ari_top") is not None: out["subtle_seed_ari_top"] = _t(s["ari_top"], 0.7, ">= 0.7")
    m = r.get("mouse34")
    if m:
        mp, km = (float(np.mean([v[k] for v in m["seeds"].values()])) for k in ("mpjpe", "block_kmeans_mpjpe"))
        out["mouse34_mpjpe"] = _t(-mp, -km, f"< block k-means ({km:.3f})", mp)
    b = r.get("bandai")
    if b:
        v = float(np.mean([x["nmi_majority_top"] for x in b["seeds"].values()]))
        out["bandai_action_nmi"] = _t(v, 1.25 * b["kmeans_pose_velocity"]["nmi_majority_top"],
                                      f">= 1.25 x k-means ({b['kmeans_pose_velocity']['nmi_majority_top']:.3f})"
                                      + (f"; no labelling with this many codes exceeds {b['nmi_ceiling_top']:.3f}"
                                         if "nmi_ceiling_top" in b else ""))
    return out


def report(r: dict) -> str:
    "The results as tables: agreement with expert labels on held-out mice, reconstruction, stability, the targets."
    out = []
    s = r.get("subtle")
    if s:
        seeds = list(s["seeds"])
        mean = lambda level, k: float(np.mean([s["seeds"][x][level][k] for x in seeds]))
        fmt_b = lambda b: f"{b[1]:.2f} ({b[0]:.2f}-{b[2]:.2f})"
        hc = lambda d: tuple(f"{d[k]:.3f}" if k in d else "" for k in ("homogeneity", "completeness"))

        def row(name: str, d: dict, bouts) -> tuple:      # d: one labelling's scores (for the model, the seeds' means)
            return (name, f"{d['nmi']:.3f}", *hc(d), f"{d['purity']:.3f}", fmt_b(bouts), f"{d['boundary_f1']:.3f}")
        first = s["seeds"][seeds[0]]
        means = {level: {k: mean(level, k) for k in first[level] if k != "bout_s" and all(k in v[level] for v in s["seeds"].values())}
                 for level in ("top", "motif")}
        rows = [row(f"VQ-VAE, top codes ({first['n_top']}), mean of {len(seeds)} seeds", means["top"], first["top"]["bout_s"]),
                row(f"VQ-VAE, motifs ({first['n_motifs']})", means["motif"], first["motif"]["bout_s"])]
        for name, label in (("kmeans_pose_velocity", "k-means, pose + velocity"), ("spectrogram_umap", "spectrogram-UMAP")):
            b = s["baselines"][name]
            rows += [row(f"{label}, {level} (as many clusters)", b[level], b[level]["bout_s"]) for level in ("top", "motif")]
        km = s["baselines"].get("keypoint_moseq")
        if isinstance(km, dict):
            for level, label in (("top", "n - 1 most used + the rest"), ("motif", "n - 1 most used + the rest"),
                                 ("all", f"all {km['n_syllables_used']} syllables")):
                rows.append(row(f"keypoint-MoSeq, {level if level != 'all' else 'syllables'} ({label})", km[level], km[level]["bout_s"]))
        rows.append(("expert labels", "", "", "", "", fmt_b(s["label_bouts_s"]), ""))
        out.append(table(rows, ("SUBTLE mice, 4 held-out labelled animals", "NMI", "homogeneity", "completeness", "purity",
                                "bout s, median (IQR)", "boundary F1 ±0.2 s")))
        if isinstance(km, dict) and all("apply_frames_per_s" in v for v in s["seeds"].values()):
            ours = float(np.mean([v["apply_frames_per_s"] for v in s["seeds"].values()]))
            st = km["settings"]
            out.append(f"Coding the held-out animals ({km['held_out_frames']:,} frames, one CPU thread each): the VQ-VAE "
                       f"{ours:,.0f} frames/s (features included, mean of {len(seeds)} seeds), keypoint-MoSeq "
                       f"{km['apply_frames_per_s']:,.0f} frames/s ({st['apply_iters']} Gibbs sweeps, JIT included): "
                       f"**{ours / km['apply_frames_per_s']:,.0f}x**. keypoint-MoSeq {st.get('version', '')} fit: "
                       f"{km['fit_seconds'] / 60:.0f} min on {km['train_frames']:,} frames ({st['ar_iters']} AR-HMM + "
                       f"{st['full_iters']} full-model sweeps, kappa {st['kappa_ar']:.0e} / {st['kappa_full']:.0e}, latent dim "
                       f"{st['latent_dim']}); {km['n_syllables_used']} syllables used on the held-out animals, "
                       f"{km['n_syllables_over_1pct']} above 1 % of frames ({km['when']}).")
        sides = [(f"VQ-VAE motifs, mean of {len(seeds)} seeds", *(np.mean([s["seeds"][x]["motif_sides_merged"][k] for x in seeds]) for k in
                                                                 ("changes_under_mirror", "n_groups", "nmi")))]
        sides += [(label, *(s["baselines"][name]["motif_sides_merged"][k] for k in ("changes_under_mirror", "n_groups", "nmi")))
                  for name, label in (("kmeans_pose_velocity", "k-means, pose + velocity"), ("spectrogram_umap", "spectrogram-UMAP"))
                  if "motif_sides_merged" in s["baselines"][name]]
        if all("motif_sides_merged" in v for v in s["seeds"].values()):
            out.append(table([(n, f"{c:.0%}", f"{g:g}", f"{v:.3f}") for n, c, g, v in sides],
                             (f"left / right, {s['seeds'][seeds[0]]['n_motifs']} codes", "labelled frames whose code changes when mirrored",
                              "groups after merging mirror partners", "NMI of the groups")))
    tg = r.get("targets", {})
    if tg:
        out.append(table([(k, f"{v['value']:.3f}", v["target"], "met" if v["met"] else "**not met**") for k, v in tg.items()],
                         ("target", "value", "threshold", "")))
    g = r.get("gpt")
    if g:
        out.append(table([("held-out NLL per code, GPT / bigram / trigram (nats)", f"{g['nll_gpt']:.3f} / {g['nll_bigram']:.3f} / {g['nll_trigram']:.3f}"),
                          ("usage KL / transition KL, generated vs held-out real (nats)", f"{g['usage_kl']:.3f} / {g['transition_kl']:.3f}"),
                          ("held-out codes", f"{g['n_held_out_codes']:,}")], ("GPT prior on the SUBTLE model's codes", "value")))
    return "\n\n".join(out)


def _t(value, threshold, target: str, shown=None) -> dict:
    return {"value": float(value if shown is None else shown), "target": target, "met": bool(value >= threshold)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", default=["subtle", "mouse34", "bandai", "gpt"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--steps", type=int, default=None, help="optimizer steps of every VQ-VAE (default: the config's budget)")
    p.add_argument("--set", nargs="*", default=[], help="overrides of every VQ-VAE run, e.g. model.n_top=6")
    p.add_argument("--gpt-set", nargs="*", default=[], help="overrides of the GPT run")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(RESULTS / "real.json"))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if not SUBTLE.exists(): raise SystemExit(f"{SUBTLE}: not found (real recordings live in ../shared/data)")
    t0, r = time.perf_counter(), {}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for part in ("subtle", "mouse34", "bandai"):
            if part in a.parts:
                print(f"{part}:", flush=True)
                torch.set_num_threads(a.threads)
                r[part] = globals()[part](root, a)
        if "gpt" in a.parts and "subtle" in r:
            print("gpt:", flush=True)
            torch.set_num_threads(a.threads)
            r["gpt"] = gpt(root, a, r["subtle"])
    r["targets"] = targets(r)
    print(report(r))
    r.update(settings={"parts": a.parts, "seeds": a.seeds, "steps": a.steps, "set": a.set, "gpt_set": a.gpt_set, "threads": a.threads},
             seconds=time.perf_counter() - t0, machine=machine(), when=time.strftime("%Y-%m-%d"),
             config={"model": load_config(CONFIG_DIR / "base" / "vqvae.yaml")["model"]})
    if "subtle" in r: r["subtle"].pop("checkpoint", None)
    write_json(r, a.out)
    print(f"wrote {a.out} in {r['seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
