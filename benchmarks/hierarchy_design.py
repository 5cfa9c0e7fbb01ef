"""Which two-level bottleneck recovers the synthetic behaviour hierarchy best?

Trains HVQVAE with each `hierarchy` design on simulated synth_rat sessions and scores the codes of held-out
sessions (different seeds) against the ground-truth labels:

- top NMI: normalized mutual information of top codes vs the true top category;
- sub NMI: within each true top category that has subtypes, NMI of the motif id (top, bottom) vs the true subtype,
  averaged with weights = number of codes; bottom|top NMI: within each *top code*, NMI of the bottom code vs the
  true (category, subtype) label - does the bottom code split what its top code holds?
- fine NMI: motif id vs the 12 (category, subtype) labels;
- usage: fraction of top codes / motifs used on held-out data; mirror: fraction of codes whose top code is
  unchanged when the window is mirrored;
- k-means baselines on the same code-length segments (flattened frames): n_top clusters for the top level,
  n_top * n_bottom clusters for the motif level; and a ceiling for the subtype level, k-means with n_bottom clusters
  inside each *true* category (what clustering these segments can reach when the top level is perfect).

Model sizes, the code length and the feature weighting default to configs/model/vqvae.yaml and
configs/dataset/synthetic.yaml, so the default run measures the default model.

Each code covers `downsample` frames; its label is the majority frame label of that span.

    python benchmarks/hierarchy_design.py --epochs 20 --designs tree residual channels
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi

from vqmap_nb.config import load_yaml
from vqmap_nb.core import CONFIG_DIR, seed_everything
from vqmap_nb.data.preprocess import Preprocessor, WindowDataset, augment
from vqmap_nb.data.skeleton import load_skeleton
from vqmap_nb.data.synthetic import make_dataset
from vqmap_nb.vqvae import build_model


def build_data(n_train, n_test, seconds, window, stride, global_weight=1.0):
    "Fitted preprocessor, training windows, held-out windows with per-frame (top, fine) labels."
    train, test = make_dataset(n_train, seed=0, seconds=seconds), make_dataset(n_test, seed=1000, seconds=seconds)
    pre = Preprocessor(load_skeleton("synth_rat"), window=window, stride=stride, global_weight=global_weight).fit(train)
    return pre, _windows(pre, train, window, stride), _windows(pre, test, window, window)


def _windows(pre, poses, window, stride):
    "WindowDataset with frame labels (top, fine = global subtype id) attached as `frame_labels`."
    fv = [pre.features(p) for p in poses]
    ds = WindowDataset([f for f, _ in fv], [v for _, v in fv], window, stride)
    ds.frame_labels = [np.stack([p.meta["labels_top"], _fine(p)], -1) for p in poses]  # (T, 2) each
    return ds


def _fine(p):
    "Global subtype id from (top, bottom-within-top)."
    n_sub = [len(v) for v in p.meta["label_names"]["bottom"].values()]
    offs = np.concatenate([[0], np.cumsum(n_sub)[:-1]])
    return offs[p.meta["labels_top"]] + p.meta["labels_bottom"]


def code_labels(ds, downsample):
    "(N*L, 2) majority (top, fine) labels of each code span of every window of `ds`."
    labs = []
    for (s, start) in ds.starts:
        seg = ds.frame_labels[s][start:start + ds.window].reshape(-1, downsample, 2)  # (L, ds, 2)
        labs.append([[np.bincount(c[:, j]).argmax() for j in range(2)] for c in seg])
    return np.concatenate(labs)


def segments(ds, downsample):
    "(N*L, downsample*F) flattened code-length segments for k-means."
    x = torch.cat(list(ds.batches(4096, shuffle=False)))  # (N, T, F)
    return x.reshape(-1, downsample * x.shape[-1]).numpy()


def train(model, pre, ds, epochs, lr, batch, mirror):
    "Adam training with mirror augmentation; returns seconds per epoch."
    opt = torch.optim.AdamW(model.parameters(), lr)
    gen = torch.Generator().manual_seed(0)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        for x in ds.batches(batch, generator=gen, drop_last=True):
            x = augment(x, pre, mirror=0.5, generator=gen)
            out = model(x, x_mirror=pre.mirror_features(x) if mirror else None)
            opt.zero_grad(); out.loss.backward(); opt.step()
        print(f"  epoch {ep} loss {out.loss.item():.3f} recon {out.losses['recon'].item():.3f} "
              f"ppl top {out.top.perplexity.item():.1f} bottom {out.bottom.perplexity.item():.1f}", flush=True)
    return (time.time() - t0) / epochs


def weighted_nmi(target, pred, groups):
    "Mean over groups (weighted by size) of NMI(target, pred) inside each group where target varies."
    parts = [((g := groups == k).sum(), nmi(target[g], pred[g])) for k in np.unique(groups)
             if len(np.unique(target[groups == k])) > 1]
    return sum(n * v for n, v in parts) / max(sum(n for n, _ in parts), 1)


def scores(top, motif, bottom, labels, n_top, n_motifs):
    "NMI table for predicted top / motif ids against (top, fine) labels."
    true_top, fine = labels[:, 0], labels[:, 1]
    return dict(top_nmi=nmi(true_top, top), sub_nmi=weighted_nmi(fine, motif, true_top), fine_nmi=nmi(fine, motif),
                bottom_given_top_nmi=weighted_nmi(fine, bottom, top) if bottom is not None else float("nan"),
                top_used=len(np.unique(top)) / n_top, motifs_used=len(np.unique(motif)) / n_motifs)


@torch.no_grad()
def evaluate(model, pre, ds):
    "Codes of held-out windows, their scores, and mirror agreement of the top code."
    model.eval()
    x = torch.cat(list(ds.batches(1024, shuffle=False)))
    top, bottom = (i.reshape(-1).numpy() for i in model.encode(x))
    mtop = model.encode(pre.mirror_features(x))[0].reshape(-1).numpy()
    res = scores(top, top * model.n_bottom + bottom, bottom, code_labels(ds, model.downsample), model.n_top, model.n_motifs)
    bcodes = model.bottleneck.bottom.n_total
    used_b = len(np.unique(top * model.n_bottom + bottom if bcodes > model.n_bottom else bottom)) / bcodes
    return dict(res, bottom_used=used_b, mirror_top_agree=float((top == mtop).mean()))


def kmeans_baseline(tr, te, downsample, n_top, n_bottom):
    "k-means on flattened code-length segments (fit on train, predict held-out); and the oracle-top subtype ceiling."
    xtr, xte, lab = segments(tr, downsample), segments(te, downsample), code_labels(te, downsample)
    n_motifs = n_top * n_bottom
    top = KMeans(n_top, n_init=3, random_state=0).fit(xtr).predict(xte)
    motif = KMeans(n_motifs, n_init=3, random_state=0).fit(xtr).predict(xte)
    ltr, inside = code_labels(tr, downsample), np.zeros(len(xte), int)
    for c in np.unique(lab[:, 0]):  # n_bottom clusters inside each true category
        km = KMeans(n_bottom, n_init=3, random_state=0).fit(xtr[ltr[:, 0] == c])
        inside[lab[:, 0] == c] = c * n_bottom + km.predict(xte[lab[:, 0] == c])
    ceiling = scores(lab[:, 0], inside, None, lab, n_top, n_motifs)
    return scores(top, motif, None, lab, n_top, n_motifs), dict(sub_nmi=ceiling["sub_nmi"])


def main(argv=None):
    m = load_yaml(CONFIG_DIR / "model" / "vqvae.yaml")
    gw = load_yaml(CONFIG_DIR / "dataset" / "synthetic.yaml")["preprocess"]["global_weight"]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", nargs="+", default=["tree", "residual", "channels"])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--n-train", type=int, default=8); ap.add_argument("--n-test", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--width", type=int, default=m["width"]); ap.add_argument("--depth", type=int, default=m["depth"])
    ap.add_argument("--downsample", type=int, default=m["downsample"])
    ap.add_argument("--code-dim", type=int, default=m["code_dim"])
    ap.add_argument("--n-top", type=int, default=m["n_top"]); ap.add_argument("--n-bottom", type=int, default=m["n_bottom"])
    ap.add_argument("--mirror-weight", type=float, default=0.0)
    ap.add_argument("--coarse-weight", type=float, default=m["coarse_weight"], help="model.coarse_weight (0 = off)")
    ap.add_argument("--global-weight", type=float, default=gw, help="preprocess.global_weight")
    ap.add_argument("--symmetric", type=int, nargs="+", default=[1], help="symmetric_top values to compare (0 1)")
    ap.add_argument("--dead-after", type=int, default=20, help="steps; short runs need a faster reset")
    ap.add_argument("--stride", type=int, default=16); ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3); ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the results as json here")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    pre, tr, te = build_data(a.n_train, a.n_test, a.seconds, 64, a.stride, a.global_weight)
    print(f"features {pre.n_features}, train windows {len(tr)}, held-out windows {len(te)}", flush=True)
    rows = dict(zip(["kmeans", "kmeans_true_top_ceiling"], kmeans_baseline(tr, te, a.downsample, a.n_top, a.n_bottom)))
    print("kmeans", rows["kmeans"], "\nsubtype ceiling (k-means inside true categories)", rows["kmeans_true_top_ceiling"], flush=True)
    for h in a.designs:
        for sym in a.symmetric:
            seed_everything(0)
            cfg = dict(name="hvqvae", width=a.width, depth=a.depth, downsample=a.downsample, code_dim=a.code_dim,
                       n_top=a.n_top, n_bottom=a.n_bottom, hierarchy=h, mirror_weight=a.mirror_weight,
                       dead_after=a.dead_after, symmetric_top=bool(sym), coarse_weight=a.coarse_weight)
            model = build_model(cfg, pre.n_features).set_mirror(pre.mirror_features)
            sec = train(model, pre, tr, a.epochs, a.lr, a.batch, a.mirror_weight > 0)
            name = h + ("+sym" if sym else "") + (f"+coarse{a.coarse_weight:g}" if a.coarse_weight else "")
            rows[name] = dict(evaluate(model, pre, te), sec_per_epoch=sec)
            print(name, rows[name], flush=True)
    print_table(rows)
    if a.out: open(a.out, "w").write(json.dumps(rows, indent=1, default=float))


def print_table(rows):
    cols = ["top_nmi", "sub_nmi", "bottom_given_top_nmi", "fine_nmi", "top_used", "bottom_used", "motifs_used",
            "mirror_top_agree", "sec_per_epoch"]
    print("| design | " + " | ".join(cols) + " |\n" + "|---" * (len(cols) + 1) + "|")
    for k, r in rows.items():
        print(f"| {k} | " + " | ".join(f"{r.get(c, float('nan')):.2f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
