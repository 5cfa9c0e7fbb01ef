"""`--mode all` on a fixed small checkpoint reproduces the outputs recorded before the package was split into rooms.

`tests/data/pinned_synth.pt` is a tiny VQ-VAE trained on the synthetic default (10 sessions of 2 min); its outputs
(codes, usage, transitions, reconstruction and code statistics, hierarchy recovery) were recorded with the earlier
one-module inference and are compared here with what the streaming analysis writes now. Codes may differ on a few
frames across CPUs (an argmin near a tie); everything else is compared within a tolerance that allows for that.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_script

pytestmark = pytest.mark.xdist_group("test_pinned_outputs")  # one worker runs this file (its module fixtures are built once)

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def pinned(tmp_path_factory):
    out = tmp_path_factory.mktemp("pinned") / "out"
    r = run_script("inference.py", DATA / "pinned_synth.pt", "--mode", "all", "--anim-frames", "2", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    return out, json.loads((DATA / "pinned_synth.json").read_text())


def test_codes(pinned):
    out, ref = pinned
    codes = np.load(DATA / "pinned_synth_codes.npz")
    assert sorted(p.stem for p in (out / "codes").glob("*.csv")) == sorted(codes.files)
    for name in codes.files:
        df = pd.read_csv(out / "codes" / f"{name}.csv")
        assert list(df.columns) == ["frame", "time", "top", "bottom", "motif"] and len(df) == len(codes[name])
        assert (df.motif.values == codes[name]).mean() >= 0.999, name
        ok = df.motif >= 0
        assert (df.top[ok] * 4 + df.bottom[ok] == df.motif[ok]).all()


def test_usage_and_transitions(pinned):
    out, ref = pinned
    usage = pd.read_csv(out / "usage.csv").sort_values(["session", "level", "code"])
    assert np.abs(usage.frames.values - np.array(ref["usage_frames"])).max() <= 0.001 * 3600
    for level, rows in ref["transitions"].items():
        tr = pd.read_csv(out / f"transitions_{level}.csv")
        tr = tr[tr.session == "all"]
        got = {(a, b): c for a, b, c in tr[["from", "to", "count"]].values}
        want = {(a, b): c for a, b, c in rows}
        assert sum(abs(got.get(k, 0) - want.get(k, 0)) for k in set(got) | set(want)) <= 0.01 * sum(want.values())


def test_metrics(pinned):
    out, ref = pinned
    m = json.loads((out / "metrics.json").read_text())
    for k in ("mpjpe", "pa_mpjpe", "accel_error"): assert m[k] == pytest.approx(ref["metrics"][k], rel=2e-3), k
    for k in ("n_windows", "n_frames"): assert m[k] == ref["metrics"][k], k
    for level in ("top", "motif", "bottom"):
        assert m[level]["n_used"] == ref["code_stats"][level]["n_used"]
        assert m[level]["perplexity"] == pytest.approx(ref["code_stats"][level]["perplexity"], rel=2e-3)
    for k, v in ref["hierarchy_recovery"].items(): assert m["hierarchy_recovery"][k] == pytest.approx(v, abs=2e-3), k


def test_every_output_written(pinned):
    out, _ = pinned
    for f in ["report.html", "hierarchy.png", "dendrogram.png", "latent.png", "usage_top.png", "usage_motif.png",
              "transitions_top.png", "transitions_bottom.png", "confusion_top.png", "codebook/gallery.png",
              "codebook/motif_examples.npz"]:
        assert (out / f).is_file(), f
    assert len(list((out / "recon").glob("*.html"))) == 2 and len(list((out / "codebook").glob("top_*.html"))) == 5
