"""The run options a uv user expects (issue 14): --refresh, --no-cache, --env-file."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pyrun.engine.installers.uv import find_uv
from tests.helpers import Runner, write

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


@pytest.mark.parametrize("case", ["two files", "set already", "UV_ENV_FILE",
                                  "both and --no-env-file", "UV_NO_ENV_FILE", "a pipe",
                                  "single quotes", "expansion", "a bad line"])
def test_env_files_are_read_as_uv_run_reads_them(pyrun: Runner, tmp_path: Path,
                                                 case: str) -> None:
    """Each case run by pyrun twice (the second run finds the environment the first recorded)
    and by `uv run --script`, which must print the same: later files win, variables already
    set win, UV_ENV_FILE (space-separated) is the default, --no-env-file and UV_NO_ENV_FILE
    turn it off, a pipe can be a file."""
    write(tmp_path / "e.py", BODY.replace(", sys.prefix", ""))
    (tmp_path / "one.env").write_text("A=1\nB=b1\n")
    (tmp_path / "two.env").write_text("A=2\n")
    (tmp_path / "x1.env").write_text("B='${A}' # single quotes: kept as written\n")
    (tmp_path / "x2.env").write_text('A=file\nB="${A}"\n')
    (tmp_path / "bad.env").write_text("A=1\nnot an assignment\nB=2\n")
    two = ["--env-file", "one.env", "--env-file", "two.env"]
    argv, env = {
        "two files": (two, {}),
        "set already": (two, {"A": "outer"}),
        "UV_ENV_FILE": ([], {"UV_ENV_FILE": "one.env two.env"}),
        "both and --no-env-file": (["--no-env-file"], {"UV_ENV_FILE": "one.env"}),
        "UV_NO_ENV_FILE": ([], {"UV_ENV_FILE": "one.env", "UV_NO_ENV_FILE": "1"}),
        "a pipe": (["--env-file", "<(echo A=piped)"], {}),
        # the last file is read first; a variable set (here by the environment) is kept
        "single quotes": (["--env-file", "x2.env", "--env-file", "x1.env"], {"A": "env"}),
        "expansion": (["--env-file", "x2.env"], {"A": "env"}),
        "a bad line": (["--env-file", "bad.env"], {}),
    }[case]
    outputs = []
    for command in ([sys.executable, "-m", "pyrun"], [sys.executable, "-m", "pyrun"],
                    [find_uv(), "run", "-q", "--script"]):
        line = " ".join([shlex.join(command[:-1] if command[-1] == "--script" else command),
                         *argv, *(["--script"] if command[-1] == "--script" else []), "e.py"])
        out = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=pyrun.env(**env),
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, (line, out.stderr)
        outputs.append(out.stdout)
    assert outputs[0] == outputs[1] == outputs[2], (case, outputs)
    assert outputs[0].split() == {
        "two files": ["2", "b1"], "set already": ["outer", "b1"], "UV_ENV_FILE": ["2", "b1"],
        "both and --no-env-file": ["None", "None"], "UV_NO_ENV_FILE": ["None", "None"],
        "a pipe": ["piped", "None"], "single quotes": ["env", "${A}"],
        "expansion": ["env", "env"],
        "a bad line": ["1", "None"]}[case]


def test_no_cache_leaves_nothing_behind(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    script = write(tmp_path / "n.py", BODY + "raise SystemExit(5)\n")
    before = set(Path(tempfile.gettempdir()).glob("pyrun-no-cache-*"))
    out = pyrun("--no-cache", "-v", str(script), PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 5, out.stderr  # the script's exit code, passed through
    assert "pyrun-no-cache-" in out.stdout and "--no-cache" in out.stderr  # uv's too
    assert not cache.exists() or not any((cache / "pool").glob("six-*"))  # nothing pooled
    assert set(Path(tempfile.gettempdir()).glob("pyrun-no-cache-*")) == before  # removed
    piped = pyrun("--no-cache", "-", input=BODY, PYRUN_CACHE_DIR=str(cache))  # from stdin
    assert piped.returncode == 0, piped.stderr
    assert not cache.exists()  # not even the copy of the script that uv reads


def test_refresh_resolves_again_and_revalidates(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    script = write(tmp_path / "r.py", BODY)
    assert pyrun(str(script), PYRUN_CACHE_DIR=str(cache)).returncode == 0
    warm = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache))
    assert "pyrun: warm:" in warm.stderr
    fresh = pyrun("-v", "--refresh", str(script), PYRUN_CACHE_DIR=str(cache))
    assert fresh.returncode == 0 and "pyrun: warm:" not in fresh.stderr
    assert "pip compile" in fresh.stderr and "--refresh" in fresh.stderr
