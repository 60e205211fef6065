"""Shared fixtures.  Real data lives in ../shared and is read in place; tests that
need it skip with a clear reason when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Qt aborts without a display; tests always render offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep tests predictable on a 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MS2L_SHARED", ROOT.parent / "shared"))
NWUCLA = SHARED / "datasets" / "nw-ucla" / "all_sqe"
NTU_SAMPLES = SHARED / "datasets" / "ntu-samples"
BVH_SAMPLES = SHARED / "datasets" / "bvh-samples"
VIDEOS = SHARED / "videos"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not available: {path} is missing (see ../shared/README.md)")
    return path


@pytest.fixture(scope="session")
def nwucla_dir() -> Path:
    return _need(NWUCLA)


@pytest.fixture(scope="session")
def ntu_dir() -> Path:
    return _need(NTU_SAMPLES)


@pytest.fixture(scope="session")
def bvh_dir() -> Path:
    return _need(BVH_SAMPLES)


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    return _need(VIDEOS)


@pytest.fixture(scope="session")
def nwucla_small(nwucla_dir: Path, tmp_path_factory) -> Path:
    """A folder of links to 60 real NW-UCLA clips: 2 per action from each view."""
    out = tmp_path_factory.mktemp("nwucla_small")
    for action in ("01", "02", "03", "04", "05", "06", "08", "09", "11", "12"):
        for view in ("01", "02", "03"):
            files = sorted(nwucla_dir.glob(f"a{action}_s*_e*_v{view}.json"))[:2]
            for f in files:
                (out / f.name).symlink_to(f)
    return out
