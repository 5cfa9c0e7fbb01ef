"""Quality of the GPT prior over motif codes (configs/base/gpt.yaml) against a bigram baseline.

Trains a VQ-VAE on synthetic data (or uses --vqvae CKPT), trains the GPT prior on its codes, samples, decodes and
reports (all from `vqmap_nb.generate.compute_stats`):
- held-out NLL per code (nats) of the GPT vs the bigram (first-order Markov, add-0.1 smoothing, same training codes);
- usage KL(real || generated) of motif frequencies (target <= 0.1) and usage-weighted transition KL;
- bone-length coefficient of variation of decoded generated motion vs decoded real code sequences (reconstructions).
The VQ-VAE is `tasks.train_demo_vqvae` (the default model's hierarchy and code length, narrower: width 64, codes of 32,
4 x 3 motifs) on --sessions synthetic sessions of --session-seconds; the GPT is configs/base/gpt.yaml. The schedule is
shortened (--vq-epochs, --gpt-epochs) so one run takes minutes on 2 CPU cores.

    python benchmarks/gpt_quality.py [--vqvae CKPT] [--vq-epochs 6] [--gpt-epochs 30] [--n-samples 32] [--seconds 20] [--threads 1]
    python benchmarks/gpt_quality.py --vq-epochs 1 --sessions 3 --session-seconds 60 --gpt-epochs 1 --n-samples 4 \
        --seconds 5 --threads 1 --out /tmp/gpt_quality.json                   # smoke run
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json

from vqmap_nb.config import load_config
from vqmap_nb.core import CONFIG_DIR
from vqmap_nb.generate import Session, compute_stats, load_prior
from vqmap_nb.tasks import fit_gpt, train_demo_vqvae


def train_vqvae(workdir: Path, epochs: int, sessions: int, seconds: float = 120) -> Path:
    "A small VQ-VAE on synthetic sessions (the default model's hierarchy and code length, narrower)."
    return train_demo_vqvae(workdir / "vq", **{"train.epochs": epochs, "dataset.n_sessions": sessions,
                                                "dataset.seconds": f"{seconds:g}", "model.width": 64, "model.code_dim": 32})


def train_gpt(workdir: Path, vq_ckpt: Path, epochs: int, seed: int) -> Path:
    "The GPT prior with the shipped model config on the VQ-VAE's codes."
    cfg = load_config(CONFIG_DIR / "base" / "gpt.yaml", [f"expdir={workdir / 'gpt'}", f"model.vqvae_checkpoint={vq_ckpt}",
                                                         f"train.epochs={epochs}", "train.progress=false", f"seed={seed}"])
    return fit_gpt(cfg) / "checkpoints" / "best.pt"


def report(r: dict) -> str:
    "The results as a table."
    st = r["stats"]
    return table([("NLL per code, GPT (nats)", f"{st['nll_gpt']:.3f}", "< bigram"),
                  ("NLL per code, bigram (nats)", f"{st['nll_bigram']:.3f}", ""),
                  ("usage KL real‖generated (nats)", f"{st['usage_kl']:.4f}", "<= 0.1"),
                  ("transition KL real‖generated (nats)", f"{st['transition_kl']:.4f}", "small"),
                  ("bone-length CV, generated / real reconstructions", f"{st['bone_cv_generated']:.4f} / {st['bone_cv_real']:.4f}", "~ real"),
                  ("motifs / real codes", f"{r.get('vocab_size', '?')} / {st['n_real_codes']}", ""),
                  ("train seconds VQ-VAE / GPT", f"{r['seconds']['vqvae']:.0f} / {r['seconds']['gpt']:.0f}", "")])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vqvae", help="use this VQ-VAE checkpoint instead of training one")
    p.add_argument("--vq-epochs", type=int, default=6); p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--session-seconds", type=float, default=120, help="length of each synthetic training session")
    p.add_argument("--gpt-epochs", type=int, default=30)
    p.add_argument("--n-samples", type=int, default=32); p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--temperature", type=float, default=1.0); p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default); 1 is faster on a loaded machine")
    p.add_argument("--out", default=str(RESULTS / "gpt_quality.json"))
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    work = Path(tempfile.mkdtemp(prefix="gpt_quality_"))
    t0 = time.time()
    vq_ckpt = Path(a.vqvae) if a.vqvae else train_vqvae(work, a.vq_epochs, a.sessions, a.session_seconds)
    t_vq = time.time() - t0
    gpt_ckpt = train_gpt(work, vq_ckpt, a.gpt_epochs, a.seed)
    t_gpt = time.time() - t0 - t_vq
    prior = load_prior(gpt_ckpt)
    s = Session(prior, work / "generate", a.n_samples, a.seconds, a.temperature, seed=a.seed)
    st = compute_stats(s)
    st = {k: v for k, v in st.items() if not k.startswith("speed_")}
    res = {"stats": st, "targets": {"usage_kl_max": 0.1, "nll_gpt_below_bigram": True},
           "pass": {"usage_kl": st["usage_kl"] <= 0.1, "nll_gpt_below_bigram": st["nll_gpt"] < st["nll_bigram"]},
           "settings": vars(a), "gpt_params": prior["gpt"].n_params, "vocab_size": prior["gpt"].cfg.vocab_size,
           "seconds": {"vqvae": t_vq, "gpt": t_gpt}, "machine": machine()}
    print(report(res))
    print(f"wrote {write_json(res, a.out)}")
    return res


if __name__ == "__main__":
    main()
