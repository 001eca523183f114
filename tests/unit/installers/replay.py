"""Replaying recorded outputs of real uv and pip runs (``recorded/``) through an installer's
injectable runner, so that failure classification is tested without a network."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyrun.engine.interpreters import Interpreter
from pyrun.errors import CommandError
from pyrun.progress import Reporter

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> dict[str, object]:
    """One recorded run: ``{tool, case, argv, returncode, stderr, stdout, tool_version}``."""
    data = json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@dataclass
class Replay:
    """A runner that answers each call with the next recorded run (a failure raises
    :class:`CommandError` as :func:`pyrun.subprocesses.run_command` would) and keeps the calls."""

    runs: list[dict[str, object]]
    calls: list[tuple[list[str], dict[str, str]]] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], reporter: Reporter, *, input: str | None = None,
                 environ: Mapping[str, str] | None = None,
                 what: str = "command",
                 progress: bool = False) -> subprocess.CompletedProcess[str]:
        self.calls.append((list(argv), dict(environ or {})))
        run = self.runs.pop(0) if len(self.runs) > 1 else self.runs[0]
        code, out, err = int(str(run["returncode"])), str(run["stdout"]), str(run["stderr"])
        if code != 0:
            raise CommandError(f"{what} failed", argv, code, err + out)
        return subprocess.CompletedProcess(list(argv), 0, out, err)


def here() -> Interpreter:
    """The interpreter running the tests, described without querying it."""
    from packaging.version import Version

    return Interpreter(sys.executable, Version("3.11.7"), "cpython", "cpython-311",
                       "linux-x86_64", "cpython-311-x86_64-linux-gnu")
