"""Fault corpus: bad data files, configs, overrides, checkpoints and CLI arguments of `train.py`, `inference.py` and
`vqmap_synth` each give ONE stderr line naming the thing and the problem, exit code 2, and leave a prepared expdir
untouched and no half-written output folder. Then: SIGKILL mid-epoch and resume; a full disk (a real 1-page-granular tmpfs when `mount` is allowed) and a
read-only disk (simulated by making `os.replace` fail with EROFS) while saving; untrusted and damaged checkpoints.

(Cases already covered by tests/test_train_cli.py and tests/test_loaders.py are not repeated.)
"""
import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_main

from vqmap_nb.cli import infer_main, synth_main, train_main
from vqmap_nb.core import VQMapError, load_torch
from vqmap_nb.train import load_checkpoint, load_model

pytestmark = pytest.mark.xdist_group("test_faults")  # one worker runs this file (its module fixtures are built once)

REPO = Path(__file__).resolve().parents[1]
TINY = ["dataset.n_sessions=3", "dataset.seconds=30", "model.width=16", "model.depth=1", "model.code_dim=8",
        "train.epochs=1", "train.progress=false", "dataloader.batch_size=64"]
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # 2 cores shared by pytest workers: spinning OpenMP threads cost 20x
MAINS = {"train": train_main, "infer": infer_main, "synth": synth_main}


def cli(main: str, argv: list) -> tuple[int, list[str]]:
    "Run console entry point `main` (a key of MAINS) in-process: (exit code, non-empty stderr lines)."
    return run_main(MAINS[main], argv)


def snapshot(root: Path) -> dict:
    "sha256 of every file under `root` (relative path -> digest)."
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    "Tiny models on 2 shared cores: one torch thread avoids OpenMP spin-waiting (20x slower under load)."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def expdir(one_thread, tmp_path_factory) -> Path:
    "A finished tiny run: parameters.yaml, metrics.csv, checkpoints/{last,best}.pt."
    e = tmp_path_factory.mktemp("faults") / "exp"
    rc, lines = cli("train", ["configs/base/vqvae.yaml", f"expdir={e}", *TINY])
    assert rc == 0 and (e / "checkpoints" / "last.pt").is_file(), lines
    return e


class _Opaque:
    "A plain class: pickling an instance needs `weights_only=False` to load back."
    def __init__(self): self.weights = [1.0, 2.0]


