"""Loaders on every real file in ../shared/data (skipped when absent) and on bad input written into tmp_path."""
from pathlib import Path

import numpy as np
import pytest

from vqmap_nb.core import VQMapError
from vqmap_nb.data.io import Poses, load_poses
from vqmap_nb.data.skeleton import load_skeleton

pytestmark = pytest.mark.xdist_group("test_loaders")  # one worker runs this file (its module fixtures are built once)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CASES = [  # file, kwargs, shape per session, n sessions, fps
    ("dannce_mouse3d/markerless_mouse_1_save_data_AVG.mat", dict(skeleton="mouse22"), (1000, 22, 3), 1, 100),
    ("stac_mjx_rodent3d/test_rodent_mocap_1000_frames.mat", dict(skeleton="rat23", fps=50), (1000, 23, 3), 1, 50),
    ("stac_mjx_rodent3d/test_mouse_mocap_3600_frames.h5", dict(skeleton="mouse34"), (3600, 34, 3), 1, 30),
    ("oist_mouse_mocap3d/MOS1aD_S15_M5_MC2_T2_TRM_15MMIN_B.mat", dict(skeleton="mouse11"), (10500, 11, 3), 1, 300),
    ("jabs_mouse2d/sample_pose_est_v2.h5", dict(skeleton="mouse12"), (1800, 12, 2), 1, 30),
    ("jabs_mouse2d/sample_pose_est_v5.h5", dict(skeleton="mouse12"), (1800, 12, 2), 3, 30),
    ("deepof_mouse2d/testDLC_square_arena.h5", dict(skeleton="mouse14", fps=25), (451, 14, 2), 1, 25),
    ("deepof_mouse2d/testDLC_csv_table.csv", dict(skeleton="mouse14", fps=25), (97, 14, 2), 1, 25),
    ("deepof_mouse2d/testDLC_h5_table_madlc.h5", dict(skeleton="mouse14", fps=25), (100, 14, 2), 2, 25),
    ("deepof_mouse2d/testDLC_sleap.analysis.h5", dict(skeleton="mouse14", fps=25), (101, 14, 2), 1, 25),
    ("bsoid_mouse2d_gpl/raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.h5",
     dict(skeleton="mouse6", fps=60, conf_threshold=0.6), (7200, 6, 2), 1, 60),
    ("cmu_human_bvh/131_01.bvh", dict(skeleton="human31"), (994, 31, 3), 1, 120),
    ("cmu_human_bvh/131_02.bvh", dict(skeleton="human31"), (1247, 31, 3), 1, 120),
    ("cmu_human_bvh/01_01.bvh", dict(skeleton="human31"), (2752, 31, 3), 1, 120),
    ("subtle_mouse3d/y5a5_adult_6112.npz", dict(skeleton="subtle_mouse9"), (12010, 9, 3), 1, 20),
    ("bandai_human3d/data/dataset-1_bow_active_001.bvh", dict(skeleton="bandai_human"), (128, 21, 3), 1, 30),
]
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data absent")


@needs_data
@pytest.mark.parametrize("fn,kw,shape,n,fps", CASES, ids=[c[0].split("/")[-1] for c in CASES])
def test_real_file(fn, kw, shape, n, fps):
    path = DATA / fn
    if not path.exists(): pytest.skip(f"{fn} absent")
    ps = load_poses(path, **kw)
    sk = load_skeleton(kw["skeleton"])
    assert len(ps) == n and len({p.name for p in ps}) == n
    for p in ps:
        assert p.position.shape == shape and p.position.dtype == np.float32
        assert p.keypoint_names == sk.keypoints and p.skeleton == sk.name
        assert p.fps == pytest.approx(fps, rel=1e-3)
        assert np.isfinite(p.position).any()
        assert p.source == str(path)


