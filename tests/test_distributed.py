"""`torchrun --nproc_per_node 2 train.py ...` on CPU (gloo): finishes, only rank 0 writes, same semantics as one process.

Per-process batch size is `dataloader.batch_size` (PyTorch DDP convention), so two processes take half the steps of one
process over the same windows. A checkpoint written by the two-process run resumes in a one-process run.
"""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = ["dataset.n_sessions=3", "dataset.seconds=30", "dataloader.batch_size=32", "model.width=32", "model.depth=1",
        "model.code_dim=16", "train.epochs=1", "train.progress=false", "seed=3"]
pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="gloo process groups over TCP on POSIX only"), pytest.mark.xdist_group("test_distributed")]  # one worker runs this file (its module fixtures are built once)


def run(args, timeout=240):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)


def metrics(expdir: Path) -> list[dict]:
    with open(expdir / "metrics.csv") as f: return list(csv.DictReader(f))


def files(expdir: Path) -> list[str]:
    return sorted(str(p.relative_to(expdir)) for p in expdir.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    ddp = run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "train.py", "configs/base/vqvae.yaml", f"expdir={root / 'ddp'}", *TINY])
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = run(["train.py", "configs/base/vqvae.yaml", f"expdir={root / 'single'}", *TINY])
    assert single.returncode == 0, single.stderr[-3000:]
    return {"root": root, "ddp": root / "ddp", "single": root / "single", "ddp_out": ddp.stdout + ddp.stderr}


def test_only_rank0_writes(runs):
    assert files(runs["ddp"]) == ["checkpoints/best.pt", "checkpoints/last.pt", "metrics.csv", "parameters.yaml"]
    assert [int(r["epoch"]) for r in metrics(runs["ddp"])] == [1]             # one row per epoch, not one per rank
    assert runs["ddp_out"].count("epoch 1/1") == 1                              # one summary line per epoch


def test_same_windows_per_epoch(runs):
    from vqmap_nb.config import load_config
    from vqmap_nb.data.datasets import prepare_data
    from vqmap_nb.models import model_config
    cfg = load_config(runs["ddp"] / "parameters.yaml")
    n = len(prepare_data(cfg, model_config(cfg["model"], 1, 30).downsample)["train"])   # training windows of the run
    steps_ddp, steps_one = (int(metrics(runs[k])[0]["step"]) for k in ("ddp", "single"))
    assert steps_one == n // 32 and steps_ddp == (n // 2) // 32 >= 1             # each rank takes a disjoint half
    assert n - 2 * 32 < 2 * 32 * steps_ddp <= n                                  # at most one partial batch per rank dropped


def test_loss_comparable(runs):
    a, b = (float(metrics(runs[k])[-1]["val_loss"]) for k in ("ddp", "single"))
    first = float(metrics(runs["single"])[0]["train_loss"])
    assert 0 < a < 2 * first and abs(a - b) / b < 0.35, (a, b)


def test_ddp_checkpoint_loads_and_resumes_in_one_process(runs):
    from vqmap_nb.train import load_model
    model, pre, skel, ckpt = load_model(runs["ddp"] / "checkpoints" / "last.pt")
    assert not any(k.startswith("module.") for k in ckpt["model"])               # weights saved unwrapped
    assert ckpt["epoch"] == 1 and pre is not None and skel is not None
    cfg = yaml.safe_load((runs["ddp"] / "parameters.yaml").read_text())
    assert cfg["train"]["epochs"] == 1
    r = run(["train.py", runs["ddp"] / "parameters.yaml", "train.resume=true", "train.epochs=2"])
    assert r.returncode == 0, r.stderr[-3000:]
    rows = metrics(runs["ddp"])
    assert [int(x["epoch"]) for x in rows] == [1, 2]
    steps = [int(x["step"]) for x in rows]
    assert steps[1] - steps[0] == int(metrics(runs["single"])[0]["step"])       # the resumed epoch is a 1-process epoch
    assert load_model(runs["ddp"] / "checkpoints" / "last.pt")[3]["epoch"] == 2
