"""The analysis modes a study needs after fitting, through `inference.py`'s entry point (`infer_main`, in process):
groups (--meta), movies (skeleton grids; video cuts for 2D pixel data with a `video` column), export (NWB, Parquet)
and --names (names and merges of motifs). Tiny models are trained once per module, on synthetic 3D sessions and on
2D pixel keypoints written here.
"""
import base64
import functools
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from helpers import run_main

from vqmap_nb import movies
from vqmap_nb.cli import infer_main, train_main
from vqmap_nb.data.synthetic import simulate_session

pytestmark = pytest.mark.xdist_group("test_analysis_modes_cli")  # one worker runs this file (its module fixtures are built once)

N_TOP, N_BOTTOM = 3, 2
TINY = ["model.width=16", "model.depth=1", "model.code_dim=8", f"model.n_top={N_TOP}", f"model.n_bottom={N_BOTTOM}",
        "model.downsample=8", "dataset.preprocess.window=32", "train.epochs=1", "train.progress=false",
        "dataloader.batch_size=64"]
MAINS = {"train": train_main, "infer": infer_main}
HAS_IMAGEIO = importlib.util.find_spec("imageio") is not None
HAS_NWB = all(importlib.util.find_spec(m) is not None for m in ("pynwb", "ndx_pose"))
HAS_PARQUET = importlib.util.find_spec("pyarrow") is not None


def cli(main: str, argv: list) -> tuple[int, list[str]]:
    "Run console entry point `main` (a key of MAINS) in-process: (exit code, non-empty stderr lines)."
    return run_main(MAINS[main], argv)


def infer(*argv) -> Path:
    "`inference.py CKPT ... --out OUT --quiet` that must succeed; returns OUT."
    rc, lines = cli("infer", [*argv, "--quiet"])
    assert rc == 0, lines
    return Path(argv[argv.index("--out") + 1])


def refused(*argv) -> str:
    "The one stderr line of a refused `inference.py` run (exit 2); its --out folder must not exist."
    rc, lines = cli("infer", [*argv, "--quiet"])
    assert rc == 2 and len(lines) == 1, (rc, lines)
    out = Path(argv[argv.index("--out") + 1])
    assert not out.exists() and not list(out.parent.glob(f".{out.name}.partial-*")), "output left behind"
    return lines[0]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


MOVIE_EXAMPLES = 4


def _smaller(write, **small):
    "`write` with the sizes in `small` (the analysis passes n_examples itself)."
    @functools.wraps(write)
    def wrapped(*args, **kw): return write(*args, **{**kw, **small})
    return wrapped


@pytest.fixture(autouse=True)
def small_movies(monkeypatch):
    "Movies of 4 examples cut to a few frames on small tiles: the CLI's code path, a fraction of the rendering time."
    monkeypatch.setattr(movies, "write_motif_movies", _smaller(movies.write_motif_movies, n_examples=MOVIE_EXAMPLES, max_frames=3, size=1.0, dpi=30))
    monkeypatch.setattr(movies, "write_video_movies", _smaller(movies.write_video_movies, n_examples=MOVIE_EXAMPLES, max_frames=6))


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    "A tiny VQ-VAE on four synthetic 3D sessions of 20 s."
    e = tmp_path_factory.mktemp("synth") / "exp"
    rc, lines = cli("train", ["configs/base/vqvae.yaml", f"expdir={e}", "dataset.n_sessions=4", "dataset.seconds=20", *TINY])
    assert rc == 0, lines
    return e / "checkpoints" / "best.pt"


@pytest.fixture(scope="module")
def base(synth, tmp_path_factory) -> Path:
    "codes and usage of the model's own sessions, without names."
    return infer(synth, "--mode", "codes", "usage", "--out", tmp_path_factory.mktemp("base") / "out")


def codes_of(out: Path) -> dict:
    return {p.stem: pd.read_csv(p) for p in sorted((out / "codes").glob("*.csv"))}


def key(m: int) -> str: return f"{m // N_BOTTOM}.{m % N_BOTTOM}"


# ---------------------------------------------------------------- groups

@pytest.fixture(scope="module")
def sessions_csv(base, tmp_path_factory) -> Path:
    "The four sessions, one animal each, two groups."
    names = sorted(codes_of(base))
    path = tmp_path_factory.mktemp("meta") / "sessions.csv"
    pd.DataFrame({"session": names, "animal": [f"m{i}" for i in range(4)], "group": ["ctrl", "ctrl", "drug", "drug"]}).to_csv(path, index=False)
    return path


