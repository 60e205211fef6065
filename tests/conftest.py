"""Shared fixtures.  Real data lives in ../shared and is read in place; tests that
need it skip with a clear reason when it is absent -- or fail, when ``MS2L_REQUIRE_DATA=1``
(CI sets it when ../shared is there, so a data test can never be skipped silently).

Markers (``--strict-markers``): ``real_data`` -- reads ../shared (set automatically on
tests using a data fixture); ``gui`` -- a pytest-qt test (everything under tests/ui).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Qt aborts without a display; tests always render offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep tests predictable on a 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SHARED = Path(os.environ.get("MS2L_SHARED", ROOT.parent / "shared"))
NWUCLA = SHARED / "datasets" / "nw-ucla" / "all_sqe"
NTU_SAMPLES = SHARED / "datasets" / "ntu-samples"
BVH_SAMPLES = SHARED / "datasets" / "bvh-samples"
VIDEOS = SHARED / "videos"
DATA_FIXTURES = {"nwucla_dir", "ntu_dir", "bvh_dir", "videos_dir", "nwucla_small", "shared_dir"}


def require_data() -> bool:
    return os.environ.get("MS2L_REQUIRE_DATA", "") not in ("", "0")


def need(path: Path) -> Path:
    """``path`` when it exists; else skip (or fail under ``MS2L_REQUIRE_DATA=1``), saying what is missing."""
    if not path.exists():
        msg = f"real data not available: {path} is missing (see ../shared/README.md)"
        if require_data():
            pytest.fail(msg + " -- and MS2L_REQUIRE_DATA=1 says it must be there", pytrace=False)
        pytest.skip(msg)
    return path


_need = need  # older spelling


def pytest_collection_modifyitems(config, items):
    for item in items:
        if DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_data)
        if Path(str(item.fspath)).resolve().is_relative_to(TESTS / "ui"):
            item.add_marker(pytest.mark.gui)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return need(SHARED)


@pytest.fixture(scope="session")
def nwucla_dir() -> Path:
    return need(NWUCLA)


@pytest.fixture(scope="session")
def ntu_dir() -> Path:
    return need(NTU_SAMPLES)


@pytest.fixture(scope="session")
def bvh_dir() -> Path:
    return need(BVH_SAMPLES)


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    return need(VIDEOS)


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
