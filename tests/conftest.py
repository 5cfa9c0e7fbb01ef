"""Shared fixtures: paths to the repository and to the real recordings in ../shared/data."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# pytest runs two workers on a 2-core machine: one torch thread each avoids oversubscription (5-50x slowdowns seen).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"): return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)


@pytest.fixture
def shared_data():
    "The folder of real recordings; skips the test when it is absent."
    if not SHARED_DATA.is_dir(): pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA
