"""What uv's cache holds of the index, within the freshness window (issue 25): a new script
whose requirements the pool lacks resolves from the index pages uv fetched within the window
(``uv pip compile --offline``), with no request to the index; an older page, ``-U``,
``PYRUN_POOL_FRESHNESS=0`` and an index other than PyPI ask the index. With real uv and PyPI
(the first run fills a cache of the test's own), and a network namespace for "no request"."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import Runner, write

FROM_CACHE = "from uv's cache of the index"


def six_script(path: Path) -> Path:
    return write(path, '# /// script\n# dependencies = ["six"]\n# ///\n'
                 "import six\nprint(six.__version__)\n")


@pytest.fixture()
def filled(tmp_path: Path) -> tuple[Runner, Path]:
    """A uv cache of the test's own holding PyPI's page of six (a first run), and a pyrun
    whose caches are the test's."""
    run = Runner(cache=tmp_path / "first", uv_cache=tmp_path / "uv-cache")
    out = run(str(six_script(tmp_path / "first.py")), PYRUN_POOL_FRESHNESS="0")
    assert out.returncode == 0, out.stderr[-3000:]
    return Runner(cache=tmp_path / "cache", uv_cache=tmp_path / "uv-cache"), tmp_path


def pages(uv_cache: Path) -> list[Path]:
    return sorted(uv_cache.glob("simple-v*/pypi/six.rkyv"))


def unshare_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rn", "true"], capture_output=True).returncode == 0


def test_a_new_script_resolves_from_recent_pages(filled: tuple[Runner, Path]) -> None:
    run, tmp = filled
    assert pages(tmp / "uv-cache")  # what the feature reads: uv's cached page of six
    out = run("-v", str(six_script(tmp / "second.py")))
    assert out.returncode == 0, out.stderr[-3000:]
    assert FROM_CACHE in out.stderr
    assert "pip compile" in out.stderr and "--offline" in out.stderr
    # stamped no later than the page was fetched: the pool offers it no longer than that
    stamps = [p for p in (tmp / "cache" / "pool-stamps").rglob("six-*") if p.is_file()]
    page = pages(tmp / "uv-cache")[0].stat().st_mtime
    assert stamps and all(abs(s.stat().st_mtime - page) < 1 for s in stamps)


@pytest.mark.skipif(not unshare_works(), reason="needs unshare -rn (a network namespace)")
def test_it_needs_no_network(filled: tuple[Runner, Path]) -> None:
    run, tmp = filled
    script = six_script(tmp / "offline.py")
    out = subprocess.run(["unshare", "-rn", *run_argv(script)], capture_output=True, text=True,
                         env=run.env(), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert FROM_CACHE in out.stderr


def run_argv(script: Path) -> list[str]:
    import sys

    return [sys.executable, "-m", "pyrun", "-v", str(script)]


@pytest.mark.parametrize("how", ["old page", "-U", "window 0", "another index"])
def test_the_index_is_asked(filled: tuple[Runner, Path], how: str) -> None:
    run, tmp = filled
    extra: dict[str, str] = {}
    args = ["-v"]
    if how == "old page":
        then = time.time() - 2 * 86400
        for page in pages(tmp / "uv-cache"):
            os.utime(page, (then, then))
    elif how == "-U":
        args.append("-U")
    elif how == "window 0":
        extra["PYRUN_POOL_FRESHNESS"] = "0"
    else:
        extra["UV_INDEX_URL"] = "https://pypi.org/simple"  # the same files, named: not "PyPI"
    out = run(*args, str(six_script(tmp / "asks.py")), **extra)
    assert out.returncode == 0, out.stderr[-3000:]
    assert FROM_CACHE not in out.stderr
    compiles = [ln for ln in out.stderr.splitlines() if "running:" in ln and "pip compile" in ln]
    assert compiles and all("--offline" not in ln for ln in compiles)
