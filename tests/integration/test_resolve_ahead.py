"""The resolution started ahead (issue 25, point 2): a cold run of a plain script starts uv's
resolution as soon as uv has chosen the interpreter, before the engine is imported, and the
engine takes its result only when its own command is exactly that one. With real uv and an
index on the loopback interface that counts the requests (a resolution asks for each
project's page once): one resolution per run, never two; none started for a script the
engine resolves otherwise; none left running when the engine does not take it."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Runner, write
from tests.loopback import serve_index, wheel

WHEELS = {"alpha": [wheel("alpha", "1.0"), wheel("alpha", "2.0")],
          "beta": [wheel("beta", "1.0")]}
TAKEN = "the same command was started ahead: its result is taken"


@pytest.fixture()
def index(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []
    with serve_index(WHEELS, requests=requests) as url:
        yield url, requests


def runner(tmp_path: Path) -> Runner:
    return Runner(cache=tmp_path / "cache", uv_cache=tmp_path / "uv-cache")


def pages(requests: list[str], name: str) -> int:
    return sum(1 for r in requests if r.rstrip("/") == f"/simple/{name}")


def test_a_plain_script_resolves_once_from_the_command_started_ahead(
        tmp_path: Path, index: tuple[str, list[str]]) -> None:
    url, requests = index
    script = write(tmp_path / "plain.py", '# /// script\n# requires-python = ">=3.8"\n'
                   '# dependencies = ["alpha<2", "beta"]\n# ///\n'
                   "import alpha, beta\nprint(alpha.__version__[:3], beta.__version__[:3])\n")
    out = runner(tmp_path)("-v", str(script), UV_INDEX_URL=url)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["1.0", "1.0"]
    assert TAKEN in out.stderr
    assert out.stderr.count("pip compile") == 1  # the engine's, taken: none other started
    assert pages(requests, "alpha") == 1 and pages(requests, "beta") == 1


@pytest.mark.parametrize("block", [
    '# dependencies = ["alpha"]\n# [tool.uv]\n# prerelease = "if-necessary"\n',
    '# dependencies = ["alpha >= 1"]\n',  # not as packaging writes it back: not guessed
    "# dependencies = ['alpha']\n",
])
def test_what_is_not_a_plain_block_is_resolved_by_the_engine_alone(
        tmp_path: Path, index: tuple[str, list[str]], block: str) -> None:
    url, requests = index
    script = write(tmp_path / "other.py", f"# /// script\n{block}# ///\n"
                   "import alpha\nprint(alpha.__version__[:3])\n")
    out = runner(tmp_path)("-v", str(script), UV_INDEX_URL=url)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["2.0"]
    assert TAKEN not in out.stderr
    assert pages(requests, "alpha") == 1


def test_pooled_names_are_left_to_the_pool(tmp_path: Path,
                                           index: tuple[str, list[str]]) -> None:
    url, requests = index
    run = runner(tmp_path)
    first = write(tmp_path / "first.py", '# /// script\n# dependencies = ["alpha"]\n# ///\n'
                  "import alpha\n")
    assert run(str(first), UV_INDEX_URL=url).returncode == 0
    requests.clear()
    second = write(tmp_path / "second.py", '# /// script\n# dependencies = ["alpha>=1"]\n'
                   "# ///\nimport alpha\nprint(alpha.__version__[:3])\n")
    out = run("-v", str(second), UV_INDEX_URL=url)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["2.0"]
    assert "pip compile" not in out.stderr and requests == []  # the pool answered


def _uv_processes_naming(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes() if pid.isdigit() else b""
        except OSError:
            continue
        if text.encode() in cmd and b"compile" in cmd:
            found.append(pid)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="counts processes in /proc")
def test_a_command_started_ahead_that_is_not_taken_is_stopped(tmp_path: Path) -> None:
    """The engine stops at a setting only it reads (``PYRUN_POOL_FRESHNESS``) after the
    resolution was started ahead, while the index holds every request: pyrun exits with that
    usage error, and the uv it started is gone."""
    release = threading.Event()
    with serve_index(WHEELS, before=lambda path: release.wait(60)) as url:
        script = write(tmp_path / "held.py", '# /// script\n# dependencies = ["alpha"]\n'
                       "# ///\nimport alpha\n")
        try:
            out = runner(tmp_path)("-v", str(script), UV_INDEX_URL=url,
                                   PYRUN_POOL_FRESHNESS="soon")
            assert out.returncode == 64, out.stderr[-2000:]
            assert "PYRUN_POOL_FRESHNESS" in out.stderr.splitlines()[-1]
            assert "a resolution started ahead was not taken: stopped" in out.stderr
            assert _uv_processes_naming(str(tmp_path)) == []
        finally:
            release.set()


def test_a_cache_others_can_write_is_not_read_ahead(tmp_path: Path,
                                                   index: tuple[str, list[str]]) -> None:
    """The interpreter cache of a cache another user could write is not read to start uv
    (its answer would name the interpreter uv runs): the engine refuses the cache."""
    url, requests = index
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    (cache / "interpreters.json").write_text('{"x": {}}')
    cache.chmod(0o777)
    script = write(tmp_path / "s.py", '# /// script\n# dependencies = ["alpha"]\n# ///\n')
    out = runner(tmp_path)("-v", str(script), UV_INDEX_URL=url)
    assert out.returncode == 73, out.stderr[-2000:]
    assert "everyone can write to it" in out.stderr
    assert "started ahead" not in out.stderr and requests == []
