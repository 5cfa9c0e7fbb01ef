"""Movies and exports without their optional packages: a GIF instead of an mp4, one-line errors instead of tracebacks."""
import sys

import numpy as np
import pytest

from vqmap_nb import export, movies
from vqmap_nb.core import VQMapError

pytestmark = pytest.mark.xdist_group("test_optional_deps")  # one worker runs this file (its module fixtures are built once)


def test_movie_falls_back_to_gif(tmp_path, monkeypatch):
    for m in ("imageio", "imageio_ffmpeg"): monkeypatch.setitem(sys.modules, m, None)   # as if not installed
    assert not movies.mp4_available()
    p = movies.write_movie(np.zeros((3, 16, 16, 3), np.uint8), tmp_path / "m.mp4", fps=10)
    assert p == tmp_path / "m.gif" and p.read_bytes()[:3] == b"GIF"
    with pytest.raises(VQMapError, match=r"needs imageio \(pip install 'vqmap_nb\[movies\]'\)"):
        movies.video_clips(tmp_path / "v.mp4", [(0, 2)], None, None, tmp_path / "o.gif")


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(VQMapError, match="export_parquet: needs the optional package 'pyarrow'"):
        export.export_parquet(tmp_path, {})


@pytest.mark.parametrize("module", ["pynwb", "ndx_pose"])
def test_nwb_without_pynwb(tmp_path, monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(VQMapError, match=f"export_nwb: needs the optional package '{module}'"):
        export.export_nwb(tmp_path / "x.nwb", np.zeros((2, 1, 3)), ["a"], 30.0)
    with pytest.raises(VQMapError, match=f"read_nwb: needs the optional package '{module}'"):
        export.read_nwb(tmp_path / "x.nwb")
    assert not (tmp_path / "x.nwb").exists()