@needs_data
def test_every_file_is_read():
    """Each pose file in the folder loads without arguments (names from the file or generic)."""
    files = [f for f in sorted(DATA.rglob("*")) if f.suffix in {".mat", ".h5", ".csv", ".bvh"} and "skeleton" not in f.name]
    assert files
    for f in files:
        ps = load_poses(f)
        assert ps and all(isinstance(p, Poses) and p.n_frames > 0 for p in ps), f


@needs_data
def test_jabs_is_xy_and_missing_is_nan():
    h5py = pytest.importorskip("h5py")
    f = DATA / "jabs_mouse2d/sample_pose_est_v5.h5"
    if not f.exists(): pytest.skip("absent")
    ps = load_poses(f)
    with h5py.File(f) as h: conf = h["poseest/confidence"][:]
    assert 0 < np.mean([np.isnan(p.position).mean() for p in ps]) < 0.5
    assert (conf == 0).any()
    v2 = DATA / "jabs_mouse2d/sample_pose_est_v2.h5"
    with h5py.File(v2) as h: raw = h["poseest/points"][:]
    np.testing.assert_array_equal(load_poses(v2)[0].position[..., 1], raw[..., 0])   # y is the file's first column


@needs_data
def test_bvh_subject_131_maps_onto_01_01_names():
    a, b = DATA / "cmu_human_bvh/131_01.bvh", DATA / "cmu_human_bvh/01_01.bvh"
    if not (a.exists() and b.exists()): pytest.skip("absent")
    raw = load_poses(a)[0]
    assert "LeftHip" in raw.keypoint_names
    p = load_poses(a, skeleton="human31")[0]
    # 131's LeftHip is 01_01's LeftUpLeg: same joint data after renaming
    np.testing.assert_array_equal(p.position[:, p.keypoint_names.index("LeftUpLeg")],
                                  raw.position[:, raw.keypoint_names.index("LeftHip")])
    z = p.position[..., 2]
    assert np.median(z.min(1)) < 3 < np.median(z[:, p.keypoint_names.index("Head")])   # z is up: head above feet


def _bad(tmp_path, name, content, **kw):
    f = tmp_path / name
    if isinstance(content, bytes): f.write_bytes(content)
    elif isinstance(content, np.ndarray): np.save(f, content)
    with pytest.raises(VQMapError) as e: load_poses(f, **kw)
    msg = str(e.value)
    assert name in msg and "\n" not in msg, msg
    return msg


def test_missing_file(tmp_path):
    with pytest.raises(VQMapError, match="nothere.mat: file not found"): load_poses(tmp_path / "nothere.mat")


def test_empty_file(tmp_path): assert "empty" in _bad(tmp_path, "e.h5", b"")


def test_unknown_extension(tmp_path): assert "unknown file type" in _bad(tmp_path, "p.parquet", b"abc")


def test_wrong_rank(tmp_path): assert "3 dims" in _bad(tmp_path, "r.npy", np.zeros((10, 6)))


