"""End-to-end: `python inference.py CKPT --mode ...` on tiny trained models; outputs, refusals and one-line errors."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import error_line, run_script

pytestmark = pytest.mark.xdist_group("test_inference_cli")  # one worker runs this file (its module fixtures are built once)

REPO = Path(__file__).resolve().parents[1]
TINY = ["train.epochs=1", "train.progress=false", "model.width=32", "model.depth=1", "model.code_dim=16",
        "model.n_top=4", "model.n_bottom=3", "model.downsample=8", "dataloader.batch_size=64"]
DANNCE = REPO.parent / "shared" / "data" / "dannce_mouse3d" / "markerless_mouse_1_save_data_AVG.mat"
RAT = REPO.parent / "shared" / "data" / "stac_mjx_rodent3d" / "test_rodent_mocap_1000_frames.mat"
DLC2D = REPO.parent / "shared" / "data" / "bsoid_mouse2d_gpl" / "raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.h5"


run = run_script


def train(expdir, *overrides) -> Path:
    r = run("train.py", "configs/base/vqvae.yaml", f"expdir={expdir}", *TINY, *overrides)
    assert r.returncode == 0, r.stderr[-2000:]
    return Path(expdir) / "checkpoints" / "best.pt"


@pytest.fixture(scope="session")
def synth_ckpt(tmp_path_factory):
    "A tiny VQ-VAE trained through `python train.py` on three short synthetic sessions."
    d = tmp_path_factory.mktemp("synth")
    return train(d / "exp", "dataset.n_sessions=3", "dataset.seconds=30", "dataset.preprocess.window=32")


@pytest.fixture(scope="session")
def synth_all(synth_ckpt):
    "`--mode all` run once; returns (result, output folder)."
    r = run("inference.py", synth_ckpt, "--mode", "all", "--anim-frames", "2")
    return r, synth_ckpt.parent.parent / "inference"


def test_mode_all_writes_every_output(synth_all):
    r, out = synth_all
    assert r.returncode == 0, r.stderr[-2000:]
    for f in ["report.html", "metrics.json", "usage.csv", "transitions_top.csv", "transitions_bottom.csv",
              "hierarchy.png", "latent.png", "usage_top.png", "codebook/gallery.png", "codebook/motif_examples.npz"]:
        assert (out / f).is_file(), f
    assert list((out / "recon").glob("*.html")) and list((out / "codebook").glob("top_*.html"))
    codes = sorted((out / "codes").glob("*.csv"))
    assert len(codes) == 3
    df = pd.read_csv(codes[0])
    assert list(df.columns) == ["frame", "time", "top", "bottom", "motif"]
    assert len(df) == 30 * 30 and (df.frame.diff().dropna() == 1).all()
    m = json.loads((out / "metrics.json").read_text())
    assert m["mpjpe"] >= m["pa_mpjpe"] >= 0 and 0 <= m["hierarchy_recovery"]["nmi_top"] <= 1
    assert "data:image/png;base64" in (out / "report.html").read_text()


def test_transition_rows_are_distributions(synth_all):
    _, out = synth_all
    for level in ("top", "bottom"):
        tr = pd.read_csv(out / f"transitions_{level}.csv")
        assert len(tr) and (tr["from"] != tr["to"]).all()
        assert np.allclose(tr.groupby(["session", "from"])["probability"].sum(), 1.0)


def test_existing_output_left_untouched(synth_all, synth_ckpt):
    _, out = synth_all
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    line = error_line(run("inference.py", synth_ckpt, "--mode", "usage"))
    assert "already exists" in line and "--overwrite" in line
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    r = run("inference.py", synth_ckpt, "--mode", "usage", "--overwrite")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "usage.csv").stat().st_mtime_ns > before[out / "usage.csv"]


def test_out_folder_and_unknown_mode(synth_ckpt, tmp_path):
    assert "did you mean 'usage'" in error_line(run("inference.py", synth_ckpt, "--mode", "usag", "--out", tmp_path / "o"))
    assert not (tmp_path / "o").exists()
    r = run("inference.py", synth_ckpt, "--mode", "codes", "--out", tmp_path / "o")
    assert r.returncode == 0 and len(list((tmp_path / "o" / "codes").glob("*.csv"))) == 3


def test_bad_checkpoints(tmp_path):
    assert "not found" in error_line(run("inference.py", tmp_path / "nope.pt", "--mode", "codes"))
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint at all")
    assert "corrupt.pt" in error_line(run("inference.py", tmp_path / "corrupt.pt", "--mode", "codes"))
    import torch
    torch.save({"format": "someone-else/3", "model": {}}, tmp_path / "other.pt")
    assert "format" in error_line(run("inference.py", tmp_path / "other.pt", "--mode", "codes"))


def test_recording_missing_keypoints(synth_ckpt, tmp_path):
    from vqmap_nb.data.skeleton import load_skeleton
    names = load_skeleton("synth_rat").keypoints
    pos = np.random.default_rng(0).normal(size=(200, len(names) - 1, 3)).astype(np.float32)
    np.savez(tmp_path / "short.npz", position=pos, keypoint_names=np.array(names[1:]), fps=30.0)
    line = error_line(run("inference.py", synth_ckpt, "--mode", "codes", "--data", tmp_path / "short.npz",
                          "--out", tmp_path / "o"))
    assert names[0] in line and "missing" in line


def test_2d_data_into_3d_model(synth_ckpt, tmp_path):
    if not DLC2D.exists(): pytest.skip(f"{DLC2D} not present")
    line = error_line(run("inference.py", synth_ckpt, "--mode", "codes", "--data", DLC2D, "--out", tmp_path / "o"))
    assert "2D" in line and "3D" in line


@pytest.fixture(scope="session")
def dannce_ckpt(tmp_path_factory):
    "A tiny VQ-VAE trained on the DANNCE mouse22 recording."
    if not DANNCE.exists(): pytest.skip(f"{DANNCE} not present")
    return train(tmp_path_factory.mktemp("dannce") / "exp", "dataset=configs/dataset/dannce.yaml",
                 "dataset.preprocess.conf_threshold=0",    # DANNCE p_max values are not calibrated confidences
                 "dataset.preprocess.window_seconds=0.64")  # 10 s in 5 blocks: a window must fit in one


def test_new_recording_with_stored_preprocessing(dannce_ckpt, tmp_path):
    r = run("inference.py", dannce_ckpt, "--mode", "codes", "usage", "--data", DANNCE, "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(tmp_path / "o" / "codes" / f"{DANNCE.stem}.csv")
    assert len(df) == 1000 and (df.top >= 0).mean() > 0.5
    assert np.isclose(df.time.iloc[1] - df.time.iloc[0], 1 / 100)
    us = pd.read_csv(tmp_path / "o" / "usage.csv")
    assert set(us.session) == {DANNCE.stem}


def test_other_skeleton_is_refused(dannce_ckpt, tmp_path):
    if not RAT.exists(): pytest.skip(f"{RAT} not present")
    line = error_line(run("inference.py", dannce_ckpt, "--mode", "codes", "--data", RAT, "--out", tmp_path / "o"))
    assert RAT.name in line and "mouse22" in line


def test_custom_skeleton_yaml_travels_in_the_checkpoint(tmp_path):
    "Train on .npy files with a skeleton yaml of one's own; the yaml is gone at inference: the checkpoint carries it."
    import yaml

    from vqmap_nb.data.synthetic import simulate_session
    sk = yaml.safe_load((REPO / "configs" / "skeleton" / "synth_rat.yaml").read_text())
    (tmp_path / "my_rat16.yaml").write_text(yaml.safe_dump({**sk, "name": "my_rat16"}))
    for i in range(3): np.save(tmp_path / f"rec{i}.npy", simulate_session(i, seconds=20).position)
    np.save(tmp_path / "new.npy", simulate_session(9, seconds=10).position)
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({"name": "files", "paths": [str(tmp_path / "rec*.npy")],
                                                        "skeleton": str(tmp_path / "my_rat16.yaml"), "fps": 30}))
    ckpt = train(tmp_path / "exp", f"dataset={tmp_path / 'mine.yaml'}")
    from vqmap_nb.core import load_torch
    assert load_torch(ckpt)["skeleton"]["name"] == "my_rat16"
    (tmp_path / "my_rat16.yaml").unlink()
    r = run("inference.py", ckpt, "--mode", "codes", "--data", tmp_path / "new.npy", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(tmp_path / "o" / "codes" / "new.csv")
    assert len(df) == 300 and (df.top >= 0).mean() > 0.5
