"""Making a venv for ``environment/create``: the engine composes its requirements from pyrun's
pool, its errors become WSP's codes, and its progress lines become LSP's work-done
``$/progress`` notifications when the client asked for them (docs/wsp.md, "Progress for
create").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyrun.errors import (
    CommandError,
    IndexServerError,
    NetworkError,
    NoInterpreterError,
    PyrunError,
    ResolutionError,
    UsageError,
)
from pyrun.wsp.endpoint import current
from pyrun.wsp.jsonrpc import (
    InvalidParams,
    PythonUnavailable,
    RequirementsFailed,
    RpcError,
    cancelled,
)
from pyrun.wsp.workdone import WorkDone


class Progress:
    """A text stream that turns the engine's progress lines into the reports of a
    :class:`~pyrun.wsp.workdone.WorkDone` (LSP's work-done progress)."""

    def __init__(self, work: WorkDone) -> None:
        self.work = work

    def write(self, text: str) -> int:
        """Send each non-blank line of ``text`` as a ``report``; returns ``len(text)``."""
        for line in text.splitlines():
            if line.strip():
                self.work.report(line.removeprefix("pyrun: "))
        return len(text)

    def flush(self) -> None:
        """Nothing to flush: each line is sent as it is written."""

    def isatty(self) -> bool:
        """True: the engine's progress lines are for this stream, its debug lines are not."""
        return True


def make_venv(prefix: Path, python_version: str | None, requirements: Sequence[str],
              log: Any) -> None:
    """Make a venv at ``prefix`` with ``requirements`` composed from pyrun's pool
    (:func:`create_venv`); its progress goes to the client as ``$/progress`` when the request
    being answered gave a ``work_done_token`` (a report of the handler's own progress when
    one is open: :mod:`pyrun.wsp.workdone`), else to ``log``.

    A request cancelled (``$/cancelRequest``) before or while the venv is made leaves
    nothing behind: the venv is removed and the answer is -32800 (docs/wsp.md,
    "Cancellation").

    Raises:
        RpcError: as :func:`create_venv`; -32800 when the request was cancelled.
    """
    request = current()
    if request is not None and request.cancelled.is_set():
        raise cancelled(request.id)
    try:
        with WorkDone(f"creating {prefix.name}", request) as work:
            create_venv(prefix, python_version, requirements,
                        Progress(work) if work.active else log)
    except RpcError:
        if request is None or not request.cancelled.is_set():
            raise
    if request is not None and request.cancelled.is_set():
        _remove(prefix)
        raise cancelled(request.id)


def _remove(prefix: Path) -> None:
    """Remove what a cancelled create made at ``prefix`` (a real directory; a link in its
    place is left alone)."""
    import shutil

    if prefix.is_dir() and not prefix.is_symlink():
        shutil.rmtree(prefix, ignore_errors=True)


def create_venv(prefix: Path, python_version: str | None, requirements: Sequence[str],
                log: Any, verbosity: int = 0) -> None:
    """``environment/create``'s work: :func:`pyrun.engine.create_venv`, its errors mapped to
    WSP's codes.

    Raises:
        InvalidParams: -32602, for an invalid requirement.
        PythonUnavailable: -31003, when no installed Python matches.
        RequirementsFailed: -31900, when the venv, resolution or installation fails.
    """
    from pyrun import engine  # the engine's face: loaded when an environment is first made

    try:
        engine.create_venv(prefix, python_version, list(requirements),
                           engine.Reporter(verbosity, stream=log))
    except UsageError as exc:
        raise InvalidParams(str(exc)) from None
    except NoInterpreterError as exc:  # the engine speaks of --python; the client sent this
        message = str(exc).replace("--python ", "python_version ", 1)
        raise PythonUnavailable(python_version, message) from None
    except PyrunError as exc:
        reason = ("resolution" if isinstance(exc, ResolutionError)
                  else "network" if isinstance(exc, (NetworkError, IndexServerError))
                  else "venv" if isinstance(exc, CommandError) else "install")
        raise RequirementsFailed(str(exc), reason) from None