def test_truncated_h5(tmp_path):
    h5py = pytest.importorskip("h5py")
    good = tmp_path / "good.h5"
    with h5py.File(good, "w") as h: h["tracks"] = np.random.rand(200, 1, 5, 3)
    data = good.read_bytes()
    assert "cannot read" in _bad(tmp_path, "cut.h5", data[: len(data) // 2])


def test_corrupt_mat(tmp_path):
    assert "cannot read" in _bad(tmp_path, "c.mat", b"MATLAB 5.0 MAT-file" + b"\x07" * 300)


def test_all_nan(tmp_path): assert "all NaN" in _bad(tmp_path, "n.npy", np.full((5, 3, 3), np.nan))


def test_keypoint_count_mismatch(tmp_path):
    assert "skeleton 'rat23' has 23" in _bad(tmp_path, "k.npy", np.zeros((5, 4, 3)), skeleton="rat23")


def test_2d_data_3d_skeleton(tmp_path):
    assert "2D data cannot use the 3D skeleton" in _bad(tmp_path, "two.npy", np.zeros((5, 23, 2)), skeleton="rat23")


def test_missing_names_listed(tmp_path):
    np.savez(tmp_path / "s.npz", position=np.zeros((5, 3, 2)), keypoint_names=np.array(["Snout", "Front Paw R", "x"]), fps=30.0)
    with pytest.raises(VQMapError) as e: load_poses(tmp_path / "s.npz", skeleton="mouse6")
    assert "s.npz" in str(e.value) and "'Hind Paw L'" in str(e.value) and "missing 4 keypoints" in str(e.value)


def test_folder_and_glob_are_sorted(tmp_path):
    for n in ("b", "a", "c"): np.save(tmp_path / f"{n}.npy", np.ones((4, 2, 3)))
    assert [p.name for p in load_poses(tmp_path)] == ["a", "b", "c"]
    assert [p.name for p in load_poses(str(tmp_path / "[ab].npy"))] == ["a", "b"]


def test_movement_round_trip(tmp_path):
    pytest.importorskip("xarray")
    p = Poses(np.random.rand(20, 3, 2), ["a", "b", "c"], fps=25, confidence=np.ones((20, 3)), name="s", individual="m1")
    for plural in (True, False):
        q = Poses.from_movement(p.to_movement(plural=plural))
        np.testing.assert_array_equal(q.position, p.position)
        assert q.keypoint_names == p.keypoint_names and q.fps == pytest.approx(25)
    p.to_movement().to_netcdf(tmp_path / "m.nc")
    assert load_poses(tmp_path / "m.nc")[0].n_frames == 20


@needs_data
@pytest.mark.parametrize("config,fps,window,code,pool", [("subtle_mouse.yaml", 20, 64, 4, 5), ("bandai_human.yaml", 30, 96, 6, 5)])
def test_real_dataset_configs_in_seconds(config, fps, window, code, pool, tmp_path):
    """The shipped real dataset configs load as the default run reads them: 3.2 s windows, 0.2 s codes and a 1 s top
    context at each dataset's own frame rate; the SUBTLE labels come with the held-out files; the BVH humans are z-up."""
    from vqmap_nb.config import load_config
    from vqmap_nb.core import CONFIG_DIR
    from vqmap_nb.data.datasets import preprocess_kwargs
    from vqmap_nb.vqvae import VQVAEConfig
    cfg = load_config(CONFIG_DIR / "base" / "vqvae.yaml", [f"dataset=configs/dataset/{config}"])
    d = cfg["dataset"]
    import glob
    repo = Path(__file__).resolve().parents[1]
    paths = sorted(glob.glob(str(repo / d["paths"][0])))            # config paths are relative to the repository
    if not paths: pytest.skip(f"{d['paths'][0]} absent")
    assert d["fps"] == fps
    assert preprocess_kwargs(d.get("preprocess", {}), fps, code)["window"] == window
    mc = VQVAEConfig(**{k: v for k, v in cfg["model"].items() if k != "name"}).for_fps(fps)
    assert (mc.downsample, mc.top_pool) == (code, pool)
    p = load_poses(paths[0], skeleton=d["skeleton"], fps=d["fps"])[0]
    sk = load_skeleton(d["skeleton"])
    assert p.keypoint_names == sk.keypoints and p.fps == pytest.approx(fps, rel=1e-3)
    if config.startswith("bandai"):
        assert np.nanmedian(p.position[..., 2]) > 5 * abs(np.nanmedian(p.position[..., 1]))     # z is up
    else:
        held = load_poses(DATA / "subtle_mouse3d" / "y5a5_young_7100.npz", skeleton=d["skeleton"])[0]
        assert set(np.unique(held.meta["labels"])) <= {-1, 0, 1, 2, 3} and (held.meta["labels"] >= 0).mean() > 0.3
        assert len(d["label_names"]) == 4
