"""Shell completion in the real shells (issue 14): each shell runs interactively on a
pseudo-terminal with the script `pyrun completion SHELL` printed, installed the way its docs
say, and a TAB must complete an option, a command's word and an option's choice; in zsh the
very first TAB too (compinit autoloads the file then). A shell that is not installed is
skipped."""

from __future__ import annotations

import os
import pty
import select
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers import Runner

#: What is typed, and what the line must then hold (only a completion can write it).
TYPED = [("pyrun --no-c\t", "--no-cache"), ("pyrun cache pr\t", "prune"),
         ("pyrun --composition li\t", "link-farm"), ("pyrun completion fi\t", "fish")]


def _complete(argv: list[str], setup: str, typed: str, expect: str, home: Path) -> str:
    """Start ``argv`` (an interactive shell) on a pseudo-terminal, run ``setup``, type
    ``typed``; return what the shell echoed, read until ``expect`` shows or 20 s pass."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "TERM": "xterm"}
        os.execvpe(argv[0], argv, env)
    out = b""

    def read(seconds: float, until: bytes | None = None, start: int = 0) -> None:
        nonlocal out
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until in out[start:]):
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    return

    try:
        read(1.0)
        os.write(fd, setup.encode() + b"\n")
        read(1.0)
        start = len(out)
        os.write(fd, typed.encode())
        read(20.0, expect.encode(), start)
        return out[start:].decode(errors="replace")
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@pytest.mark.parametrize(("typed", "expect"), TYPED)
def test_a_tab_completes_in_the_real_shell(pyrun: Runner, tmp_path: Path, shell: str,
                                           typed: str, expect: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    printed = pyrun("completion", shell)
    assert printed.returncode == 0, printed.stderr
    if shell == "zsh":  # a file named _pyrun on $fpath, found by compinit
        (tmp_path / "_pyrun").write_text(printed.stdout)
        argv = ["zsh", "-f", "-i"]
        setup = f"fpath=({tmp_path} $fpath); autoload -U compinit; compinit -u -D"
    else:
        script = tmp_path / "completion-script"  # a name no expected word is part of
        script.write_text(printed.stdout)
        argv = (["bash", "--norc", "--noprofile", "-i"] if shell == "bash" else
                ["fish", "--no-config", "-i"])
        setup = f"source {script}"
    seen = _complete(argv, setup, typed, expect, tmp_path)
    assert expect in seen, (shell, typed, seen[-300:])
