"""Quality of the default hierarchical VQ-VAE (configs/base/vqvae.yaml), each figure beside a k-means baseline.

On synthetic data with known two-level labels, evaluated on held-out schedule seeds (training uses data seeds
0..n_sessions-1; evaluation uses 1000..1000+n_test-1):
- hierarchy recovery: NMI(top codes, true category) and NMI(motif, true subtype) within each true category
  (`metrics.hierarchy_nmi`), per code (each code against the majority truth of the frames it covers) and per
  frame (with the ceiling a perfect per-code classifier reaches on the code grid), vs hierarchical k-means on the
  same normalised features cut into code-length blocks (n_top clusters, then n_bottom clusters inside each);
- codebook usage: share of top codes and of motifs used, perplexities;
- mirror consistency: share of code steps (and of whole windows) whose left/right mirrored window keeps the top code,
  with the chance level sum_k p_k^2;
- seed stability: ARI between the top codes of two training seeds on the same held-out windows, and their agreement
  after Hungarian matching of the codes.
On a real recording (stac-mjx 3D mouse, 34 keypoints, 3600 frames): train on the first 80 %, report MPJPE (mm,
egocentric) of reconstructions of the last 20 % (cut into the model's windows), over --real-seeds seeds, for
- the VQ-VAE with its encoder's codes (the motif labels), and with codes searched for the best reconstruction through
  the same codebook and decoder (`HVQVAE.search_codes`; free, and within the encoder's top code);
- k-means with as many centroids as motifs on code-length blocks (the same number of codes per frame as the model),
  hierarchical k-means (n_top x n_bottom leaves: the model's own tree constraint), and k-means on whole windows.
Parts can run side by side: `--parts synthetic` and `--parts real` in two processes merge into one results file.

Every model is the default one (configs/base/vqvae.yaml: codes of `model.code_seconds` = 0.2 s, 6 frames at 30 fps,
windows of `PREPROCESS_DEFAULTS["window_seconds"]` = 3.2 s, 96 frames) trained for the default step budget
(`train.steps`); --steps / --real-steps shorten it, --epochs / --real-epochs replace it with whole passes, and
--n-sessions, --n-test, --seconds and --real-seeds shrink the data. The settings are saved with the results.

    python benchmarks/quality.py [--steps 3000] [--batch-size 64] [--real-seeds 5] [--parts synthetic real] [--threads 1]
    python benchmarks/quality.py --steps 20 --n-sessions 3 --n-test 1 --seconds 40 --real-steps 20 --real-seeds 1 \
        --threads 1 --out /tmp/quality.json                                   # smoke run, under a minute
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
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, confusion_matrix

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json

from vqmap_nb.config import load_config
from vqmap_nb.core import CONFIG_DIR
from vqmap_nb.data.datasets import load_dataset_poses
from vqmap_nb.data.io import load_poses
from vqmap_nb.data.synthetic import make_dataset
from vqmap_nb.encode import encode_session
from vqmap_nb.metrics import hierarchy_nmi, pose_errors
from vqmap_nb.tasks import fit_vqvae
from vqmap_nb.train import load_model

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "stac_mjx_rodent3d" / "test_mouse_mocap_3600_frames.h5"
TEST_SEED = 1000


def train(root: Path, name: str, overrides: list[str], base: str = "vqvae.yaml") -> tuple:
    "Train with `configs/base/<base>` + overrides into `root/name`; returns (model in eval mode, pre, seconds)."
    cfg = load_config(CONFIG_DIR / "base" / base, [f"expdir={root / name}", "train.progress=false", *overrides])
    t0 = time.perf_counter(); fit_vqvae(cfg); sec = time.perf_counter() - t0
    model, pre, _, _ = load_model(root / name / "checkpoints" / "best.pt")
    return model, pre, sec


def schedule(steps: int | None, epochs: int | None) -> list[str]:
    "Overrides of the training length: `train.epochs` (whole passes) when given, else the step budget `train.steps`."
    if epochs: return [f"train.epochs={epochs}"]
    return [f"train.steps={steps}"] if steps else []


def blocks(feats: np.ndarray, valid: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    "Non-overlapping `size`-frame blocks of (T, F) features, flattened `(N, size*F)`, and their validity `(N,)`."
    n = len(feats) // size
    x = feats[: n * size].reshape(n, size * feats.shape[1])                 # (N, size*F)
    return x, valid[: n * size].reshape(n, size).all(1)


def kmeans_codes(train_x: np.ndarray, n_top: int, n_bottom: int, seed: int = 0, centres: bool = False):
    """Hierarchical k-means: `n_top` clusters, then `n_bottom` inside each; returns `x -> (top, bottom)`, or with
    `centres` `x -> the centre of each row's leaf` (a reconstruction under the same tree constraint as the model)."""
    top = KMeans(n_top, n_init=4, random_state=seed).fit(train_x)
    lab = top.labels_
    subs = [KMeans(min(n_bottom, max(1, (lab == k).sum())), n_init=4, random_state=seed).fit(train_x[lab == k]) for k in range(n_top)]
    def predict(x):
        t = top.predict(x)
        b = np.zeros_like(t)
        for k in range(n_top):
            if (t == k).any(): b[t == k] = subs[k].predict(x[t == k])
        return t, b
    table = np.concatenate([s.cluster_centers_ for s in subs])                    # every leaf's centre, top by top
    first = np.cumsum([0] + [len(s.cluster_centers_) for s in subs])[:-1]          # row of each top's first leaf
    def centre_of(x):
        t, b = predict(x)
        return table[first[t] + b]
    return centre_of if centres else predict


def kmeans_frames(predict, pre, poses, size: int, n_bottom: int) -> dict:
    "Frame-level k-means codes of one recording (-1 on invalid blocks and the tail)."
    f, v = pre.features(poses)
    x, ok = blocks(f, v, size)
    t, b = predict(x)
    rep = lambda c: np.concatenate([np.repeat(np.where(ok, c, -1), size), np.full(len(f) - len(x) * size, -1)])
    return {"top": rep(t), "bottom": rep(b), "motif": rep(t * n_bottom + b)}


def recovery(codes: list[dict], test: list) -> dict:
    """hierarchy_nmi over all held-out frames together; the subtype level scores the motif (top, bottom): a bottom
    index alone names different leaves under different top codes."""
    cat = lambda k: np.concatenate([c[k] for c in codes])
    truth = lambda k: np.concatenate([p.meta[k] for p in test])
    return hierarchy_nmi(cat("top"), cat("motif"), truth("labels_top"), truth("labels_bottom"))


def span_labels(a: np.ndarray, size: int) -> np.ndarray:
    "Majority value of each `size`-frame span of `a` (-1 where the span has none)."
    n = len(a) // size
    return np.array([np.bincount(r[r >= 0]).argmax() if (r >= 0).any() else -1 for r in a[: n * size].reshape(n, size)])


def recovery_spans(codes: list[dict], test: list, size: int) -> dict:
    """hierarchy_nmi per code (one `size`-frame span each) against the majority truth of its span: the model's own
    unit. Frame-level scores also count the frames a code-length grid cannot place (a bout that starts mid-span)."""
    cut = lambda c, k: span_labels(c[k], size)
    top = np.concatenate([cut(c, "top") for c in codes]); motif = np.concatenate([cut(c, "motif") for c in codes])
    tt = np.concatenate([span_labels(p.meta["labels_top"], size) for p in test])
    tb = np.concatenate([span_labels(p.meta["labels_bottom"], size) for p in test])
    return hierarchy_nmi(top, motif, tt, tb)


def boundary_errors(codes: list[dict], test: list, size: int) -> dict:
    """Share of codes whose top code disagrees with its span's majority type (each top code read as the type it
    holds most often), for codes whose span centre lies within one code length of a behaviour change vs farther."""
    top, truth, dist = [], [], []
    for c, p in zip(codes, test):
        lt = p.meta["labels_top"]; n = len(lt) // size
        change = np.flatnonzero(np.diff(lt)) + 1
        centre = np.arange(n) * size + size / 2
        d = np.abs(centre[:, None] - change[None]).min(1) if len(change) else np.full(n, np.inf)
        t = span_labels(c["top"], size); ok = t >= 0
        top.append(t[ok]); truth.append(span_labels(lt, size)[ok]); dist.append(d[ok])
    top, truth, dist = map(np.concatenate, (top, truth, dist))
    as_type = {k: np.bincount(truth[top == k]).argmax() for k in np.unique(top)}
    wrong = np.array([as_type[k] for k in top]) != truth
    near = dist < size
    return {"share_near_change": float(near.mean()), "error_near_change": float(wrong[near].mean()),
            "error_elsewhere": float(wrong[~near].mean())}


def grid_ceiling(test: list, size: int) -> float:
    "Frame-level top NMI of a perfect per-span classifier (each span labelled with its majority truth)."
    from sklearn.metrics import normalized_mutual_info_score as nmi
    t = [p.meta["labels_top"][: len(p.meta["labels_top"]) // size * size] for p in test]
    return float(nmi(np.concatenate(t), np.concatenate([np.repeat(span_labels(x, size), size) for x in t])))


def usage(codes: list[dict], model) -> dict:
    "Share of codes used and perplexity at both levels on held-out frames."
    top = np.concatenate([c["top"] for c in codes]); motif = np.concatenate([c["motif"] for c in codes])
    out = {}
    for name, seq, n in (("top", top, model.n_top), ("motif", motif, model.n_motifs)):
        p = np.bincount(seq[seq >= 0], minlength=n) / max(1, (seq >= 0).sum())
        out[f"used_{name}"] = float((p > 0).mean())
        out[f"perplexity_{name}"] = float(np.exp(-(p[p > 0] * np.log(p[p > 0])).sum()))
    return out


def test_windows(pre, test: list) -> torch.Tensor:
    "All valid non-overlapping windows of the held-out sessions, `(N, window, F)`."
    xs = []
    for p in test:
        f, v = pre.features(p)
        x, ok = blocks(f, v, pre.window)
        xs.append(x[ok].reshape(-1, pre.window, pre.n_features))
    return torch.as_tensor(np.concatenate(xs))


@torch.no_grad()
def mirror_consistency(model, pre, x: torch.Tensor) -> dict:
    "Share of steps / windows whose mirror keeps the top code; chance = sum_k p_k^2 of the top-code distribution."
    top, _ = model.encode(x); topm, _ = model.encode(pre.mirror_features(x))   # (N, L) each
    p = torch.bincount(top.flatten(), minlength=model.n_top).float(); p /= p.sum()
    return {"mirror_steps": float((top == topm).float().mean()), "mirror_windows": float((top == topm).all(1).float().mean()),
            "mirror_chance": float((p ** 2).sum())}


@torch.no_grad()
def seed_stability(m0, m1, x: torch.Tensor) -> dict:
    "ARI of the top codes of two models on the same windows, and their agreement after Hungarian matching."
    a, b = m0.encode(x)[0].flatten().numpy(), m1.encode(x)[0].flatten().numpy()
    c = confusion_matrix(a, b, labels=range(max(m0.n_top, m1.n_top)))
    r, k = linear_sum_assignment(-c)
    return {"seed_ari_top": float(adjusted_rand_score(a, b)), "seed_matched_agreement_top": float(c[r, k].sum() / c.sum())}


def synthetic(root: Path, a) -> dict:
    "Hierarchy recovery, usage, mirror consistency and seed stability on held-out synthetic seeds."
    over = [f"dataset.n_sessions={a.n_sessions}", *([f"dataset.seconds={a.seconds:g}"] if a.seconds else []),
            *schedule(a.steps, a.epochs), *([f"dataloader.batch_size={a.batch_size}"] if a.batch_size else [])]
    m0, pre, sec0 = train(root, "seed0", [*over, "seed=0"])
    m1, _, sec1 = train(root, "seed1", [*over, "seed=1"])
    dcfg = load_config(CONFIG_DIR / "base" / "vqvae.yaml", over)["dataset"]
    test = make_dataset(a.n_test, seed=TEST_SEED, species=dcfg["species"], seconds=dcfg["seconds"], fps=dcfg["fps"])
    codes = [encode_session(m0, pre, p) for p in test]
    train_poses, _ = load_dataset_poses(dcfg)                               # the training sessions (train and val)
    fx = [blocks(*pre.features(p), m0.downsample) for p in train_poses]
    km = kmeans_codes(np.concatenate([x[ok] for x, ok in fx]), m0.n_top, m0.n_bottom)
    x = test_windows(pre, test)
    out = {"train_seconds": [sec0, sec1], "n_test_frames": int(sum(p.n_frames for p in test)), "n_test_windows": len(x),
           "window": pre.window, "frames_per_code": m0.downsample,
           "vqvae": recovery(codes, test), "kmeans": recovery([kmeans_frames(km, pre, p, m0.downsample, m0.n_bottom) for p in test], test)}
    codes1 = [encode_session(m1, pre, p) for p in test]
    out["vqvae_seed1"] = recovery(codes1, test)
    kc = [kmeans_frames(km, pre, p, m0.downsample, m0.n_bottom) for p in test]
    out["per_code"] = {"vqvae": recovery_spans(codes, test, m0.downsample), "vqvae_seed1": recovery_spans(codes1, test, m0.downsample),
                       "kmeans": recovery_spans(kc, test, m0.downsample)}
    out["frame_nmi_top_ceiling"] = grid_ceiling(test, m0.downsample)
    out["top_errors"] = boundary_errors(codes, test, m0.downsample)
    out.update(usage(codes, m0)); out.update(mirror_consistency(m0, pre, x)); out.update(seed_stability(m0, m1, x))
    return out


def real_mpjpe(root: Path, a) -> dict:
    """Train on the first 80 % of a real 3D recording; MPJPE (mm) on the last 20 % vs k-means with n_motifs centroids,
    for each of `a.real_seeds` seeds (model seed and k-means seed alike); mean and standard deviation over them."""
    if not REAL.exists(): return {"skipped": f"{REAL} absent"}
    runs = [real_mpjpe_once(root / f"real{s}", a, s) for s in range(getattr(a, "real_seeds", 1))]
    out = {k: runs[0][k] for k in ("file", "train_frames", "test_frames", "test_windows", "units", "n_codes_per_block",
                                   "window", "frames_per_code")}
    for k in ("vqvae", "vqvae_search", "vqvae_search_top", "kmeans", "kmeans_tree", "kmeans_window", "train_seconds"):
        v = np.array([r[k] for r in runs]); out[k], out[k + "_sd"], out[k + "_runs"] = float(v.mean()), float(v.std()), v.tolist()
    return out


def real_mpjpe_once(root: Path, a, seed: int) -> dict:
    "One seed of `real_mpjpe`."
    poses = load_poses(REAL, skeleton="mouse34", fps=30)[0]
    cut = int(0.8 * poses.n_frames)
    root.mkdir(parents=True, exist_ok=True); part = root / "real_train.npz"
    np.savez(part, position=poses.position[:cut], keypoint_names=np.array(poses.keypoint_names), fps=poses.fps)
    test = dataclass_copy(poses, poses.position[cut:])
    over = [*schedule(a.real_steps, a.real_epochs), "dataloader.batch_size=32", "dataset.name=files", f"dataset.paths=[{part}]",
            f"seed={seed}"]
    model, pre, sec = train(root, "real", ["dataset=configs/dataset/mouse34.yaml", *over])
    f, v = pre.features(test)
    x, ok = blocks(f, v, pre.window)
    xw = torch.as_tensor(x[ok].reshape(-1, pre.window, pre.n_features))    # (N, window, F)
    gt = pre.to_positions(xw)                                               # (N, window, K, D)
    with torch.no_grad(): rec = pre.to_positions(model(xw).recon)
    # the same codebook and decoder, codes chosen by reconstruction (free / within the encoder's top code)
    srec, strec = (pre.to_positions(model.decode_indices(*model.search_codes(xw, keep_top=k)).detach()) for k in (False, True))
    fb, vb = blocks(*pre.features(dataclass_copy(poses, poses.position[:cut])), model.downsample)
    km = KMeans(model.n_motifs, n_init=4, random_state=seed).fit(fb[vb])
    sub = xw.reshape(-1, model.downsample * pre.n_features).numpy()        # (N * L, ds*F) code-length blocks
    krec = km.cluster_centers_[km.predict(sub)].reshape(xw.shape)
    tree = kmeans_codes(fb[vb], model.n_top, model.n_bottom, seed=seed, centres=True)     # the model's own constraint
    trec = tree(sub).reshape(xw.shape)
    # k-means on whole windows (the usual clustering of windows): each window is one of n_motifs centroid windows
    fw, vw = pre.features(dataclass_copy(poses, poses.position[:cut]))
    starts = [s for s in range(0, len(fw) - pre.window + 1, pre.stride) if vw[s:s + pre.window].all()]
    kw = KMeans(model.n_motifs, n_init=4, random_state=seed).fit(np.stack([fw[s:s + pre.window].ravel() for s in starts]))
    wrec = kw.cluster_centers_[kw.predict(xw.reshape(len(xw), -1).numpy())].reshape(xw.shape)
    return {"file": str(REAL.name), "train_frames": cut, "test_frames": poses.n_frames - cut, "test_windows": len(xw),
            "train_seconds": sec, "units": "mm", "vqvae": pose_errors(gt, rec)["mpjpe"],
            "vqvae_search": pose_errors(gt, srec)["mpjpe"], "vqvae_search_top": pose_errors(gt, strec)["mpjpe"],
            "kmeans": pose_errors(gt, pre.to_positions(torch.as_tensor(krec)))["mpjpe"],
            "kmeans_tree": pose_errors(gt, pre.to_positions(torch.as_tensor(trec)))["mpjpe"],
            "kmeans_window": pose_errors(gt, pre.to_positions(torch.as_tensor(wrec, dtype=xw.dtype)))["mpjpe"],
            "n_codes_per_block": model.n_motifs, "window": pre.window, "frames_per_code": model.downsample}


def dataclass_copy(poses, position):
    "A copy of `poses` holding `position` (confidence and per-frame metadata dropped)."
    import dataclasses
    return dataclasses.replace(poses, position=position, confidence=None, meta={})


def report(r: dict) -> str:
    s, q = r.get("synthetic"), r.get("real", {})
    pc = lambda m, k: f"{s['per_code'][m][k]:.3f}" if "per_code" in s else "-"
    rows = [] if s is None else [
            ("per code: NMI top vs truth (VQ-VAE / seed 1 / k-means)", f"{pc('vqvae', 'nmi_top')} / {pc('vqvae_seed1', 'nmi_top')} / {pc('kmeans', 'nmi_top')}"),
            ("per code: NMI motif vs subtype within type (VQ-VAE / seed 1 / k-means)",
             f"{pc('vqvae', 'nmi_bottom_within_top')} / {pc('vqvae_seed1', 'nmi_bottom_within_top')} / {pc('kmeans', 'nmi_bottom_within_top')}"),
            ("per frame: NMI top vs truth (VQ-VAE / k-means / perfect per-code ceiling)",
             f"{s['vqvae']['nmi_top']:.3f} / {s['kmeans']['nmi_top']:.3f} / {s.get('frame_nmi_top_ceiling', float('nan')):.3f}"),
            ("top code vs type, error near a behaviour change / elsewhere (share of codes near)",
             (lambda e: f"{e['error_near_change']:.3f} / {e['error_elsewhere']:.3f} ({e['share_near_change']:.2f})")(s["top_errors"]) if "top_errors" in s else "-"),
            ("per frame: NMI motif within type (VQ-VAE / k-means)", f"{s['vqvae']['nmi_bottom_within_top']:.3f} / {s['kmeans']['nmi_bottom_within_top']:.3f}"),
            ("per frame: NMI top, second seed", f"{s['vqvae_seed1']['nmi_top']:.3f}"),
            ("top codes used / motifs used", f"{100 * s['used_top']:.0f} % / {100 * s['used_motif']:.0f} %"),
            ("perplexity top / motif", f"{s['perplexity_top']:.2f} / {s['perplexity_motif']:.2f}"),
            ("mirror keeps top code (steps / windows / chance)", f"{s['mirror_steps']:.3f} / {s['mirror_windows']:.3f} / {s['mirror_chance']:.3f}"),
            ("seed stability ARI top (matched agreement)", f"{s['seed_ari_top']:.3f} ({s['seed_matched_agreement_top']:.3f})")]
    sd = lambda k: f"{q[k]:.2f} ± {q.get(k + '_sd', 0):.2f}" if k in q else "-"
    if "vqvae" in q:
        n = len(q.get('vqvae_runs', [0]))
        rows += [(f"real MPJPE mm, mean ± sd of {n} seeds: VQ-VAE, encoder codes / searched codes / searched leaves",
                  f"{sd('vqvae')} / {sd('vqvae_search')} / {sd('vqvae_search_top')}"),
                 (f"real MPJPE mm, k-means on {q.get('frames_per_code', '?')}-frame blocks: flat / tree; on whole windows",
                  f"{sd('kmeans')} / {sd('kmeans_tree')}; {sd('kmeans_window')}")]
    return table(rows, header=("quantity", "value"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="training steps of the synthetic models (default: the config's train.steps)")
    p.add_argument("--epochs", type=int, default=None, help="whole passes instead of the step budget (train.epochs)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the config's dataloader.batch_size")
    p.add_argument("--n-sessions", type=int, default=10, help="synthetic training sessions (split train/val)")
    p.add_argument("--n-test", type=int, default=4, help="held-out synthetic sessions")
    p.add_argument("--seconds", type=float, default=None, help="length of each synthetic session (default: the config's)")
    p.add_argument("--real-steps", type=int, default=None, help="training steps of the real-data models (default: train.steps)")
    p.add_argument("--real-epochs", type=int, default=None, help="whole passes instead of the step budget")
    p.add_argument("--real-seeds", type=int, default=5, help="seeds of the real-data comparison (mean and sd reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--out", default=str(RESULTS / "quality.json"))
    p.add_argument("--parts", nargs="+", default=["synthetic", "real"], help="synthetic and/or real (kept parts are merged)")
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    out = Path(a.out)
    partial = set(a.parts) != {"synthetic", "real"}
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for part, fn in (("synthetic", synthetic), ("real", real_mpjpe)):
            if part not in a.parts: continue
            t0 = time.perf_counter(); res[part] = fn(Path(tmp), a); res[part]["seconds"] = time.perf_counter() - t0
            # keep each part as soon as it is done; a partial run merges with what is on disk *now*, so the two
            # parts can run side by side (`--parts synthetic` and `--parts real` in two processes)
            disk = json.loads(out.read_text()) if partial and out.exists() else {}
            res = {**disk, **res, "machine": machine(), "settings": {**disk.get("settings", {}), **vars(a),
                   "parts": sorted(set(disk.get("settings", {}).get("parts", [])) | set(a.parts))}}
            write_json(res, out)
    print(report(res)); print(f"wrote {out}")
    return res


if __name__ == "__main__":
    main()