@pytest.fixture(scope="module")
def bad(expdir, tmp_path_factory) -> Path:
    "A folder of bad inputs: data files, configs and checkpoints."
    b = tmp_path_factory.mktemp("bad")
    good = load_torch(expdir / "checkpoints" / "last.pt")
    raw = (expdir / "checkpoints" / "last.pt").read_bytes()
    (b / "cut.pt").write_bytes(raw[: len(raw) // 2])
    (b / "empty.pt").write_bytes(b"")
    (b / "text.pt").write_text("format: vqmap_nb/1\n")
    torch.save(good["model"], b / "state_dict.pt")                                 # a bare state_dict (another format)
    torch.save({**good, "format": "vqmap_nb/2"}, b / "future.pt")
    torch.save({k: v for k, v in good.items() if k != "model"}, b / "no_model.pt")
    torch.save({**good, "kind": "diffusion"}, b / "kind.pt")
    torch.save({**good, "model_config": {**good["model_config"], "width": good["model_config"]["width"] + 8}}, b / "misfit.pt")
    (b / "folder.pt").mkdir()
    (b / "topkey.yaml").write_text("epoch: 3\n")
    (b / "list.yaml").write_text("- dataset\n- model\n")
    (b / "subcfg.yaml").write_text("dataset: nothere/dataset.yaml\n")
    np.save(b / "flat2d.npy", np.random.rand(200, 22, 2).astype(np.float32))    # 2D data, 3D skeleton mouse22
    np.save(b / "flat2d16.npy", np.random.rand(200, 16, 2).astype(np.float32))  # 2D data, 3D skeleton synth_rat
    np.save(b / "k5.npy", np.random.rand(200, 5, 3).astype(np.float32))         # 5 keypoints
    np.save(b / "short.npy", np.random.rand(20, 22, 3).astype(np.float32))      # shorter than a window
    (b / "garbage.csv").write_text("this,is\nnot,poses\n")
    (b / "empty.h5").write_bytes(b"")
    (b / "emptydir").mkdir()
    (b / "afile").write_text("x")
    (b / "synthdone").mkdir(); (b / "synthdone" / "synth_rat_seed0000.npz").write_bytes(b"earlier")
    torch.save({**good, "model": _Opaque()}, b / "object.pt")                   # raw pickles (weights_only=False)
    torch.save(_Opaque(), b / "instance.pt")
    rng = np.random.default_rng(0)                                              # synth_rat (16 keypoints) recordings
    rec = lambda T: rng.normal(size=(T, 16, 3)).astype(np.float32)
    inf = rec(200); inf[5, 3, 1] = np.inf; inf[9, 0, 2] = -np.inf
    np.save(b / "inf16.npy", inf)
    np.savez(b / "fps0.npz", position=rec(200), fps=0.0)
    np.save(b / "short16.npy", rec(20)); np.save(b / "short16b.npy", rec(20))    # shorter than a 96-frame window
    np.save(b / "good16a.npy", rec(300)); np.save(b / "good16b.npy", rec(300))
    np.save(b / "rank2.npy", rec(200)[:, :, 0]); np.save(b / "rank1.npy", rec(200)[:, 0, 0])
    return b


FILES = ["dataset=configs/dataset/dannce.yaml"]       # a `files` dataset (mouse22 skeleton), paths replaced per case
SYNTH = ["dataset=configs/dataset/files.yaml", "dataset.skeleton=synth_rat", "dataset.fps=30"]  # files of the expdir's skeleton
CK = "{E}/checkpoints/last.pt"

CASES = [  # id, main, argv ({E} = expdir, {B} = bad-input folder), substrings of the one stderr line
    # configs and overrides (train.py)
    ("cfg-unknown-top-key", "train", ["{B}/topkey.yaml"], ["topkey.yaml", "unknown top-level key 'epoch'"]),
    ("cfg-not-a-mapping", "train", ["{B}/list.yaml"], ["list.yaml", "expected a mapping"]),
    ("cfg-missing-subconfig", "train", ["{B}/subcfg.yaml"], ["nothere/dataset.yaml", "not found"]),
    ("ovr-hierarchy", "train", ["model.hierarchy=flat"], ["model.hierarchy", "'flat'"]),
    ("ovr-downsample", "train", ["model.downsample=0"], ["model.downsample", "whole number of frames"]),
    ("ovr-added-model-key", "train", ["+model.dropout=0.1"], ["model.dropout", "unknown key"]),
    ("ovr-optimizer", "train", ["optimizer.name=sgd"], ["optimizer.name", "sgd"]),
    ("ovr-device", "train", ["train.device=gpu7"], ["gpu7", "not a torch device"]),
    ("ovr-seed-type", "train", ["seed=abc"], ["seed=abc", "expected int"]),
    ("ovr-betas-type", "train", ["optimizer.betas=0.9"], ["optimizer.betas", "expected list"]),
    ("ovr-species", "train", ["dataset.species=synth_cat"], ["synth_cat", "unknown"]),
    ("ovr-window-too-long", "train", ["dataset.preprocess.window=4098"], ["4098", "shorter than one window"]),
    ("ovr-no-sessions", "train", ["dataset.n_sessions=0"], ["no sessions"]),
    ("resume-nothing", "train", ["train.resume=true"], ["last.pt", "nothing to resume"]),
    ("expdir-is-a-file", "train", ["expdir={B}/afile"], ["afile"]),
    ("train-no-args", "train", [], ["vqmap_train", "required"]),
    pytest.param("ovr-batch-size-0", "train", ["dataloader.batch_size=0"], ["batch_size"]),
    pytest.param("ovr-epochs-negative", "train", ["train.epochs=-1"], ["train.epochs"]),
    pytest.param("ovr-lr-negative", "train", ["optimizer.lr=-1"], ["optimizer.lr"]),
    pytest.param("ovr-val-fraction", "train", ["dataset.val_fraction=1.5"], ["val_fraction"]),
    pytest.param("ovr-window-vs-downsample", "train", ["dataset.preprocess.window=67"], ["dataset.preprocess.window", "67"]),
    # data files through a `files` dataset (train.py)
    ("data-missing-file", "train", [*FILES, "dataset.paths=[{B}/nothere.mat]"], ["nothere.mat", "not found"]),
    ("data-empty-glob", "train", [*FILES, "dataset.paths=[{B}/*.nomatch]"], ["*.nomatch"]),
    ("data-2d-for-3d", "train", [*FILES, "dataset.paths=[{B}/flat2d.npy]"], ["flat2d.npy", "2D"]),
    ("data-keypoints", "train", [*FILES, "dataset.paths=[{B}/k5.npy]"], ["k5.npy", "mouse22"]),
    ("data-too-short", "train", [*FILES, "dataset.paths=[{B}/short.npy]"], ["short", "shorter than one window"]),
    ("data-garbage-csv", "train", [*FILES, "dataset.paths=[{B}/garbage.csv]"], ["garbage.csv"]),
    ("data-empty-h5", "train", [*FILES, "dataset.paths=[{B}/empty.h5]"], ["empty.h5", "empty"]),
    ("data-unknown-skeleton", "train", [*FILES, "dataset.skeleton=rat99"], ["rat99"]),
    # checkpoints (inference.py)
    ("ckpt-missing", "infer", ["{B}/nothere.pt"], ["nothere.pt", "not found"]),
    ("ckpt-folder", "infer", ["{B}/folder.pt"], ["folder.pt"]),
    ("ckpt-truncated", "infer", ["{B}/cut.pt"], ["cut.pt", "not a readable checkpoint"]),
    ("ckpt-empty", "infer", ["{B}/empty.pt"], ["empty.pt", "not a readable checkpoint"]),
    ("ckpt-text", "infer", ["{B}/text.pt"], ["text.pt", "not a readable checkpoint"]),
    ("ckpt-bare-state-dict", "infer", ["{B}/state_dict.pt"], ["state_dict.pt", "not a vqmap_nb checkpoint"]),
    ("ckpt-future-format", "infer", ["{B}/future.pt"], ["future.pt", "vqmap_nb/2"]),
    ("ckpt-no-weights", "infer", ["{B}/no_model.pt"], ["no_model.pt", "missing 'model'"]),
    ("ckpt-unknown-kind", "infer", ["{B}/kind.pt"], ["kind.pt", "diffusion"]),
    ("ckpt-weights-misfit", "infer", ["{B}/misfit.pt"], ["misfit.pt", "weights do not fit"]),
    ("resume-truncated", "train", ["{E}/parameters.yaml", "expdir={B}/cutrun", "train.resume=true"], ["last.pt", "not a readable checkpoint"]),
    # inference arguments
    ("infer-mode", "infer", ["{E}/checkpoints/last.pt", "--mode", "codez", "--out", "{B}/o1"], ["--mode", "codez"]),
    ("infer-data-missing", "infer", ["{E}/checkpoints/last.pt", "--data", "{B}/nothere.npy", "--out", "{B}/o2"], ["nothere.npy", "not found"]),
    ("infer-data-2d", "infer", ["{E}/checkpoints/last.pt", "--data", "{B}/flat2d16.npy", "--out", "{B}/o3"], ["flat2d16.npy", "2D"]),
    ("infer-data-empty-folder", "infer", ["{E}/checkpoints/last.pt", "--data", "{B}/emptydir", "--out", "{B}/o4"], ["emptydir"]),
    ("infer-out-is-a-file", "infer", ["{E}/checkpoints/last.pt", "--out", "{B}/afile"], ["afile", "not a folder"]),
    ("infer-out-exists", "infer", ["{E}/checkpoints/last.pt", "--out", "{E}/checkpoints"], ["checkpoints", "already exists"]),
    ("infer-no-args", "infer", [], ["vqmap_infer", "required"]),
    # vqmap_synth
    ("synth-zero-sessions", "synth", ["{B}/s1", "--n-sessions", "0"], ["--n-sessions", "at least 1"]),
    ("synth-species", "synth", ["{B}/s2", "--species", "dog"], ["dog", "unknown"]),
    ("synth-seconds", "synth", ["{B}/s3", "--seconds", "-5"], ["seconds", "-5"]),
    ("synth-outdir-is-a-file", "synth", ["{B}/afile", "--n-sessions", "1", "--seconds", "5"], ["afile"]),
    ("synth-would-overwrite", "synth", ["{B}/synthdone", "--n-sessions", "1", "--seconds", "5"], ["synth_rat_seed0000.npz", "exists"]),
    pytest.param("synth-bad-int", "synth", ["{B}/s4", "--n-sessions", "abc"], ["--n-sessions", "abc"]),
    ("synth-fps-zero", "synth", ["{B}/s6", "--n-sessions", "1", "--seconds", "5", "--fps", "0"], ["fps=0", "frame rate"]),
    # unwritable output, frame rates, bounds, infinite values, short and wrong-rank recordings, raw pickles
    ("infer-out-under-a-file", "infer", [CK, "--mode", "codes", "--out", "{B}/afile/sub"], ["afile/sub", "cannot write"]),
    ("infer-fps-zero", "infer", [CK, "--fps", "0", "--out", "{B}/o5"], ["--fps 0", "positive"]),
    ("infer-fps-negative", "infer", [CK, "--fps", "-2", "--out", "{B}/o5"], ["--fps -2", "positive"]),
    ("infer-fps-nan", "infer", [CK, "--fps", "nan", "--out", "{B}/o5"], ["--fps nan", "positive"]),
    ("infer-fps-inf", "infer", [CK, "--fps", "inf", "--out", "{B}/o5"], ["--fps inf", "positive"]),
    ("ovr-fps-zero", "train", ["dataset.fps=0"], ["dataset.fps", "positive", "got 0"]),
    ("data-fps-zero", "train", [*SYNTH, "dataset.fps=null", "dataset.paths=[{B}/fps0.npz]"], ["fps0.npz", "fps", "positive"]),
    ("infer-data-fps-zero", "infer", [CK, "--mode", "codes", "--data", "{B}/fps0.npz", "--out", "{B}/o6"], ["fps0.npz", "fps", "positive"]),
    ("ovr-n-top-huge", "train", ["model.n_top=100000"], ["model.n_top", "100000", "at most 512"]),
    ("data-infinite", "train", [*SYNTH, "dataset.paths=[{B}/good16a.npy,{B}/inf16.npy]"], ["inf16.npy", "infinite", "NaN"]),
    ("infer-data-infinite", "infer", [CK, "--mode", "codes", "--data", "{B}/inf16.npy", "--out", "{B}/o7"], ["inf16.npy", "infinite"]),
    ("infer-data-too-short", "infer", [CK, "--mode", "codes", "--data", "{B}/short16.npy", "--out", "{B}/o8"],
     ["short16.npy", "20 frames", "shorter than one window"]),
    ("ckpt-raw-pickle-in-dict", "infer", ["{B}/object.pt", "--out", "{B}/o9"], ["object.pt", "refused"]),
    ("ckpt-raw-pickle-object", "infer", ["{B}/instance.pt", "--out", "{B}/o9"], ["instance.pt", "refused"]),
    ("data-rank-2", "train", [*SYNTH, "dataset.paths=[{B}/rank2.npy]"], ["rank2.npy", "(T, K, D)", "got shape (200, 16)"]),
    ("data-rank-1", "train", [*SYNTH, "dataset.paths=[{B}/rank1.npy]"], ["rank1.npy", "(T, K, D)", "got shape (200,)"]),
    ("infer-data-rank-2", "infer", [CK, "--mode", "codes", "--data", "{B}/rank2.npy", "--out", "{B}/o10"], ["rank2.npy", "(T, K, D)", "(200, 16)"]),
    ("infer-data-rank-1", "infer", [CK, "--mode", "codes", "--data", "{B}/rank1.npy", "--out", "{B}/o10"], ["rank1.npy", "(T, K, D)", "(200,)"]),
    ("data-only-file-short", "train", [*SYNTH, "dataset.paths=[{B}/short16.npy]"], ["short16.npy", "20 frames", "shorter than one window"]),
    ("data-all-files-short", "train", [*SYNTH, "dataset.paths=[{B}/short16.npy,{B}/short16b.npy]"],
     ["short16.npy (20 frames)", "short16b.npy (20 frames)", "shorter than one window"]),
]


@pytest.mark.parametrize("case,main,argv,expected", CASES, ids=[c.values[0] if hasattr(c, "marks") else c[0] for c in CASES])
def test_bad_input(case, main, argv, expected, expdir, bad):
    if case == "resume-truncated" and not (bad / "cutrun").exists():
        shutil.copytree(expdir, bad / "cutrun")
        ck = bad / "cutrun" / "checkpoints" / "last.pt"; ck.write_bytes(ck.read_bytes()[:4096])
    argv = [a.format(E=expdir, B=bad) for a in argv]
    if main == "train" and argv and "=" in argv[0]: argv = ["configs/base/vqvae.yaml", f"expdir={bad}/run_{case}", *TINY, *argv]
    out = argv[argv.index("--out") + 1] if "--out" in argv else argv[0] if main == "synth" and argv else None
    new_out = out is not None and not Path(out).exists()
    before = snapshot(expdir)
    rc, lines = cli(main, argv)
    assert rc == 2, (rc, lines)
    assert len(lines) == 1, lines
    assert all(s in lines[0] for s in expected), lines[0]
    assert snapshot(expdir) == before
    assert not (bad / f"run_{case}").exists()                                  # nothing written before the refusal
    assert not (new_out and Path(out).exists()), f"{out} was created"
    assert not list(bad.glob(".*partial*"))                                     # no staging folder left behind
    assert (bad / "synthdone" / "synth_rat_seed0000.npz").read_bytes() == b"earlier"


def test_corpus_size():
    assert len(CASES) >= 25


def test_script_forms_exit_2(expdir, bad):
    "The script forms and console scripts print the same one line and exit 2 (a subprocess each)."
    before = snapshot(expdir)
    for cmd in ([sys.executable, "train.py", str(bad / "topkey.yaml")], [sys.executable, "inference.py", str(bad / "cut.pt")],
                [sys.executable, "inference.py", str(bad / "instance.pt")],      # a raw pickle: no torch text after the line
                ["vqmap_synth", str(bad / "s5"), "--species", "dog"]):
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, env=ONE_THREAD)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert r.returncode == 2 and len(lines) == 1 and "error" in lines[0], (cmd, r.stderr)
    assert snapshot(expdir) == before


def test_unwritable_out(expdir, tmp_path):
    "An --out that cannot be created: one line naming it, exit 2, nothing created (a read-only folder only binds non-root)."
    ro = tmp_path / "ro"; ro.mkdir(); ro.chmod(0o500)
    try:
        outs = [Path("/proc/forbidden/x")] if Path("/proc/self").exists() else []
        if not os.access(ro, os.W_OK): outs.append(ro / "x")                   # root writes through chmod
        for out in outs:
            rc, lines = cli("infer", [expdir / "checkpoints" / "last.pt", "--mode", "codes", "--out", out])
            assert rc == 2 and len(lines) == 1 and str(out) in lines[0] and "cannot write" in lines[0], (out, lines)
            assert not out.exists()
        assert not list(ro.iterdir())
    finally: ro.chmod(0o700)


def test_refused_recording_leaves_out_as_it_was(expdir, bad, tmp_path):
    "A recording shorter than one window, into an existing empty --out and (with --overwrite) a filled one: both unchanged."
    ck = expdir / "checkpoints" / "last.pt"
    empty = tmp_path / "empty"; empty.mkdir()
    full = tmp_path / "full"; (full / "codes").mkdir(parents=True); (full / "codes" / "old.csv").write_text("frame\n0\n")
    for out, extra, names in ((empty, [], []), (full, ["--overwrite"], ["codes"])):
        before = snapshot(out)
        rc, lines = cli("infer", [ck, "--mode", "codes", "--data", bad / "short16.npy", "--out", out, *extra])
        assert rc == 2 and len(lines) == 1 and "short16.npy" in lines[0], lines
        assert snapshot(out) == before and [p.name for p in out.iterdir()] == names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "full"]      # no staging folder beside them


