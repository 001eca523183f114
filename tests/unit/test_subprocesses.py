"""Every process pyrun starts goes through :mod:`pyrun.subprocesses`: argument lists, never a
shell, and no other module starts one (the workflow server protocol's included)."""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest

import pyrun
from pyrun.errors import CommandError, UsageError
from pyrun.progress import Reporter
from pyrun.subprocesses import checked_argv, run_command

SRC = Path(pyrun.__file__).parent
SPAWNERS = {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"}


def modules() -> list[Path]:
    found = sorted(SRC.rglob("*.py"))
    assert any(p.parent.name == "wsp" for p in found)  # the search reaches into wsp/
    return found


def test_no_process_goes_through_a_shell() -> None:
    """No ``shell=`` other than False, no ``os.system``, ``os.popen`` or ``os.spawn*``."""
    offenders = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.keyword) and node.arg == "shell":
                if not (isinstance(node.value, ast.Constant) and node.value.value is False):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: shell=")
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                    and (node.attr in ("system", "popen") or node.attr.startswith("spawn"))):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: os.{node.attr}")
    assert offenders == []


def test_only_the_helper_starts_processes() -> None:
    offenders = []
    for path in modules():
        if path.name == "subprocesses.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "subprocess" and node.func.attr in SPAWNERS):
                offenders.append(
                    f"{path.relative_to(SRC)}:{node.lineno}: subprocess.{node.func.attr}")
    assert offenders == []


def test_arguments_that_cannot_reach_a_process_unchanged_are_refused() -> None:
    with pytest.raises(UsageError, match="NUL"):
        checked_argv(["python", "-c", "print(1)\0rm -rf /"])
    with pytest.raises(UsageError, match="empty"):
        checked_argv([])


def test_a_failed_command_keeps_its_command_line_status_and_output() -> None:
    import sys

    with pytest.raises(CommandError) as caught:
        run_command([sys.executable, "-c", "import sys; print('said'); sys.exit(3)"],
                    Reporter(-1), what="trying")
    assert caught.value.returncode == 3 and "said" in caught.value.output
    assert caught.value.argv[0] == sys.executable and "trying failed (exit 3)" in str(caught.value)


def test_progress_through_a_terminal_is_drawn_live_and_kept_plain(
        capfd: pytest.CaptureFixture[str]) -> None:
    """The command sees a terminal as its stderr; what it draws goes on to pyrun's stderr as it
    comes, each finished line erased instead of kept; the result keeps stdout, the exit code,
    and stderr without control sequences or overdrawn parts (for an error message)."""
    from pyrun.subprocesses import _through_terminal

    code = ("import sys; sys.stdout.write('out'); e = sys.stderr; "
            "e.write(str(e.isatty()) + '\\n\\x1b[1mbold\\x1b[0m\\n'); "
            "e.write('10%\\r50%\\rdone\\n'); sys.exit(3)")
    got = _through_terminal([sys.executable, "-c", code], dict(os.environ), None)
    assert (got.returncode, got.stdout) == (3, "out")
    assert got.stderr.split("\n")[:3] == ["True", "bold", "done"]
    drawn = capfd.readouterr().err
    assert "True\r\x1b[J" in drawn and "10%\r50%\rdone\r\x1b[J" in drawn
    assert "\n" not in drawn


def test_a_finished_line_is_erased_over_every_row_it_wrapped_onto() -> None:
    """At 10 columns a 25-character line took 3 rows: back up 2 and clear; colours and a
    CR LF cut between two reads count right; a bar redrawn after a CR is left alone."""
    from pyrun.progress import LineEraser

    eraser = LineEraser(10)
    assert eraser.feed(b"x" * 25 + b"\r\n") == b"x" * 25 + b"\r\x1b[2A\x1b[J"
    assert eraser.feed(b"\x1b[1m" + b"y" * 10 + b"\x1b[0m\r") == b"\x1b[1m" + b"y" * 10 + b"\x1b[0m"
    assert eraser.feed(b"\n") == b"\r\x1b[J"  # exactly 10: one row, nothing to back up over
    assert eraser.feed(b"10%\r50%") == b"10%\r50%"
    assert eraser.feed("é".encode() * 11) == "é".encode() * 11
    assert eraser.finish() == b"\r\x1b[1A\x1b[J"  # 50% and 11 characters: 14, two rows


def test_without_a_pseudo_terminal_the_command_runs_captured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Out of pseudo-terminals: no error, the caller runs the command with its output
    captured (run_command's ordinary path)."""
    import pty

    from pyrun.subprocesses import _through_terminal

    def none_left() -> tuple[int, int]:
        raise OSError(5, "out of pty devices")

    monkeypatch.setattr(pty, "openpty", none_left)
    assert _through_terminal([sys.executable, "-c", "pass"], dict(os.environ), None) is None


def test_a_command_started_ahead_by_a_thread_is_waited_for_and_taken(tmp_path: Path) -> None:
    """The engine asks for uv's resolution while the thread that starts it ahead may still
    wait for uv's choice of the interpreter: the call waits for the thread and takes the
    command it started; nothing runs twice."""
    import subprocess

    from pyrun.subprocesses import ahead_in_thread, discard_ahead, start_ahead

    runs = tmp_path / "runs"
    argv = [sys.executable, "-c",
            f"import sys; open({str(runs)!r}, 'a').write('ran\\n'); print(sys.stdin.read())"]

    def work() -> None:  # waits for a process first, as the thread waits for uv python find
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3)"], check=True)
        start_ahead(argv, input="asked ahead")

    ahead_in_thread(work)
    out = run_command(argv, Reporter(0), input="asked ahead")
    assert out.stdout.strip() == "asked ahead"
    assert runs.read_text() == "ran\n"  # the command started ahead, not a second one
    assert discard_ahead() == 0


def test_what_a_thread_starts_ahead_and_nobody_takes_is_stopped(tmp_path: Path) -> None:
    from pyrun.subprocesses import ahead_in_thread, discard_ahead, start_ahead

    ahead_in_thread(lambda: start_ahead(
        [sys.executable, "-c", "import sys; sys.stdin.read(); input()"], input="x"))
    assert discard_ahead() == 1  # waited for the thread, then stopped what it started
