"""Skips are loud and hangs fail: a tiny pytest run, in a subprocess, of data tests with ``MS2L_SHARED``
pointing at a folder that does not exist (through the real ``tests/conftest.py`` and the real
``pyproject.toml`` options), and of a test that hangs under a ``timeout`` mark.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TESTS = """
    import time
    import pytest
    from conftest import NWUCLA, need

    def test_through_a_fixture(nwucla_dir):
        pass

    def test_through_need():
        need(NWUCLA)

    @pytest.mark.timeout(1)
    def test_that_hangs():
        time.sleep(60)
"""


def _pytest(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    test = tmp_path / "test_data_missing.py"
    test.write_text(textwrap.dedent(TESTS))
    e = {k: v for k, v in os.environ.items() if k not in ("MS2L_REQUIRE_DATA", "PYTEST_ADDOPTS")}
    e.update(MS2L_SHARED=str(tmp_path / "no-such-shared"), PYTHONPATH=str(ROOT / "tests"), **env)
    # -p conftest: the project's conftest (need(), the data fixtures) for a test file outside tests/;
    # -c: the project's options (-rs, --strict-markers).
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-c", str(ROOT / "pyproject.toml"),
                        "--rootdir", str(tmp_path), "-p", "no:cacheprovider", str(test)],
                       capture_output=True, text=True, timeout=120, env=e, cwd=tmp_path)
    return r, time.monotonic() - t0


def test_missing_data_skips_with_the_reason_and_fails_when_required(tmp_path):
    missing = tmp_path / "no-such-shared"
    r, wall = _pytest(tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out  # (the hanging test fails; the data tests skip)
    assert "1 failed, 2 skipped" in out, out
    reasons = [ln for ln in out.splitlines() if ln.startswith("SKIPPED")]
    assert len(reasons) == 2 and all(f"real data not available: {missing}" in ln for ln in reasons), out
    # The hang ends at its limit, as a failure that says so.
    assert "Timeout" in out and "test_that_hangs" in out and wall < 45, out

    r, _ = _pytest(tmp_path, MS2L_REQUIRE_DATA="1")
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "2 failed, 1 error" in out and "skipped" not in out, out  # (the fixture's: an error)
    assert out.count("MS2L_REQUIRE_DATA=1 says it must be there") >= 2, out