def test_zero_fps_blamed_on_fps(tmp_path):
    "vqmap_synth and the synthetic dataset with fps 0 name the frame rate, not the session length."
    from vqmap_nb.data.synthetic import make_dataset
    for fps in ("0", "-1", "nan"):
        rc, lines = cli("synth", [tmp_path / "s", "--n-sessions", "1", "--seconds", "5", "--fps", fps])
        assert rc == 2 and len(lines) == 1 and "fps=" in lines[0] and "seconds" not in lines[0], lines
    with pytest.raises(VQMapError) as e: make_dataset(1, fps=0, seconds=5)
    assert "fps=0" in str(e.value) and "seconds" not in str(e.value)
    assert not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def short_among(bad, tmp_path_factory):
    "A tiny run on three files, one shorter than a window: (exit code, stderr lines, expdir)."
    e = tmp_path_factory.mktemp("short_among") / "exp"
    paths = f"dataset.paths=[{bad}/good16a.npy,{bad}/good16b.npy,{bad}/short16.npy]"      # short16: the validation file
    rc, lines = cli("train", ["configs/base/vqvae.yaml", f"expdir={e}", *TINY, *SYNTH, paths])
    return rc, lines, e


def test_short_file_among_training_files_is_left_out(short_among):
    "Trains on the others (also when the short one was the only validation file) with one warning naming the file."
    rc, lines, e = short_among
    assert rc == 0 and (e / "checkpoints" / "last.pt").is_file(), lines
    assert len(lines) == 1 and lines[0].startswith("warning") and "short16.npy" in lines[0], lines


