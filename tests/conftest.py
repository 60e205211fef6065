"""Shared fixtures.  Real data lives in ../shared and is read in place; tests that
need it skip with a clear reason when it is absent -- or fail, when ``MS2L_REQUIRE_DATA=1``
(CI sets it when ../shared is there, so a data test can never be skipped silently).

Markers (``--strict-markers``): ``real_data`` -- reads ../shared (set automatically on
tests using a data fixture); ``gui`` -- a pytest-qt test (everything under tests/ui);
``timeout`` -- pytest-timeout's per-test limit.

``report`` (a fixture) and :func:`report_line` add a line to the "measured" section printed at the
end of the run: the reliability tests say what they counted (kills inside a write, overlapping
writes, damaged files a reader accepted), so the figures in docs/reliability.md can be re-read.
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
UTD = SHARED / "datasets" / "utd-mhad" / "Skeleton"
SBU = SHARED / "datasets" / "sbu-kinect-interaction"
CMU = SHARED / "datasets" / "cmu-mocap-bvh"
VIDEOS = SHARED / "videos"
DATA_FIXTURES = {"nwucla_dir", "ntu_dir", "bvh_dir", "videos_dir", "nwucla_small", "shared_dir",
                 "utd_dir", "sbu_dir", "cmu_dir"}


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


_MEASURED = pytest.StashKey[list]()


def report_line(config: pytest.Config, text: str) -> None:
    """Print ``text`` in the "measured" section at the end of the run."""
    config.stash.setdefault(_MEASURED, []).append(text)


@pytest.fixture
def report(request):
    """``report(text)``: a line for the "measured" section at the end of the run."""
    return lambda text: report_line(request.config, text)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(_MEASURED, [])
    if lines:
        terminalreporter.section("measured")
        for line in lines:
            terminalreporter.write_line(line)


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
def utd_dir() -> Path:
    """UTD-MHAD's ``Skeleton`` folder of ``a<A>_s<S>_t<T>_skeleton.mat`` files."""
    return need(UTD)


@pytest.fixture(scope="session")
def sbu_dir() -> Path:
    """SBU Kinect Interaction: the folder of the 21 ``s<PP>s<QQ>`` actor-pair folders."""
    return need(SBU)


@pytest.fixture(scope="session")
def cmu_dir() -> Path:
    """CMU motion capture as BVH: the folder holding ``subjects/<subject>/<subject>_<trial>.bvh``."""
    return need(CMU)


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


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    """A small random encoder file (hidden 32, one layer) standing in for the default model's."""
    from fakes import tiny_encoder as make

    return make(tmp_path_factory.mktemp("enc") / "enc.safetensors")
