"""Every notebook in nbs/ is a test module: run it like `nbdev_test` does (cells flagged slow/gpu are skipped)."""
from pathlib import Path

import pytest

NBS = sorted(p for p in (Path(__file__).resolve().parents[1] / "nbs").rglob("*.ipynb")
             if not any(part.startswith((".", "_")) for part in p.parts))


@pytest.mark.parametrize("nb", NBS, ids=lambda p: str(p.relative_to(p.parents[1] if p.parent.name == "tutorials" else p.parent)))
def test_notebook(nb):
    from nbdev.test import test_nb
    ok, secs = test_nb(nb, skip_flags=["slow", "gpu"], showerr=True)
    assert ok, f"{nb.name} failed (see the traceback above)"