def test_short_file_warning_gives_its_length(short_among):
    rc, lines, _ = short_among
    assert rc == 0 and "short16.npy" in lines[0] and "20 frames" in lines[0] and "_block" not in lines[0], lines


# ---------------------------------------------------------------- untrusted checkpoints

class _Payload:
    "Unpickling this runs `touch MARKER`."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def evil(expdir, tmp_path):
    "A checkpoint that is valid except that its weights are a pickled object whose loading would create a file."
    good = load_torch(expdir / "checkpoints" / "last.pt")
    path, marker = tmp_path / "evil.pt", tmp_path / "MARKER"
    torch.save({**good, "model": _Payload(marker)}, path)
    probe = tmp_path / "PROBE"                                          # the payload really runs under a plain pickle load
    torch.save({"x": _Payload(probe)}, tmp_path / "probe.pt")
    torch.load(tmp_path / "probe.pt", weights_only=False)
    assert probe.exists()
    return path, marker


def test_untrusted_checkpoint_never_runs(evil, expdir, tmp_path):
    path, marker = evil
    with pytest.raises(VQMapError) as e: load_model(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    rc, lines = cli("infer", [path, "--out", tmp_path / "o"])
    assert rc == 2 and len(lines) == 1 and "evil.pt" in lines[0]
    run = tmp_path / "run"; shutil.copytree(expdir, run); shutil.copy(path, run / "checkpoints" / "last.pt")
    rc, lines = cli("train", [run / "parameters.yaml", f"expdir={run}", "train.resume=true"])
    assert rc == 2 and len(lines) == 1
    assert not marker.exists()


def test_untrusted_checkpoint_message_says_refused(evil):
    with pytest.raises(VQMapError, match="refused"): load_model(evil[0])


# ---------------------------------------------------------------- killed run, full and read-only disks

KILL_RUN = ["dataset.n_sessions=3", "dataset.seconds=240", "model.width=16", "model.depth=1", "model.code_dim=8",
            "dataloader.batch_size=8", "train.epochs=2", "train.progress=false"]  # epochs of seconds, not ms


def _rows(expdir: Path) -> list[int]:
    f = expdir / "metrics.csv"
    return [int(l.split(",")[1]) for l in f.read_text().splitlines()[1:]] if f.exists() else []


def test_sigkill_mid_epoch_then_resume(tmp_path):
    e = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "train.py", "configs/base/vqvae.yaml", f"expdir={e}", *KILL_RUN], cwd=REPO,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ONE_THREAD)
    try:
        deadline = time.time() + 180
        while not _rows(e) and p.poll() is None and time.time() < deadline: time.sleep(0.05)
        time.sleep(0.3)                                                     # into epoch 2 (hundreds of steps)
        assert p.poll() is None, "the run ended before it could be killed mid-epoch"
        p.send_signal(signal.SIGKILL); p.wait(30)
    finally:
        if p.poll() is None: p.kill()
    assert p.returncode == -signal.SIGKILL
    ckpt = load_checkpoint(e / "checkpoints" / "last.pt")                   # intact: loads and is complete
    assert ckpt["epoch"] == 1 and _rows(e) == [1]
    r = subprocess.run([sys.executable, "train.py", str(e / "parameters.yaml"), "train.resume=true"], cwd=REPO,
                       capture_output=True, text=True, timeout=300, env=ONE_THREAD)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _rows(e) == [1, 2] and load_checkpoint(e / "checkpoints" / "last.pt")["epoch"] == 2


