"""The warm path: its key, its imports, its cache location."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from pyrun import fastpath, layout

SCRIPT = b'#!/usr/bin/env pyrun\n# /// script\n# dependencies = ["rich"]\n# ///\nprint(1)\n'


def key(data: bytes, python: str = "", with_: list[str] | None = None) -> str:
    return fastpath.fast_key(fastpath.block_span(data), python, with_ or [], "/usr/bin/python3")


def test_editing_the_code_keeps_the_key() -> None:
    assert key(SCRIPT) == key(SCRIPT.replace(b"print(1)", b"print(2)\nimport os"))


def test_editing_the_block_changes_the_key() -> None:
    assert key(SCRIPT) != key(SCRIPT.replace(b'"rich"', b'"rich>=13"'))
    assert key(SCRIPT) != key(SCRIPT.replace(b"# ///\n", b"# requires-python = '>=3.9'\n# ///\n"))


def test_every_script_block_line_counts_even_after_an_unclosed_one() -> None:
    text = b"# /// script\n# x\nx = 1\n# /// script\n# dependencies = []\n# ///\n"
    assert key(text) != key(text.replace(b"dependencies = []", b"dependencies = ['a']"))


def test_options_and_environment_change_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    base = key(SCRIPT)
    assert base != key(SCRIPT, python="3.12")
    assert base != key(SCRIPT, with_=["numpy"])
    monkeypatch.setenv("UV_INDEX_URL", "https://example.invalid/simple")
    assert base != key(SCRIPT)


def test_the_lock_beside_the_script_and_the_lock_mode_change_the_key(tmp_path: Path) -> None:
    span = fastpath.block_span(SCRIPT)
    plain = fastpath.fast_key(span, "", [], "/usr/bin/python3")
    assert plain == fastpath.fast_key(span, "", [], "/usr/bin/python3", lock=b"", lock_mode="")
    locked = fastpath.fast_key(span, "", [], "/usr/bin/python3", lock=b"version = 1\n")
    assert locked != plain
    assert locked != fastpath.fast_key(span, "", [], "/usr/bin/python3", lock=b"version = 2\n")
    assert locked != fastpath.fast_key(span, "", [], "/usr/bin/python3", lock=b"version = 1\n",
                                       lock_mode="frozen")
    script = tmp_path / "x.py"
    script.write_bytes(SCRIPT)
    assert fastpath.lock_bytes(str(script)) == b""
    (tmp_path / "x.py.lock").write_bytes(b"version = 1\n")
    assert fastpath.lock_bytes(str(script)) == b"version = 1\n"
    os.mkfifo(tmp_path / "y.py.lock")  # never opened: it would block
    assert fastpath.lock_bytes(str(tmp_path / "y.py")) == b""
    assert fastpath.lock_bytes("-") == b"" and fastpath.lock_bytes("https://x/a.py") == b""


def test_no_block_has_empty_span() -> None:
    assert fastpath.block_span(b"print(1)\n# /// scripts\n") == b""


def test_cache_root_matches_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYRUN_CACHE_DIR", raising=False)
    for xdg in (None, "/tmp/xdg-cache-test"):
        if xdg is None:
            monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        else:
            monkeypatch.setenv("XDG_CACHE_HOME", xdg)
        assert layout.cache_root() == platformdirs.user_cache_dir("pyrun", appauthor=False)
    monkeypatch.setenv("PYRUN_CACHE_DIR", "/tmp/elsewhere")
    assert layout.cache_root() == "/tmp/elsewhere"


def test_warm_path_imports_nothing_heavy() -> None:
    code = (
        "import sys, os; before = set(sys.modules)\n"
        "import pyrun.cli, pyrun.fastpath, pyrun.launch, pyrun.layout, pyrun.inprocess\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    # -S: no site, so nothing a site-packages .pth imports hides what pyrun imports itself
    src = str(Path(fastpath.__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": src})
    loaded = set(out.stdout.split())
    heavy = {"re", "dataclasses", "json", "hashlib", "subprocess", "tomllib", "tomli",
             "packaging", "filelock", "platformdirs", "pathlib", "argparse", "pyrun.engine",
             "typing", "__future__", "collections", "collections.abc"}
    assert loaded & heavy == set(), loaded & heavy
    assert "pyrun.fastpath" in loaded
    # The warm path's whole set of modules may shrink, never grow: pyrun.layout (the cache's
    # layout, issue 9) took the place of __future__; pyrun.inprocess (issue 12) saves a whole
    # interpreter start-up, and imports nothing itself; pyrun.inputs (issue 24) is the half of
    # the old fastpath that gathers the installers' settings.
    assert loaded <= {"pyrun", "pyrun.cli", "pyrun.fastpath", "pyrun.inputs", "pyrun.launch",
                      "pyrun.layout", "pyrun.inprocess", "_blake2"}, loaded


@pytest.mark.parametrize("flags", [
    [], ["-p", "3.11"], ["--python=3.12"], ["--with", "six", "-w", "attrs>=22"],
    ["--composition", "link-farm"], ["--locked"], ["--frozen"], ["-q", "--offline"],
    ["-vv", "--no-project", "--isolated"],
])
@pytest.mark.parametrize("lock", [False, True])
def test_the_warm_scan_and_the_engine_compute_one_key(tmp_path: Path, flags: list[str],
                                                      lock: bool) -> None:
    """The warm scan (``pyrun.cli``) and the engine (``fast_key_for``) assemble the fast key
    of one command line in one function (``fastpath.script_key``): the same key, or every warm
    run would miss."""
    from pyrun.cli import warm_key, warm_options
    from pyrun.cli.parsing import run_options, run_parser
    from pyrun.engine import fast_key_for

    script = tmp_path / "x.py"
    script.write_text('# /// script\n# dependencies = ["six"]\n# ///\nprint(1)\n')
    if lock:
        (tmp_path / "x.py.lock").write_text("version = 1\n")
    argv = [*flags, str(script), "arg"]
    warm = warm_options(argv)
    assert warm is not None, argv
    options, _verbosity = run_options(run_parser().parse_args(argv))
    data = script.read_bytes()
    assert warm_key(warm, data) == fast_key_for(data, options, str(script))
    assert warm_key(warm, data) != warm_key(warm, data.replace(b'"six"', b'"six>1"'))
    block = warm_key(warm, data, block=True)  # the block key too (issue 24)
    assert block == fast_key_for(data, options, str(script), block=True)
    assert block != warm_key(warm, data)
    before = warm_key(warm, data)
    os.environ["UV_TEST_SETTING"] = "changes the fast key, not the block key"
    try:
        assert warm_key(warm, data, block=True) == block and warm_key(warm, data) != before
    finally:
        del os.environ["UV_TEST_SETTING"]
