"""Bounded inputs (issue 22, item 6): an env file, its expansions and a script read from a pipe
have documented limits and one-line errors; an entry point named with a path (``a/../b``) is
placed as uv places it, never outside the environment's ``bin``. Each case crashed before (exit
70 with a traceback, or a MemoryError)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyrun.script import metadata
from tests.helpers import Runner, assert_fails, write
from tests.loopback import serve_index, wheel

PRINT_A = 'import os\nprint(repr(os.environ.get("A")))\n'


def test_an_env_file_with_a_nul_byte_names_its_line(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "x.py", PRINT_A)
    (tmp_path / "nul.env").write_bytes(b"A=1\nB=x\0y\n")
    out = pyrun("--env-file", str(tmp_path / "nul.env"), str(script))
    assert_fails(out, 64, f"--env-file {tmp_path / 'nul.env'}: line 2 holds a NUL byte")


def test_dev_zero_as_an_env_file_is_over_the_limit(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "x.py", PRINT_A)
    out = pyrun("--env-file", "/dev/zero", str(script))
    assert_fails(out, 64, "--env-file /dev/zero: larger than 1 MiB (the limit for a dotenv file)")


def test_an_expansion_bomb_stops_at_the_variable(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "x.py", PRINT_A)
    lines = ["V0=" + "x" * 64] + [f"V{i}=$V{i - 1}$V{i - 1}" for i in range(1, 64)]
    write(tmp_path / "bomb.env", "\n".join(lines) + "\n")
    out = pyrun("--env-file", str(tmp_path / "bomb.env"), str(script))
    # 64 * 2**12 bytes is 256 KiB: V12 is the first over 128 KiB, on line 13
    assert_fails(out, 64, "bomb.env: line 13: V12 comes to more than 128 KiB")
    # many values, each under the limit, that add up to more than the whole's limit
    lines = ["B=" + "y" * 100_000] + [f"C{i}=$B" for i in range(20)]
    write(tmp_path / "wide.env", "\n".join(lines) + "\n")
    out = pyrun("--env-file", str(tmp_path / "wide.env"), str(script))
    assert_fails(out, 64, "wide.env: line 11: at C9, the variables come to more than 1 MiB")
    # under the limits, the same file shape works
    write(tmp_path / "fine.env", "V=abc\nA=$V$V\n")
    out = pyrun("--env-file", str(tmp_path / "fine.env"), str(script))
    assert out.returncode == 0, out.stderr
    assert out.stdout == "'abcabc'\n"


@pytest.mark.parametrize("flags", [[], ["--no-cache"]], ids=["warm scan", "engine"])
def test_endless_standard_input_is_over_the_limit(pyrun: Runner, flags: list[str]) -> None:
    """``yes | pyrun -``: both reads (the warm scan's, and the engine's when an option sends
    the run there) stop at 10 MiB; ``yes`` then ends by SIGPIPE."""
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        out = subprocess.run([sys.executable, "-m", "pyrun", *flags, "-"], stdin=yes.stdout,
                             capture_output=True, text=True, env=pyrun.env(), timeout=120,
                             check=False)
    finally:
        assert yes.stdout is not None
        yes.stdout.close()
        yes.kill()
        yes.wait()
    assert_fails(out, 66, "standard input: more than 10 MiB, the limit for a script read from "
                 "a pipe")


@pytest.mark.parametrize("flags", [[], ["--no-cache"]], ids=["warm scan", "engine"])
def test_a_device_as_the_script_is_over_the_limit(pyrun: Runner, flags: list[str]) -> None:
    assert_fails(pyrun(*flags, "/dev/zero"), 66, "/dev/zero: more than 10 MiB")


@pytest.mark.parametrize("flags", [[], ["--no-cache"]], ids=["warm scan", "engine"])
def test_a_script_at_the_limit_on_standard_input_runs(pyrun: Runner, flags: list[str]) -> None:
    """Exactly 10 MiB runs, one byte more does not: the warm scan and the engine read with one
    limit."""
    text = "print('ok')\n"
    text += "#" * (metadata.MAX_PIPED_BYTES - len(text) - 1) + "\n"
    out = pyrun(*flags, "-", input=text)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"
    assert_fails(pyrun(*flags, "-", input=text + "\n"), 66, "standard input: more than 10 MiB")


def _wheel_with_entry_point(name: str, entry: str) -> tuple[str, bytes]:
    """A pure wheel ``name`` 1.0 whose module has ``main()`` (printing ``ran``) and whose
    ``console_scripts`` entry point ``entry`` runs it."""
    return wheel(name, "1.0", files={
        f"{name}.py": b"def main():\n    print('ran')\n",
        f"{name}-1.0.dist-info/entry_points.txt":
            f"[console_scripts]\n{entry} = {name}:main\n".encode()})


def test_an_entry_point_named_with_a_path_is_placed_as_uv_places_it(
        pyrun: Runner, tmp_path: Path) -> None:
    """``a/../b``: uv writes ``bin/b`` and runs it; so does the environment pyrun composes."""
    projects = {"oddname": [_wheel_with_entry_point("oddname", "a/../b")]}
    script = write(tmp_path / "x.py", (
        '# /// script\n# dependencies = ["oddname"]\n# ///\n'
        "import os, subprocess, sys\n"
        "bin = os.path.dirname(sys.executable)\n"
        "print(os.path.exists(os.path.join(bin, 'a')))\n"
        "subprocess.run([os.path.join(bin, 'b')], check=True)\n"))
    with serve_index(projects) as url:
        out = pyrun("--index-url", url, str(script), PYRUN_CACHE_DIR=str(tmp_path / "cache"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "ran"]