@pytest.fixture
def tiny_tmpfs(tmp_path, expdir):
    "A tmpfs holding ~2.5 checkpoints of the tiny model: the first epoch fits, the second save cannot (root + mount only)."
    size = int(2.5 * (expdir / "checkpoints" / "last.pt").stat().st_size) // 4096 * 4096
    mnt = tmp_path / "tmpfs"; mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0: pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()[:80]})")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk_while_saving(tiny_tmpfs):
    "A real ENOSPC (tmpfs): one clear line, exit 2, the previous last.pt intact, no temporary file left."
    e = tiny_tmpfs / "exp"
    rc, lines = cli("train", ["configs/base/vqvae.yaml", f"expdir={e}", *TINY, "train.epochs=3"])
    assert rc == 2 and len(lines) == 1 and "No space left on device" in lines[0] and "checkpoints" in lines[0], lines
    assert load_checkpoint(e / "checkpoints" / "last.pt")["epoch"] == 1
    assert sorted(p.name for p in (e / "checkpoints").iterdir()) == ["best.pt", "last.pt"]


def test_read_only_disk_while_saving(tmp_path, monkeypatch):
    "Simulated: after the first epoch every rename onto an existing checkpoint fails with EROFS."
    real = os.replace
    def replace(src, dst):
        if Path(dst).suffix == ".pt" and Path(dst).exists(): raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    e = tmp_path / "ro"
    rc, lines = cli("train", ["configs/base/vqvae.yaml", f"expdir={e}", *TINY, "train.epochs=2"])
    assert rc == 2 and len(lines) == 1 and "Read-only file system" in lines[0] and "last.pt" in lines[0], lines
    assert load_checkpoint(e / "checkpoints" / "last.pt")["epoch"] == 1
    assert sorted(p.name for p in (e / "checkpoints").iterdir()) == ["best.pt", "last.pt"]


def test_checkpoints_is_a_file(tmp_path):
    e = tmp_path / "clash"; e.mkdir(); (e / "checkpoints").write_text("not a folder")
    rc, lines = cli("train", ["configs/base/vqvae.yaml", f"expdir={e}", *TINY])
    assert rc == 2 and len(lines) == 1 and "checkpoints" in lines[0], lines
    assert (e / "checkpoints").read_text() == "not a folder"
