"""What limits the motifs' agreement with an expert: sticky decoding, and the leaves re-drawn in other spaces.

    python benchmarks/motif_limits.py                            # trains the default on SUBTLE, seeds 0 and 1, one after the other (~18 min each)
    python benchmarks/motif_limits.py --ckpt A/best.pt B/best.pt # analyse trained SUBTLE checkpoints instead (~4 min)
    python benchmarks/motif_limits.py --steps 20 --out /tmp/motif_limits.json    # a smoke run

Both parts use `real.py`'s split: the models are trained on the 9 unlabelled y3a6 mice and scored on the 4 labelled y5a5
mice, which they never saw.

1. **Sticky decoding.** The encoder gives each 0.2 s step its nearest top code and, within it, its nearest leaf, so the
   motifs can change at every step; keypoint-MoSeq makes its syllables sticky on purpose. Here the trained models decode
   the held-out mice by Viterbi instead: the top path minimises the sum of each step's squared distance to its code plus
   `lam_top` per change of code, then the leaf path does the same within the chosen top codes with `lam_leaf`. Distances
   are in units of the median distance of a latent to its nearest code (per level, over the held-out steps). Row (0, 0) is
   the encoder's own decoding. For each penalty: NMI of top codes and motifs with the labels, median bouts, MPJPE of the
   decoded codes (whole recordings decoded in one pass; valid frames) and ARI between the two trainings.
2. **Leaves re-drawn.** Keep each step's top code and split each top code's steps into `n_bottom` clusters (k-means
   fitted on the training mice) in three spaces of the same trained encoder: the leaf latent itself (what the leaves
   quantize: a control that should land near the model's own motifs), its mirror-invariant view `[even, |odd|]` of the
   latents of the window and its mirror (subtypes that cannot be sides), and the 1 s mirror-invariant view the top level
   reads (subtypes of the behavioural context); and, outside the encoder, the step's mean egocentric pose and velocity
   (the k-means baseline's features, standardised). Motif NMI with the labels of each, mean over the models. These
   partitions need not reconstruct anything: they bound what re-drawing the leaves of this encoder could give.
Results: benchmarks/results/motif_limits.json.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import types
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real  # noqa: E402
from common import RESULTS, machine, table, write_json  # noqa: E402

from vqmap_nb.config import load_yaml  # noqa: E402
from vqmap_nb.core import CONFIG_DIR  # noqa: E402
from vqmap_nb.data.io import load_poses  # noqa: E402
from vqmap_nb.encode import frame_codes, pad_to_multiple  # noqa: E402
from vqmap_nb.metrics import ari, contingency, nmi, pose_errors  # noqa: E402
from vqmap_nb.quantizer import sq_distances  # noqa: E402
from vqmap_nb.train import load_model  # noqa: E402
from vqmap_nb.vqvae import mirror_invariant  # noqa: E402

MODEL_YAML = CONFIG_DIR / "model" / "vqvae.yaml"
PENALTIES = [(0, 0), (0.5, 0), (1, 0), (2, 0), (4, 0), (0, 0.5), (0, 1), (0, 2), (1, 0.5), (2, 1)]
SPACES = {"leaf": "leaf latent (control)", "leaf_mirror_invariant": "leaf latent, mirror-invariant",
          "top_view": "1 s top view, mirror-invariant", "pose_velocity": "pose + velocity (step means, standardised)"}


# ---------------------------------------------------------------- the encoder's spaces

@torch.no_grad()
def steps(model, pre, p) -> dict:
    "One recording's per-step latents in each space, squared distances to the top codes and to the leaves, features."
    f, v = pre.features(p, check=False)
    x = pad_to_multiple(torch.as_tensor(f).float().nan_to_num(), model.downsample, pre.window)[None]
    ad, bn = model.adapter, model.bottleneck
    z, z_top = model._encode(x, ad)                               # (1, L, D), (1, L, D_top)
    zm = model.encoder(ad.inp(ad.mirror(x)))                      # latents of the mirrored window
    L, ds = z.shape[1], model.downsample
    fs = x[0, :L * ds].reshape(L, ds, -1).numpy()                 # (L, ds, F) each step's frames
    return {"leaf": z[0].numpy(), "leaf_mirror_invariant": mirror_invariant(z, zm)[0].numpy(), "top_view": z_top[0].numpy(),
            "pose_velocity": np.concatenate([fs.mean(1), np.diff(fs, axis=1).mean(1)], 1),
            "d_top": sq_distances(z_top[0], bn.top.codebook).numpy(), "d_leaf": sq_distances(z[0], bn.bottom.codebook).numpy(),
            "features": f, "valid": v}


# ---------------------------------------------------------------- 1. sticky decoding

def viterbi(cost: np.ndarray, lam: float) -> np.ndarray:
    "(L, K) costs (inf = not allowed) -> (L,) the path minimising summed cost plus `lam` per change."
    L, K = cost.shape
    acc, back = cost[0].copy(), np.zeros((L, K), np.int64)
    for t in range(1, L):
        best = int(acc.argmin())
        stay = acc <= acc[best] + lam
        back[t] = np.where(stay, np.arange(K), best)
        acc = np.where(stay, acc, acc[best] + lam) + cost[t]
    path = np.empty(L, np.int64)
    path[-1] = acc.argmin()
    for t in range(L - 1, 0, -1): path[t - 1] = back[t, path[t]]
    return path


def decode(model, S: dict, lam_top: float, lam_leaf: float) -> dict:
    "{name: (top, motif) per step} by the two Viterbi passes (penalties in units of the median nearest distance)."
    st = np.median(np.concatenate([s["d_top"] for s in S.values()]).min(1))
    sl = np.median(np.concatenate([s["d_leaf"] for s in S.values()]).min(1))
    owner = np.arange(model.n_motifs) // model.n_bottom               # top code of each leaf
    out = {}
    for n, s in S.items():
        top = viterbi(s["d_top"] / st, lam_top)
        out[n] = (top, viterbi(np.where(owner[None] == top[:, None], s["d_leaf"] / sl, np.inf), lam_leaf))
    return out


@torch.no_grad()
def score(model, pre, S: dict, paths: dict, labels: dict) -> tuple[dict, dict]:
    "Label agreement, bouts and MPJPE of decoded steps; also their frame codes {name: (top, motif)}."
    fr, err, n_ok = {}, 0.0, 0
    for n, (top, motif) in paths.items():
        f, v = S[n]["features"], S[n]["valid"]
        fr[n] = tuple(frame_codes(s, model.downsample, len(f), v) for s in (top, motif))
        rec = model.decode_indices(torch.as_tensor(motif // model.n_bottom)[None], torch.as_tensor(motif % model.n_bottom)[None])
        rec = rec[0].numpy()[:len(f)]
        e = pose_errors(pre.to_positions(f[v][None]), pre.to_positions(rec[v][None]))["mpjpe"]
        err, n_ok = err + e * v.sum(), n_ok + v.sum()
    out = {}
    for i, level in enumerate(("top", "motif")):
        out[f"{level}_nmi"] = _nmi(labels, {n: c[i] for n, c in fr.items()})
        out[f"{level}_median_bout_s"] = real.bouts_s([fr[n][i] for n in paths], 20.0)[1]
    out["mpjpe"] = err / n_ok
    return out, fr


def _nmi(labels: dict, codes: dict) -> float:
    return nmi(contingency(np.concatenate([labels[n] for n in codes]), np.concatenate([codes[n] for n in codes])))


def sticky(models, held: list, labels: dict) -> list:
    "One row per penalty pair: means over the models, and the ARI between the first two."
    rows = []
    for lt, ll in PENALTIES:
        scores, frames = zip(*(score(m, pre, S, decode(m, S, lt, ll), labels) for (m, pre), S in zip(models, held)))
        row = {"lam_top": lt, "lam_leaf": ll, **{k: float(np.mean([s[k] for s in scores])) for k in scores[0]}}
        if len(frames) > 1:
            for i, level in enumerate(("top", "motif")):
                u, w = (np.concatenate([f[n][i] for n in labels]) for f in frames[:2])
                ok = (u >= 0) & (w >= 0)
                row[f"seed_ari_{level}"] = ari(contingency(u[ok], w[ok]))
        rows.append(row)
        print(row, flush=True)
    return rows


# ---------------------------------------------------------------- 2. leaves re-drawn

def redrawn(model, train: list, held: dict, labels: dict, seed: int = 0) -> dict:
    "{space: motif NMI} of the top codes split into n_bottom k-means clusters per top code in each space."
    top_train = np.concatenate([s["d_top"].argmin(1) for s in train])
    out = {}
    for space in SPACES:
        X = np.concatenate([s[space] for s in train])
        mu, sd = X.mean(0), X.std(0) + 1e-9
        X = (X - mu) / sd if space == "pose_velocity" else X
        km = {t: KMeans(model.n_bottom, n_init=4, random_state=seed).fit(X[top_train == t])
              for t in range(model.n_top) if (top_train == t).sum() >= model.n_bottom}
        codes = {}
        for n, s in held.items():
            top, sub = s["d_top"].argmin(1), np.zeros(len(s[space]), np.int64)
            for t, k in km.items():
                x = (s[space] - mu) / sd if space == "pose_velocity" else s[space]
                if (top == t).any(): sub[top == t] = k.predict(x[top == t])
            codes[n] = frame_codes(top * model.n_bottom + sub, model.downsample, len(s["features"]), s["valid"])
        out[space] = _nmi(labels, codes)
    return out


# ---------------------------------------------------------------- run and report

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", nargs="*", default=None, help="trained SUBTLE checkpoints (default: train seeds 0 and 1)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps of each training (default: the config's budget)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(RESULTS / "motif_limits.json"))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if not real.SUBTLE.exists(): raise SystemExit(f"{real.SUBTLE}: not found (real recordings live in ../shared/data)")
    t0 = time.perf_counter()
    poses = {n: load_poses(real.SUBTLE / f"{n}.npz", skeleton="subtle_mouse9", fps=20)[0] for n in real.HELD_OUT}
    labels = {n: p.meta["labels"] for n, p in poses.items()}
    train_poses = load_poses(sorted(real.SUBTLE.glob("y3a6_*.npz")), skeleton="subtle_mouse9", fps=20)
    with tempfile.TemporaryDirectory() as d:
        ta = types.SimpleNamespace(steps=a.steps, set=[], threads=a.threads)
        ckpts = a.ckpt or [real.train(Path(d), f"subtle_s{s}", "configs/dataset/subtle_mouse.yaml", s, ta) for s in (0, 1)]
        models = [load_model(c)[:2] for c in ckpts]
    held = [{n: steps(m, pre, p) for n, p in poses.items()} for m, pre in models]
    r = {"sticky": sticky(models, held, labels)}
    per_model = []
    for (m, pre), S in zip(models, held):
        per_model.append(redrawn(m, [steps(m, pre, p) for p in train_poses], S, labels))
        print(per_model[-1], flush=True)
    r["redrawn"] = {k: float(np.mean([x[k] for x in per_model])) for k in SPACES}
    r["redrawn_per_model"] = per_model
    r.update(n_models=len(models), seconds=time.perf_counter() - t0, machine=machine(), when=time.strftime("%Y-%m-%d"),
             trained_here=a.ckpt is None, steps=a.steps,
             config={"model": {k: v for k, v in asdict(models[0][0].cfg).items() if k in load_yaml(MODEL_YAML)}})
    print(report(r))
    write_json(r, a.out)
    print(f"wrote {a.out}")


def report(r: dict, kmeans_motif_nmi: float | None = None) -> str:
    "Markdown tables: the sticky penalties, then the re-drawn leaves (with 1.25 x k-means when given)."
    f = lambda x: "" if x is None else f"{x:.3f}"
    sticky_t = table([(x["lam_top"], x["lam_leaf"], f(x["top_nmi"]), f(x["motif_nmi"]), f"{x['top_median_bout_s']:.2f}",
                       f"{x['motif_median_bout_s']:.2f}", f(x["mpjpe"]), f(x.get("seed_ari_top")), f(x.get("seed_ari_motif")))
                      for x in r["sticky"]],
                     header=("penalty top", "penalty leaf", "top NMI", "motif NMI", "top bout (s)", "motif bout (s)",
                             "MPJPE (cm)", "seed ARI top", "seed ARI motif"))
    rows = [(SPACES[k], f(v)) for k, v in r["redrawn"].items()]
    if kmeans_motif_nmi is not None: rows.append(("target: 1.25 x k-means on pose + velocity", f(1.25 * kmeans_motif_nmi)))
    return sticky_t + "\n\n" + table(rows, header=("leaves re-drawn per top code in", "motif NMI"))


if __name__ == "__main__":
    main()
