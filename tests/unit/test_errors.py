"""The one exception tree and the one error edge."""

from __future__ import annotations

import inspect
import io

import pytest

import pyrun.cli.wsp
import pyrun.errors as errors
import pyrun.wsp.client
import pyrun.wsp.declaration
import pyrun.wsp.framing
import pyrun.wsp.jsonrpc
from pyrun.engine.resolution import parse_pylock
from pyrun.script import pythonenvs

EXITS = {v for k, v in vars(errors.ExitCode).items() if k.isupper()}


def all_exceptions() -> list[type[BaseException]]:
    found = []
    for module in (errors, pythonenvs, pyrun.cli.wsp, pyrun.wsp.client, pyrun.wsp.declaration,
                   pyrun.wsp.framing, pyrun.wsp.jsonrpc):
        found += [c for _n, c in inspect.getmembers(module, inspect.isclass)
                  if issubclass(c, BaseException) and c.__module__ == module.__name__]
    return found


def test_every_exception_derives_from_the_root_with_a_documented_code() -> None:
    found = all_exceptions()
    assert len(found) > 15
    for cls in found:
        assert issubclass(cls, errors.PyrunError), cls
        assert cls.exit_code in EXITS, cls


def raised(exc: BaseException) -> BaseException:
    """``exc`` with the traceback of having been raised."""
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - the point
        return caught


def test_a_pyrun_error_is_one_message_and_its_code() -> None:
    out = io.StringIO()
    code = errors.report(errors.NoInterpreterError(">=4", "x.py: no Python >=4"), 0, out)
    assert code == 68 and out.getvalue() == "pyrun: error: x.py: no Python >=4\n"
    out = io.StringIO()
    assert errors.report(raised(errors.UsageError("bad")), 1, out) == 64
    assert "Traceback" in out.getvalue()  # -v shows it


def test_context_bug_and_interrupt() -> None:
    error = errors.ToolNotFoundError("no uv")
    error.context = "cannot start the workflow server"
    out = io.StringIO()
    assert errors.report(error, 0, out) == 71
    assert out.getvalue() == "pyrun: error: cannot start the workflow server: no uv\n"
    out = io.StringIO()
    assert errors.report(raised(KeyError("x")), -1, out) == 70
    assert "Traceback" in out.getvalue() and "internal error (please report it)" in out.getvalue()
    out = io.StringIO()
    assert errors.report(KeyboardInterrupt(), 0, out) == 130


@pytest.mark.parametrize("text", ["not toml [", '[[packages]]\nversion = "1"\n',
                                  '[[packages]]\nname = "a"\n', 'packages = 3\n'])
def test_a_lock_that_cannot_be_read_is_a_lock_error(text: str) -> None:
    with pytest.raises(errors.LockError, match="uv pip compile: not a lock pyrun can read"):
        parse_pylock(text, "uv pip compile")
