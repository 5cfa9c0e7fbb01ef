"""`python train.py CONFIG [overrides]` end to end: files written, config round trip, errors with exit code 2."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.xdist_group("test_train_cli")  # one worker runs this file (its module fixtures are built once)

REPO = Path(__file__).resolve().parents[1]
TINY = ["dataset.n_sessions=3", "dataset.seconds=30", "train.epochs=1", "train.progress=false"]


def run(*args, cwd=REPO):
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    expdir = tmp_path_factory.mktemp("train") / "exp"
    r = run("train.py", "configs/base/vqvae.yaml", f"expdir={expdir}", *TINY)
    assert r.returncode == 0, r.stderr
    return expdir


def test_writes_run_files(trained):
    for name in ["parameters.yaml", "metrics.csv", "checkpoints/last.pt", "checkpoints/best.pt"]:
        assert (trained / name).is_file(), name


def test_parameters_yaml_reruns_as_is(trained, tmp_path):
    cfg = yaml.safe_load((trained / "parameters.yaml").read_text())
    assert cfg["dataset"]["n_sessions"] == 3 and cfg["train"]["epochs"] == 1
    r = run("train.py", trained / "parameters.yaml", f"expdir={tmp_path/'again'}")
    assert r.returncode == 0, r.stderr
    again = yaml.safe_load((tmp_path / "again" / "parameters.yaml").read_text())
    assert {k: v for k, v in again.items() if k != "expdir"} == {k: v for k, v in cfg.items() if k != "expdir"}


def test_console_script_matches_script(tmp_path):
    r = subprocess.run(["vqmap_train", "configs/base/vqvae.yaml", "train.epoch=1"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2 and "did you mean" in r.stderr


def test_existing_expdir_is_not_overwritten(trained):
    before = (trained / "checkpoints" / "last.pt").read_bytes()
    r = run("train.py", "configs/base/vqvae.yaml", f"expdir={trained}", *TINY)
    assert r.returncode == 2 and "already holds a run" in r.stderr
    assert (trained / "checkpoints" / "last.pt").read_bytes() == before


@pytest.mark.parametrize("args,expected", [
    (["missing.yaml"], "missing.yaml: config file not found"),
    (["configs/base/vqvae.yaml", "train.val_every=abc"], "expected int"),
    (["configs/base/vqvae.yaml", "train.epochs=abc"], "train.epochs': must be a whole number"),
    (["configs/base/vqvae.yaml", "dataloader.batch_sise=3"], "did you mean 'batch_size'"),
    (["configs/base/vqvae.yaml", "noequals"], "expected KEY=VALUE"),
    (["configs/base/vqvae.yaml", "dataset=configs/dataset/nope.yaml"], "nope.yaml: config file not found"),
    (["configs/base/vqvae.yaml", "task=nonsense"], "unknown task"),
    (["configs/base/vqvae.yaml", "dataset.name=synthetc"], "did you mean 'synthetic'"),
])
def test_bad_config_input(args, expected, tmp_path):
    r = run("train.py", *args, f"expdir={tmp_path/'x'}")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], r.stderr
    assert not (tmp_path / "x" / "checkpoints").exists()


def test_bad_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"; bad.write_text("expdir: [1, 2\n")
    r = run("train.py", bad)
    assert r.returncode == 2 and "bad.yaml: not valid yaml" in r.stderr


def test_gpu_train_setting(tmp_path):
    "configs/train/gpu.yaml: the keys of base.yaml, swapped in as the whole train section, overridable after it; one CPU step runs."
    from vqmap_nb.config import load_config, load_yaml
    from vqmap_nb.train import TRAIN_KEYS
    gpu, base = load_yaml(REPO / "configs/train/gpu.yaml"), load_yaml(REPO / "configs/train/base.yaml")
    assert list(gpu) == list(base) and set(gpu) <= set(TRAIN_KEYS) and gpu["device"] == "cuda" and gpu["amp"] is True
    cfg = load_config(REPO / "configs/base/vqvae.yaml", [f"train={REPO / 'configs/train/gpu.yaml'}", "dataloader.batch_size=512"])
    assert cfg["train"] == gpu and cfg["dataloader"]["batch_size"] == 512
    r = run("train.py", "configs/base/vqvae.yaml", f"expdir={tmp_path / 'gpu'}", "train=configs/train/gpu.yaml",
            "dataloader.batch_size=512", "train.device=cpu", "train.steps=1", *TINY[:2], "train.progress=false")
    assert r.returncode == 0, r.stderr
    saved = yaml.safe_load((tmp_path / "gpu" / "parameters.yaml").read_text())
    assert saved["train"] == {**gpu, "device": "cpu", "steps": 1, "progress": False} and saved["dataloader"]["batch_size"] == 512
