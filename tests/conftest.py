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


# The longest files and notebooks (CI `--durations`), longest first. xdist hands out work in collection order, so these
# start at once and the short tests fill in at the end, instead of a long one running alone after the rest are done.
LONGEST_FIRST = ("test_docs_browser", "37_inference", "25_baselines", "test_inference_cli", "test_pinned_outputs",
                 "04_cross_species", "test_distributed", "test_faults", "01_quickstart", "test_coembed_cli", "22_tasks",
                 "34_generate", "test_analysis_modes_cli", "03_gpt_synthesis", "32_analysis", "test_train_cli")


def _rank(item) -> int:
    return next((i for i, key in enumerate(LONGEST_FIRST) if key in item.nodeid), len(LONGEST_FIRST))


def pytest_collection_modifyitems(config, items):
    items[:] = sorted(items, key=_rank)                                     # stable: the rest keep their order
    if config.getoption("--runslow"): return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)


@pytest.fixture
def shared_data():
    "The folder of real recordings; skips the test when it is absent."
    if not SHARED_DATA.is_dir(): pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA
