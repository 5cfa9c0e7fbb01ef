"""Cross-species co-embedding quality on synthetic two-species data (synth_rat + synth_mouse).

Trains configs/base/vqvae_coemb.yaml (plus one single-species HVQVAE per species with the same settings), then, on
held-out schedule seeds simulated for BOTH species (same seed -> same behaviour, frame by frame):

- ARI between the rat's and the mouse's frame-wise top codes (targets >= 0.7): do both species get the same code
  for the same behaviour?
- the fraction of top codes (and motifs) used by both species among those used by either (target >= 80 %);
- per-species reconstruction MSE (normalised units) of the co-embedding vs the single-species model (<= 1.25x).

Training length is the config's `train.epochs` (20); --epochs changes it, and --set shrinks the data
(e.g. dataset.datasets.rat.n_sessions=3).

    python benchmarks/coembed_quality.py [--epochs N] [--align W] [--set model.dead_after=0 ...] [--out ...json]
    python benchmarks/coembed_quality.py --epochs 1 --n-test 1 --seconds 20 --set dataset.datasets.rat.n_sessions=3 \
        dataset.datasets.mouse.n_sessions=3 --out /tmp/coembed_quality.json   # smoke run
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json

from vqmap_nb.coembed import OWN_KEYS, DatasetView
from vqmap_nb.config import load_config
from vqmap_nb.core import CONFIG_DIR
from vqmap_nb.data.datasets import dataset_configs
from vqmap_nb.data.synthetic import make_dataset
from vqmap_nb.encode import encode_session
from vqmap_nb.mapping import _stitch, _windows, load_coembed
from vqmap_nb.metrics import shared_codes, usage_counts
from vqmap_nb.tasks import fit_coembed, fit_vqvae
from vqmap_nb.train import load_model

TEST_SEEDS = 5000     # held-out schedules: training uses seeds 0..7 (rat) and 100..107 (mouse)


def train_all(args, root: Path) -> tuple[dict, dict]:
    """Co-embedding run and one single-species HVQVAE per dataset, same data, model size, epochs and batch share;
    returns (training seconds of each, the co-embedding's config)."""
    over = [f"expdir={root / 'coemb'}", *([f"train.epochs={args.epochs}"] if args.epochs else []), "train.progress=false",
            f"model.align_weight={args.align}", *args.set]
    cfg = load_config(CONFIG_DIR / "base" / "vqvae_coemb.yaml", over)
    t0 = time.perf_counter(); fit_coembed(cfg); times = {"coembed": time.perf_counter() - t0}
    model_cfg = {k: v for k, v in cfg["model"].items() if k not in ("name", *OWN_KEYS)}   # the HVQVAE keys
    subs = dataset_configs(cfg["dataset"])
    per = cfg["dataloader"]["batch_size"] // len(subs)
    for name, sub in subs.items():
        single = {**cfg, "task": "vqvae", "expdir": str(root / name), "dataset": sub,
                  "model": {**model_cfg, "name": "hvqvae"}, "dataloader": {**cfg["dataloader"], "batch_size": per}}
        t0 = time.perf_counter(); fit_vqvae(single); times[name] = time.perf_counter() - t0
    return times, cfg


def window_len(model, pre) -> int:
    "The preprocessor's window rounded down to whole codes of `model` (at least one code)."
    return max(model.downsample, pre.window // model.downsample * model.downsample)


def code_usage(codes: np.ndarray, n: int) -> np.ndarray:
    "(N,) codes (-1 ignored) -> (n,) share of the valid frames per code."
    counts = usage_counts(codes, n)
    return counts / max(1, counts.sum())


def coembed_recon(model, name: str):
    "`x -> x` through the co-embedding, in and out through dataset `name`'s adapter."
    return lambda x: model.translate(x, name, name)


def single_recon(model):
    "`x -> x` through a single-dataset HVQVAE."
    return lambda x: model(x).recon


@torch.no_grad()
def recon_mse(fn, pre, window: int, poses: list) -> float:
    "Mean squared error (normalised units, valid frames) of `fn((N, window, F)) -> (N, window, F)` over sessions."
    errs = []
    for p in poses:
        f, v = pre.features(p)
        x, st = _windows(f, window)
        r = _stitch(fn(x).numpy(), st, len(f))
        errs.append(((r - f) ** 2)[v].mean())
    return float(np.mean(errs))


def evaluate(root: Path, n_test: int, seconds: float) -> dict:
    model, pres, skels, ckpt = load_coembed(root / "coemb" / "checkpoints" / "best.pt")
    species = {k: ckpt["config"]["dataset"]["datasets"][k]["species"] for k in model.names}
    test = {k: make_dataset(n_test, seed=TEST_SEEDS, species=s, seconds=seconds) for k, s in species.items()}
    codes = {k: [encode_session(DatasetView(model, k), pres[k], p) for p in ps] for k, ps in test.items()}
    top = {k: np.concatenate([c["top"] for c in cs]) for k, cs in codes.items()}
    motif = {k: np.concatenate([c["motif"] for c in cs]) for k, cs in codes.items()}
    truth = np.concatenate([p.meta["labels_top"] for p in test[model.names[0]]])
    a, b = model.names[:2]
    ok = (top[a] >= 0) & (top[b] >= 0)
    res = {"species": species, "n_test_sessions": n_test, "seconds": seconds, "n_frames": int(ok.sum()),
           "ari_top_between_species": adjusted_rand_score(top[a][ok], top[b][ok]),
           "ari_motif_between_species": adjusted_rand_score(motif[a][ok], motif[b][ok]),
           "ari_top_vs_truth": {k: adjusted_rand_score(truth[top[k] >= 0], top[k][top[k] >= 0]) for k in model.names},
           "top": shared_codes({k: code_usage(top[k], model.n_top) for k in model.names}),
           "motif": shared_codes({k: code_usage(motif[k], model.n_motifs) for k in model.names}),
           "recon": {}}
    for k in model.names:
        single, spre, _, _ = load_model(root / k / "checkpoints" / "best.pt")
        co = recon_mse(coembed_recon(model, k), pres[k], window_len(model, pres[k]), test[k])
        so = recon_mse(single_recon(single), spre, window_len(single, spre), test[k])
        res["recon"][k] = {"coembed": co, "single": so, "ratio": co / so}
    res["shared_fraction_top"] = res["top"]["n_shared"] / max(1, res["top"]["n_any"])
    res["shared_fraction_motif"] = res["motif"]["n_shared"] / max(1, res["motif"]["n_any"])
    return res


def report(res: dict) -> str:
    "The results as a table."
    rows = [("ARI top codes, rat vs mouse (same schedule)", res["ari_top_between_species"], ">= 0.7"),
            ("ARI motifs, rat vs mouse", res["ari_motif_between_species"], "-"),
            ("top codes used by both / by either", res["shared_fraction_top"], ">= 0.8"),
            ("motifs used by both / by either", res["shared_fraction_motif"], "-")]
    rows += [(f"ARI top codes vs true behaviour ({k})", v, "-") for k, v in res["ari_top_vs_truth"].items()]
    rows += [(f"recon MSE coembed / single ({k}: {r['coembed']:.4f} / {r['single']:.4f})", r["ratio"], "<= 1.25")
             for k, r in res["recon"].items()]
    return table([(n, f"{v:.3f}", t) for n, v, t in rows])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=None, help="default: the config's train.epochs")
    ap.add_argument("--align", type=float, default=0.0, help="model.align_weight of the co-embedding")
    ap.add_argument("--n-test", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest when other jobs share the cores)")
    ap.add_argument("--out", default=str(RESULTS / "coembed_quality.json"))
    ap.add_argument("--workdir", default=None, help="keep the trained runs here (default: a temporary folder)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="dotted overrides of configs/base/vqvae_coemb.yaml (model keys reach the single-species models too)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="coemb_bench_"))
    times, cfg = train_all(args, root)
    res = {"epochs": cfg["train"].get("epochs"), "align_weight": args.align, "overrides": args.set, "train_seconds": times,
           **evaluate(root, args.n_test, args.seconds), "machine": machine()}
    res["targets_met"] = {"ari": res["ari_top_between_species"] >= 0.7, "shared": res["shared_fraction_top"] >= 0.8,
                          "recon": all(r["ratio"] <= 1.25 for r in res["recon"].values())}
    print(report(res)); print("train seconds:", {k: round(v, 1) for k, v in times.items()})
    print(f"wrote {write_json(res, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
