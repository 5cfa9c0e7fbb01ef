"""keypoint-MoSeq on the SUBTLE mice: fitted on the 9 training animals, applied to the 4 held-out labelled ones, timed.

    python -m venv .venv-kpms && .venv-kpms/bin/pip install keypoint-moseq==0.8.1 jax==0.6.2 jaxlib==0.6.2
    OMP_NUM_THREADS=1 .venv-kpms/bin/python benchmarks/kpms.py            # about 28 min on one CPU core
    .venv-kpms/bin/python benchmarks/kpms.py --ar-iters 5 --full-iters 5 --apply-iters 5 --out /tmp/k   # a quick look (a few minutes)

keypoint-MoSeq is an optional baseline with its own environment: it needs jax (0.10, which keypoint-moseq 0.8.1 pulls
in, deadlocks in the full model on these machines; 0.6.2 runs) and carries an academic license, so vqmap_nb never
depends on it and this script imports nothing of vqmap_nb (or torch). It follows keypoint-MoSeq's own recipe: millimetres,
the tail tip left out (its advice for rodents), heading from nose and tail base, PCA latent dimension from 90 % of the
variance, an AR-HMM first and then the full keypoint-SLDS with kappa lowered 10x, one segment per session. Gibbs sweeps
are cut to what fits a CPU benchmark (50 AR-HMM + 100 full-model sweeps, 50 sweeps to apply; its defaults are 50 + 500
and 500). It writes the held-out syllables per frame to `results/kpms_syllables.npz` and settings, times and syllable
statistics to `results/kpms.json`; `benchmarks/real.py` scores the syllables against the expert labels with the same
code as every other method (`keypoint_moseq` in real.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SUBTLE = HERE.parents[1] / "shared" / "data" / "subtle_mouse3d"
HELD_OUT = ["y5a5_adult_6112", "y5a5_young_7100", "y5a5_adult_6115", "y5a5_young_7678"]   # as in real.py
BODYPARTS = ["nose", "neck", "anus", "chest", "rfoot", "lfoot", "rhand", "lhand", "tip"]
SKELETON = [["nose", "neck"], ["neck", "chest"], ["chest", "anus"], ["anus", "tip"], ["lhand", "chest"],
            ["rhand", "chest"], ["lfoot", "anus"], ["rfoot", "anus"]]
FPS = 20.0


def load(names: list[str]) -> dict[str, np.ndarray]:
    "{session: (T, 9, 3) positions in mm}."
    out = {}
    for n in names:
        z = np.load(SUBTLE / f"{n}.npz")
        if list(z["keypoint_names"]) != BODYPARTS: raise SystemExit(f"{SUBTLE / n}.npz: unexpected keypoints {list(z['keypoint_names'])}")
        out[n] = 10.0 * z["position"].astype(np.float64)   # cm -> mm: keypoint-MoSeq's noise priors assume pixel/mm scale
    return out


def run_lengths(x: np.ndarray) -> np.ndarray:
    change = np.flatnonzero(np.diff(x)) + 1
    return np.diff(np.concatenate([[0], change, [len(x)]]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ar-iters", type=int, default=50)
    p.add_argument("--full-iters", type=int, default=100)
    p.add_argument("--apply-iters", type=int, default=50)
    p.add_argument("--kappa", type=float, default=1e7, help="AR-HMM stickiness; the full model uses a tenth")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(HERE / "results" / "kpms"), help="writes OUT.json and OUT_syllables.npz")
    a = p.parse_args(argv)
    try:
        import jax
        import keypoint_moseq as kpms
    except ImportError as e:
        raise SystemExit(f"keypoint-moseq is not installed here ({e}); see the first lines of {__file__}") from None
    if not SUBTLE.exists(): raise SystemExit(f"{SUBTLE}: not found (real recordings live in ../shared/data)")
    train_names = sorted(f.stem for f in SUBTLE.glob("y3a6_*.npz"))
    train, test = load(train_names), load(HELD_OUT)
    use = [b for b in BODYPARTS if b != "tip"]
    seg = max(len(x) for x in (*train.values(), *test.values()))     # one segment per session (the automatic choice pads a lot)
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as project:
        kpms.setup_project(project, overwrite=True)
        kpms.update_config(project, bodyparts=BODYPARTS, use_bodyparts=use, skeleton=SKELETON, anterior_bodyparts=["nose"],
                           posterior_bodyparts=["anus"], fps=FPS, verbose=False)
        config = kpms.load_config(project)
        t0 = time.perf_counter()
        data, metadata = kpms.format_data(train, None, **config, seg_length=seg)   # not a config key: passed here
        pca = kpms.fit_pca(**data, **config)
        latent_dim = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), 0.9) + 1)
        kpms.update_config(project, latent_dim=latent_dim, kappa=a.kappa)
        config = kpms.load_config(project)
        model = kpms.init_model(data, pca=pca, **config, seed=jax.random.PRNGKey(a.seed))
        model, name = kpms.fit_model(model, data, metadata, project, ar_only=True, num_iters=a.ar_iters,
                                     generate_progress_plots=False, save_every_n_iters=0)
        model = kpms.update_hypparams(model, kappa=a.kappa / 10)
        model = kpms.fit_model(model, data, metadata, project, name, ar_only=False, start_iter=a.ar_iters,
                               num_iters=a.ar_iters + a.full_iters, generate_progress_plots=False, save_every_n_iters=0)[0]
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        data_new, metadata_new = kpms.format_data(test, None, **config, seg_length=seg)
        results = kpms.apply_model(model, data_new, metadata_new, project, name, num_iters=a.apply_iters,
                                   save_results=False, **config)
        apply_s = time.perf_counter() - t0
    syll = {n: np.asarray(results[n]["syllable"]).astype(np.int64) for n in HELD_OUT}
    for n in HELD_OUT:
        if len(syll[n]) != len(test[n]): raise SystemExit(f"{n}: {len(syll[n])} syllables for {len(test[n])} frames")
    allv = np.concatenate(list(syll.values()))
    usage = np.bincount(allv) / len(allv)
    bouts = np.concatenate([run_lengths(s) for s in syll.values()]) / FPS
    n_train, n_test = sum(map(len, train.values())), len(allv)
    out_json, out_npz = Path(a.out + ".json"), Path(a.out + "_syllables.npz")
    np.savez_compressed(out_npz, **syll)                # the syllables first: real.py reads the json as the sign both are there
    r = {"held_out": HELD_OUT, "train_sessions": train_names, "train_frames": n_train, "held_out_frames": n_test,
         "fit_seconds": fit_s, "apply_seconds": apply_s, "apply_frames_per_s": n_test / apply_s,
         "n_syllables_used": int((usage > 0).sum()), "n_syllables_over_1pct": int((usage > 0.01).sum()),
         "median_syllable_s": float(np.median(bouts)), "syllables_file": out_npz.name,
         "settings": {"version": kpms.__version__, "jax": jax.__version__, "ar_iters": a.ar_iters, "full_iters": a.full_iters,
                      "apply_iters": a.apply_iters, "kappa_ar": a.kappa, "kappa_full": a.kappa / 10, "latent_dim": latent_dim,
                      "use_bodyparts": use, "seg_length": seg, "units": "mm", "seed": a.seed,
                      "xla_flags": os.environ.get("XLA_FLAGS", "")},
         "seconds": time.perf_counter() - t_all, "when": time.strftime("%Y-%m-%d"),
         "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": sys.version.split()[0]}}
    out_json.write_text(json.dumps(r, indent=1) + "\n")
    print(json.dumps({k: v for k, v in r.items() if k not in ("train_sessions", "settings")}, indent=1))
    print(f"wrote {out_json} and {out_npz} in {r['seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
