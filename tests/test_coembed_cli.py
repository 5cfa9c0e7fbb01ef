"""End-to-end: `python inference.py CKPT --mode all` on a tiny co-embedding trained through `python train.py`."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import error_line, run_script

pytestmark = pytest.mark.xdist_group("test_coembed_cli")  # one worker runs this file (its module fixtures are built once)

REPO = Path(__file__).resolve().parents[1]
SECONDS, FPS = 8, 30
TINY = ["train.epochs=1", "+train.max_steps_per_epoch=2", "train.progress=false", "train.device=cpu",
        "dataloader.batch_size=16", "model.adapter_dim=16", "model.width=16", "model.depth=1", "model.code_dim=8",
        "model.n_top=3", "model.n_bottom=2", "model.downsample=8", "model.init=random"]
TINY += [f"dataset.datasets.{k}.{v}" for k in ("rat", "mouse")
         for v in ("n_sessions=2", f"seconds={SECONDS}", "preprocess.window=32")]
PER_DATASET = ["report.html", "metrics.json", "usage.csv", "transitions_top.csv", "transitions_bottom.csv",
               "hierarchy.png", "latent.png", "codebook/gallery.png", "codebook/motif_examples.npz"]


run = run_script



@pytest.fixture(scope="module")
def coemb_ckpt(tmp_path_factory):
    "A tiny rat + mouse co-embedding trained for two steps through `python train.py`."
    expdir = tmp_path_factory.mktemp("coemb") / "exp"
    r = run("train.py", "configs/base/vqvae_coemb.yaml", f"expdir={expdir}", *TINY)
    assert r.returncode == 0, r.stderr[-2000:]
    return expdir / "checkpoints" / "best.pt"


@pytest.fixture(scope="module")
def coemb_all(coemb_ckpt):
    "`--mode all` run once; returns (result, output folder)."
    r = run("inference.py", coemb_ckpt, "--mode", "all", "--anim-frames", "2", "--mapping-seconds", "0.2")
    return r, coemb_ckpt.parent.parent / "inference"


def test_mode_all_writes_each_dataset_and_the_joint_report(coemb_all):
    r, out = coemb_all
    assert r.returncode == 0, r.stderr[-2000:]
    for name in ("rat", "mouse"):
        for f in PER_DATASET: assert (out / name / f).is_file(), f"{name}/{f}"
        codes = sorted((out / name / "codes").glob("*.csv"))
        assert len(codes) == 2 and all(c.stem.startswith(f"synth_{name}") for c in codes)
        df = pd.read_csv(codes[0])
        assert len(df) == SECONDS * FPS and df.top.between(-1, 2).all()
        ok = df[df.top >= 0]
        assert (ok.motif == ok.top * 2 + ok.bottom).all()
        kp = json.loads((out / name / "metrics.json").read_text())["per_keypoint"]
        assert len(kp) == len(np.load(out / name / "codebook" / "motif_examples.npz")["keypoint_names"])
    for f in ("report.html", "coembed_summary.json", "usage_top.csv", "mapping_rat_to_mouse.npy", "mapping_mouse_to_rat.gif"):
        assert (out / "joint" / f).is_file(), f"joint/{f}"
    index = (out / "report.html").read_text()
    assert all(link in index for link in ("rat/report.html", "mouse/report.html", "joint/report.html"))


def test_joint_usage_matches_per_dataset_codes(coemb_all):
    "The joint report and the per-dataset analysis code the validation sessions identically (one code path)."
    _, out = coemb_all
    joint = pd.read_csv(out / "joint" / "usage_top.csv", index_col="code")
    for name in ("rat", "mouse"):
        us = pd.read_csv(out / name / "usage.csv")
        val = us[(us.level == "top") & (us.split == "val")].groupby("code")["frames"].sum()
        assert val.sum() > 0
        assert np.allclose(joint[name].values, (val / val.sum()).reindex(joint.index).values, atol=1e-9)


def test_new_recording_through_one_adapter(coemb_ckpt, tmp_path):
    from vqmap_nb.data.synthetic import write_synthetic
    f = write_synthetic(tmp_path / "rec", 1, seed=7, species="synth_rat", seconds=4)[0]
    r = run("inference.py", coemb_ckpt, "--mode", "codes", "--data", f, "--dataset", "rat", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(tmp_path / "o" / "rat" / "codes" / f"{Path(f).stem}.csv")
    assert len(df) == 4 * FPS and (df.top >= 0).mean() > 0.5
    assert not (tmp_path / "o" / "mouse").exists() and not (tmp_path / "o" / "joint").exists()


def test_bad_inputs_are_one_line_errors(coemb_ckpt, tmp_path):
    line = error_line(run("inference.py", coemb_ckpt, "--mode", "codes", "--dataset", "rta", "--out", tmp_path / "a"))
    assert "--dataset" in line and "'rat', 'mouse'" in line and "did you mean 'rat'" in line
    from vqmap_nb.data.synthetic import write_synthetic
    rec = write_synthetic(tmp_path / "rec", 1, seed=7, species="synth_rat", seconds=2)[0]
    line = error_line(run("inference.py", coemb_ckpt, "--mode", "codes", "--data", rec, "--out", tmp_path / "b"))
    assert "--dataset NAME" in line and "'rat', 'mouse'" in line
    line = error_line(run("inference.py", coemb_ckpt, "--mode", "codes", "--data", rec, "--dataset", "mouse",
                          "--out", tmp_path / "c"))
    assert "missing" in line                                   # a rat recording does not fit the mouse skeleton
    assert not any((tmp_path / d).exists() for d in ("a", "b", "c"))


# ---------------------------------------------------------------- real recordings: a mouse (20 fps) and humans (30 fps)

REAL_TINY = ["train.steps=2", "train.progress=false", "train.device=cpu", "dataloader.batch_size=8", "model.width=16",
             "model.depth=1", "model.code_dim=8", "model.adapter_dim=8", "model.init=random",
             "dataset.datasets.mouse.paths=[../shared/data/subtle_mouse3d/y3a6_adult_8294.npz]",
             "dataset.datasets.human.paths=[../shared/data/bandai_human3d/data/dataset-1_walk*.bvh]"]
HUMAN_CLIP = "bandai_human3d/data/dataset-1_walk_angry_001.bvh"      # held out by the config (style 'angry'), 143 frames


@pytest.fixture(scope="module")
def real_ckpt(tmp_path_factory):
    "The shipped mouse + human config, trained for two tiny steps on one mouse and the walking clips."
    from conftest import SHARED_DATA
    if not SHARED_DATA.is_dir(): pytest.skip(f"{SHARED_DATA} not present")
    expdir = tmp_path_factory.mktemp("real") / "exp"
    r = run("train.py", "configs/base/vqvae_coemb_real.yaml", f"expdir={expdir}", *REAL_TINY)
    assert r.returncode == 0, r.stderr[-2000:]
    return expdir / "checkpoints" / "best.pt"


def test_real_config_trains_both_species_at_their_own_frame_rates(real_ckpt, shared_data):
    import torch
    ck = torch.load(real_ckpt, map_location="cpu", weights_only=False)
    assert ck["kind"] == "coembed" and sorted(ck["preprocessors"]) == ["human", "mouse"]
    assert ck["model_config"]["fps"] == {"mouse": 20.0, "human": 30.0} and ck["model_config"]["core_fps"] == 20.0
    human = ck["config"]["dataset"]["datasets"]["human"]
    assert all("angry" not in s for s in ck["sessions"]["human"]["train"] + ck["sessions"]["human"]["val"])   # held out
    assert human["exclude"] and ck["preprocessors"]["human"]["config"]["window"] == 48                          # 1.6 s at 30 fps
    assert ck["preprocessors"]["mouse"]["config"]["window"] == 32                                                # 1.6 s at 20 fps


def test_new_recordings_of_each_species(real_ckpt, shared_data, tmp_path):
    "`--dataset human --data CLIP.bvh` codes a held-out clip in its own 30 fps frames (6 per code); the mouse likewise."
    clip = shared_data / HUMAN_CLIP
    r = run("inference.py", real_ckpt, "--mode", "codes", "--dataset", "human", "--data", clip, "--out", tmp_path / "h")
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(tmp_path / "h" / "human" / "codes" / f"{clip.stem}.csv")
    assert len(df) == 143 and (df.top >= 0).all()
    assert np.allclose(df.time.values[:7], np.arange(7) / 30, atol=1e-4)
    starts = np.flatnonzero(np.diff(df.motif.values)) + 1
    assert (starts % 6 == 0).all()                                      # codes change only every 6 frames (0.2 s)
    mouse = shared_data / "subtle_mouse3d" / "y5a5_young_7100.npz"
    r = run("inference.py", real_ckpt, "--mode", "codes", "--dataset", "mouse", "--data", mouse, "--out", tmp_path / "m")
    assert r.returncode == 0, r.stderr[-2000:]
    dm = pd.read_csv(tmp_path / "m" / "mouse" / "codes" / f"{mouse.stem}.csv")
    assert len(dm) == len(np.load(mouse)["position"]) and ((np.flatnonzero(np.diff(dm.motif.values)) + 1) % 4 == 0).all()
