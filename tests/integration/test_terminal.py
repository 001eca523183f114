"""What pyrun shows on a terminal (a real pseudo-terminal), and not elsewhere (issue 14):
progress with sizes and elapsed times, and colours that honour NO_COLOR, FORCE_COLOR and
TERM=dumb."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.helpers import Runner, write


def on_terminal(argv: list[str], env: dict[str, str], timeout: float = 300) -> str:
    """Run ``argv`` with a pseudo-terminal as its stdio; return all it wrote (a command still
    running after ``timeout`` seconds is killed, and the test fails on what it showed)."""
    import select
    import signal
    import time

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execvpe(argv[0], argv, env)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 1.0)[0]:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    else:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)
    return out.decode(errors="replace")


def test_progress_on_a_terminal_only(pyrun: Runner, tmp_path: Path) -> None:
    """On a terminal: pyrun's lines (sizes, elapsed times) and, while the pool installs, uv's
    own download bars (bytes of each package) drawn live, uv's summary lines erased; off a
    terminal, nothing."""
    import re

    script = write(tmp_path / "p.py", '# /// script\n# dependencies = ["six"]\n# ///\n')
    shown = on_terminal([sys.executable, "-m", "pyrun", str(script)],
                        pyrun.env(PYRUN_CACHE_DIR=str(tmp_path / "a"),
                                  UV_CACHE_DIR=str(tmp_path / "uv")))  # six is downloaded
    assert "resolved 1 distribution(s) in" in shown and " s\r\n" in shown
    assert "KiB) into the pool: six==" in shown and "installed 1 distribution(s) in" in shown
    assert re.search(r"six +\S* .*B/1\d\.\d\d KiB", shown), shown  # uv's bar, with bytes
    assert "experimental" not in shown  # uv's pylock preview warning: enabled by name
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)  # colours off, cursor moves kept
    assert "Installed 1 package" in plain  # uv's summary: drawn, then erased, never kept
    assert not re.search(r"Installed 1 package[^\r]*\r\n", plain)
    assert "pyrun: installed" in shown.split("\x1b[2K")[-1]  # pyrun's own lines stay
    piped = pyrun(str(script), PYRUN_CACHE_DIR=str(tmp_path / "b"))
    assert piped.returncode == 0 and piped.stderr == ""  # nothing off a terminal


def test_colours_honour_no_color_force_color_and_dumb_terminals(pyrun: Runner,
                                                                tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.py")
    argv = [sys.executable, "-m", "pyrun", missing]
    red = "\x1b[1;31merror:"
    assert red in on_terminal(argv, pyrun.env())
    assert red not in on_terminal(argv, pyrun.env(NO_COLOR="1"))
    assert red not in on_terminal(argv, pyrun.env(TERM="dumb"))
    forced = subprocess.run(argv, env=pyrun.env(FORCE_COLOR="1"), capture_output=True, text=True)
    assert red in forced.stderr  # even through a pipe
    assert red not in subprocess.run(argv, env=pyrun.env(), capture_output=True,
                                     text=True).stderr