def bh(p: np.ndarray) -> np.ndarray:
    "Benjamini-Hochberg q of finite p-values (reference implementation)."
    m, order = len(p), np.argsort(p)
    q = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1].clip(max=1)
    out = np.empty(m); out[order] = q
    return out


def test_groups_table_plots_and_report(synth, sessions_csv, tmp_path):
    out = infer(synth, "--mode", "groups", "report", "--meta", sessions_csv, "--out", tmp_path / "g")
    st = pd.read_csv(out / "groups.csv", dtype={"name": str})
    for c in ["level", "code", "name", "test", "statistic", "p", "q", "mean_ctrl", "sd_ctrl", "n_ctrl", "mean_drug", "sd_drug", "n_drug"]:
        assert c in st.columns, c
    assert st[st.level == "top"].code.tolist() == list(range(N_TOP))                 # one row per top code
    assert st[st.level == "motif"].code.tolist() == list(range(N_TOP * N_BOTTOM))    # and per motif
    assert (st.n_ctrl == 2).all() and (st.n_drug == 2).all() and set(st.test) == {"Mann-Whitney U"}
    usage = pd.read_csv(out / "usage.csv", dtype={"name": str})
    group = pd.read_csv(sessions_csv).set_index("session").group
    for (level, code), row in st.set_index(["level", "code"]).iterrows():
        u = usage[(usage.level == level) & (usage.code == code)].set_index("session").fraction
        for g in ("ctrl", "drug"):
            v = u[group[u.index] == g]
            assert np.isclose(row[f"mean_{g}"], v.mean()) and np.isclose(row[f"sd_{g}"], v.std(ddof=1)), (level, code, g)
    for level, s in st.groupby("level"):
        ok = s.p.notna()
        assert ok.any() and np.allclose(s.q[ok], bh(s.p[ok].to_numpy())), level
        assert s.q[~ok].isna().all()                                                   # no test, no q
    html = (out / "report.html").read_text()
    for f in ("groups_top.png", "groups_motif.png", "transitions_difference.png"):
        assert (out / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f
        assert base64.b64encode((out / f).read_bytes()).decode() in html, f"{f} is not in the report"
    assert "Usage by group" in html and "Transitions: second group minus first" in html


def test_groups_bad_meta(synth, sessions_csv, tmp_path):
    (tmp_path / "nosession.csv").write_text(sessions_csv.read_text().replace("session,", "name,", 1))
    line = refused(synth, "--mode", "groups", "--meta", tmp_path / "nosession.csv", "--out", tmp_path / "a")
    assert "no 'session' column" in line and "nosession.csv" in line
    meta = pd.read_csv(sessions_csv)
    meta.iloc[:3].to_csv(tmp_path / "short.csv", index=False)
    line = refused(synth, "--mode", "groups", "--meta", tmp_path / "short.csv", "--out", tmp_path / "b")
    assert f"no row for session '{meta.session[3]}'" in line
    line = refused(synth, "--mode", "groups", "--out", tmp_path / "c")
    assert "--meta" in line


# ---------------------------------------------------------------- movies

def used_motifs(codes: dict, min_frames: int = 3) -> set:
    "Motifs with a bout of at least `min_frames` (what a movie is made of)."
    return {int(m) for c in codes.values() for m in movies.motif_bouts(c).query(f"frames >= {min_frames}").motif}


def test_movies_one_per_used_motif(synth, tmp_path):
    out = infer(synth, "--mode", "movies", "--out", tmp_path / "m")
    made = sorted(p.name for p in (out / "movies").iterdir())
    suffix = ".mp4" if movies.mp4_available() else ".gif"
    assert made == sorted(f"motif_{key(m)}{suffix}" for m in used_motifs(codes_of(out)))
    assert all((out / "movies" / f).stat().st_size > 1000 for f in made)


MOUSE6 = {"Snout": "Snout", "Front Paw R": "ForepawR", "Front Paw L": "ForepawL", "Hind Paw R": "HindpawR",
          "Hind Paw L": "HindpawL", "Butt/Proximal Tail": "TailBase"}
VIDEO = (112, 128)                                                       # H, W: multiples of 16 (H.264 macroblocks)


def pixels(seed: int, seconds: float) -> np.ndarray:
    "(T, 6, 2) mouse6 keypoints in the pixels of a 112 x 128 video: a synthetic rat seen from above."
    s = simulate_session(seed, seconds=seconds)
    xy = s.position[:, [s.keypoint_names.index(v) for v in MOUSE6.values()], :2]      # mm, top view
    return ((xy - np.nanmin(xy, (0, 1))) * 0.25 + 16).astype(np.float32)


def write_video(path: Path, kp: np.ndarray) -> Path:
    "A dark video of the keypoints as white dots, one frame per row of `kp` (mp4 with imageio-ffmpeg, else GIF)."
    import imageio.v2 as iio2
    frames = np.full((len(kp), *VIDEO, 3), 30, np.uint8)
    for t, pose in enumerate(kp):
        for x, y in pose[np.isfinite(pose).all(1)].astype(int): frames[t, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = 255
    if movies.mp4_available(): iio2.mimwrite(path.with_suffix(".mp4"), frames, fps=30, macro_block_size=16)
    else: iio2.mimwrite(path.with_suffix(".gif"), frames, duration=1000 / 30)
    return path.with_suffix(".mp4" if movies.mp4_available() else ".gif")


@pytest.fixture(scope="module")
def pixel_model(tmp_path_factory) -> tuple[Path, Path]:
    "A tiny VQ-VAE trained on three 2D .npz recordings (mouse6 skeleton, pixels); returns (checkpoint, folder)."
    d = tmp_path_factory.mktemp("px")
    for i in range(3):
        np.savez(d / f"train{i}.npz", position=pixels(i, 20), keypoint_names=np.array(list(MOUSE6)), fps=30.0)
    (d / "px.yaml").write_text(yaml.safe_dump({"name": "files", "paths": [str(d / "train*.npz")], "skeleton": "mouse6", "fps": 30}))
    rc, lines = cli("train", ["configs/base/vqvae.yaml", f"expdir={d / 'exp'}", f"dataset={d / 'px.yaml'}", *TINY])
    assert rc == 0, lines
    return d / "exp" / "checkpoints" / "best.pt", d


def test_video_movies_for_2d_pixel_data(pixel_model, tmp_path):
    if not HAS_IMAGEIO: pytest.skip("imageio is not installed: no video to cut")
    import imageio.v3 as iio
    ckpt, _ = pixel_model
    rows = []
    (tmp_path / "videos").mkdir()
    for i, seed in enumerate((7, 8)):
        kp = pixels(seed, 10)
        np.save(tmp_path / f"s{i}.npy", kp)                                   # .npy: names and fps come from the model
        rows.append({"session": f"s{i}", "animal": f"m{i}", "group": "a", "video": write_video(tmp_path / "videos" / f"s{i}", kp).relative_to(tmp_path)})
    pd.DataFrame(rows).to_csv(tmp_path / "sessions.csv", index=False)           # video paths relative to the table
    out = infer(ckpt, "--mode", "movies", "--data", tmp_path / "s0.npy", tmp_path / "s1.npy", "--fps", 30,
                "--meta", tmp_path / "sessions.csv", "--out", tmp_path / "o")
    codes = codes_of(out)
    used = used_motifs(codes)
    suffix = ".mp4" if movies.mp4_available() else ".gif"
    cuts = sorted((out / "movies").glob("video_*"))
    assert [p.name for p in cuts] == sorted(f"video_{key(m)}{suffix}" for m in used)
    assert len(list((out / "movies").glob("motif_*"))) == len(used)           # the skeleton grids as well
    for p in cuts:
        m = int(p.stem.split("_")[1].split(".")[0]) * N_BOTTOM + int(p.stem.split(".")[1])
        n = len(movies.motif_examples(codes, m, MOVIE_EXAMPLES, 3))           # tiles: the motif's longest bouts
        cols = min(int(np.ceil(np.sqrt(n))), n)
        frame = iio.imread(p, index=0)
        assert frame.shape[:2] == (-(-n // cols) * 160, cols * 160), (p.name, n, frame.shape)   # 160 px crops in a grid


def test_video_column_with_3d_data_warns_and_skips(synth, base, tmp_path):
    if not HAS_IMAGEIO: pytest.skip("imageio is not installed")
    names = sorted(codes_of(base))
    pd.DataFrame({"session": names, "video": "none.mp4"}).to_csv(tmp_path / "m.csv", index=False)
    with pytest.warns(UserWarning, match="only for 2D"):
        out = infer(synth, "--mode", "movies", "--meta", tmp_path / "m.csv", "--out", tmp_path / "o")
    assert not list((out / "movies").glob("video_*")) and list((out / "movies").glob("motif_*"))


# ---------------------------------------------------------------- export

@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> list[Path]:
    "Two new 3D recordings with missing points, as .npz."
    d = tmp_path_factory.mktemp("recs")
    for seed in (31, 32):
        s = simulate_session(seed, seconds=8)
        np.savez(d / f"rec{seed}.npz", position=s.position, keypoint_names=np.array(s.keypoint_names), fps=30.0)
    return sorted(d.glob("*.npz"))


def test_export_nwb_round_trip(synth, recordings, tmp_path):
    if not HAS_NWB: pytest.skip("pynwb / ndx-pose not installed")
    from vqmap_nb.export import BOUT_INTERVAL_COLUMNS, bout_intervals, read_nwb
    out = infer(synth, "--mode", "export", "--format", "nwb", "--data", *recordings, "--out", tmp_path / "e")
    codes = codes_of(out)
    assert sorted(p.name for p in (out / "export").iterdir()) == sorted(f"{r.stem}.nwb" for r in recordings)
    for r in recordings:
        rec = np.load(r)
        poses, bouts = read_nwb(out / "export" / f"{r.stem}.nwb")
        np.testing.assert_allclose(poses.position, rec["position"], rtol=1e-6, equal_nan=True)
        assert poses.keypoint_names == rec["keypoint_names"].tolist() and poses.fps == 30.0 and poses.name == r.stem
        expected = bout_intervals(codes[r.stem], 30.0)
        assert len(bouts) == len(expected) > 0
        pd.testing.assert_frame_equal(bouts[BOUT_INTERVAL_COLUMNS], expected, check_dtype=False)
        c = codes[r.stem]                                                           # the intervals cover the valid frames
        assert np.isclose((bouts.stop_time - bouts.start_time).sum(), (c.motif >= 0).sum() / 30.0)


def test_export_parquet_round_trip(synth, recordings, tmp_path):
    if not HAS_PARQUET: pytest.skip("pyarrow not installed")
    out = infer(synth, "--mode", "export", "--format", "parquet", "--data", *recordings, "--out", tmp_path / "e")
    codes = codes_of(out)
    table = pd.read_parquet(out / "export")                                         # one file per session, read as one table
    assert sorted(table.session.unique()) == sorted(r.stem for r in recordings)
    for r in recordings:
        rec, t = np.load(r), table[table.session == r.stem].reset_index(drop=True)
        pd.testing.assert_frame_equal(t[codes[r.stem].columns], codes[r.stem], check_dtype=False)
        for i, k in enumerate(rec["keypoint_names"]):
            for d, ax in enumerate("xyz"):
                np.testing.assert_allclose(t[f"{k}_{ax}"], rec["position"][t.frame, i, d], rtol=1e-6, equal_nan=True)


# ---------------------------------------------------------------- names

def test_names_and_merge(synth, base, tmp_path):
    usage = pd.read_csv(base / "usage.csv", dtype={"name": str})
    top = usage[usage.level == "top"].groupby("code").frames.sum().idxmax()        # the most used top code
    first, second = top * N_BOTTOM, top * N_BOTTOM + 1
    (tmp_path / "motifs.yaml").write_text(yaml.safe_dump({"top": {int(top): "rear"}, "motifs": {key(first): "rear-high"},
                                                          "merge": [[key(first), key(second)]]}))
    out = infer(synth, "--mode", "codes", "usage", "codebook", "report", "--names", tmp_path / "motifs.yaml",
                "--anim-frames", 2, "--out", tmp_path / "n")
    before, after = codes_of(base), codes_of(out)
    for s in before:                                                                  # codes: 1.1 counted as 1.0, nothing else moves
        expected = before[s].motif.replace(second, first)
        assert (after[s].motif == expected).all() and (after[s].motif != second).all()
        assert (after[s][["top", "bottom"]] == before[s][["top", "bottom"]]).all().all()
    named = pd.read_csv(out / "usage.csv", dtype={"name": str})
    frames = lambda u, level, code: u[(u.level == level) & (u.code == code)].frames.sum()
    assert set(named[(named.level == "top") & (named.code == top)].name) == {"rear"}
    assert set(named[(named.level == "motif") & (named.code == first)].name) == {"rear-high"}
    assert frames(named, "motif", first) == frames(usage, "motif", first) + frames(usage, "motif", second)
    assert frames(named, "motif", second) == 0
    html = (out / "report.html").read_text()
    assert "top code rear: usage" in html                                               # the summary
    if frames(named, "motif", first):
        assert f"rear-high ({key(first)}, #{first})" in html and f"with {key(second)}" in html   # the gallery
    assert "Download motifs.yaml" in html
