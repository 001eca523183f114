"""The run options a uv user expects (issue 14): --refresh, --no-cache, --env-file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.conftest import Runner, write

BODY = ('# /// script\n# dependencies = ["six"]\n# ///\n'
        "import os, sys\nprint(os.environ.get('A'), os.environ.get('B'), sys.prefix)\n")


def test_env_file_reaches_the_script_and_a_later_file_wins(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "e.py", BODY)
    (tmp_path / "one.env").write_text('A=1\n# a comment\nexport B="two words"\n')
    (tmp_path / "two.env").write_text("A=2\n")
    out = pyrun("--env-file", str(tmp_path / "one.env"), "--env-file", str(tmp_path / "two.env"),
                str(script))
    assert out.returncode == 0 and out.stdout.split()[:3] == ["2", "two", "words"], out.stderr
    missing = pyrun("--env-file", str(tmp_path / "nope.env"), str(script))
    assert missing.returncode == 64 and "nope.env" in missing.stderr


def test_no_cache_leaves_nothing_behind(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    script = write(tmp_path / "n.py", BODY + "raise SystemExit(5)\n")
    before = set(Path(tempfile.gettempdir()).glob("pyrun-no-cache-*"))
    out = pyrun("--no-cache", "-v", str(script), PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 5, out.stderr  # the script's exit code, passed through
    assert "pyrun-no-cache-" in out.stdout and "--no-cache" in out.stderr  # uv's too
    assert not cache.exists() or not any((cache / "pool").glob("six-*"))  # nothing pooled
    assert set(Path(tempfile.gettempdir()).glob("pyrun-no-cache-*")) == before  # removed


def test_refresh_resolves_again_and_revalidates(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    script = write(tmp_path / "r.py", BODY)
    assert pyrun(str(script), PYRUN_CACHE_DIR=str(cache)).returncode == 0
    warm = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache))
    assert "pyrun: warm:" in warm.stderr
    fresh = pyrun("-v", "--refresh", str(script), PYRUN_CACHE_DIR=str(cache))
    assert fresh.returncode == 0 and "pyrun: warm:" not in fresh.stderr
    assert "pip compile" in fresh.stderr and "--refresh" in fresh.stderr
