"""``pyrun [run] [OPTIONS] SCRIPT [ARGS...]`` past the warm path: the engine's :func:`run`
(or ``-m MODULE``: :func:`run_module`), with the options the warm scan understood or, when it
did not, as ``argparse`` parses them."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from pyrun.cli import _NO_OP_WARNING, _UV_WARNS, SUBCOMMANDS
from pyrun.cli.parsing import COMPOSITIONS, run_options, run_parser

if TYPE_CHECKING:
    import argparse

    from pyrun.cli import Edge, WarmOptions


def main(argv: list[str], edge: Edge, data: bytes | None = None,
         warm: WarmOptions | None = None) -> int:
    """``pyrun [run] [OPTIONS] SCRIPT [ARGS...]`` on the slow path: :func:`pyrun.engine.run`
    with the options ``warm`` (the warm scan's, which found no environment; ``data``: the
    script's bytes it read) when it understood the whole command line, else as ``argparse``
    parses them (building the parser costs a cold run about 8 ms)."""
    from pyrun.engine import Reporter, RunOptions, run, run_module
    from pyrun.errors import ScriptNotFoundError

    if warm is not None and warm.composition in COMPOSITIONS:
        script, args = warm.script, warm.script_args
        edge.verbosity = warm.verbosity
        options = RunOptions(python=warm.python or None,
                             with_requirements=tuple(warm.with_requirements),
                             offline=warm.offline, composition=warm.composition,
                             lock_mode=warm.lock_mode)
    else:
        ns = run_parser().parse_args(argv[1:] if argv[:1] == ["run"] else argv)
        options, edge.verbosity = run_options(ns)
        if warm is None and edge.verbosity >= 0:  # else the warm scan said it
            for flag in _UV_WARNS:
                if getattr(ns, flag[2:].replace("-", "_")):
                    print(_NO_OP_WARNING.format(flag=flag), file=sys.stderr)
        script, args = ns.script, script_args(argv, ns.script, ns.args)
        data = data if warm is not None and ns.script == warm.script else None
        if ns.module:
            return run_module(script, args, options, Reporter(edge.verbosity))
    try:
        return run(script, args, options, Reporter(edge.verbosity), data=data,
                   early=warm.early if warm is not None else None)
    except ScriptNotFoundError as exc:
        hint = _subcommand_hint(script, argv)
        if hint:
            raise ScriptNotFoundError(exc.path, f"{exc}; {hint}") from None
        raise


def _subcommand_hint(script: str, argv: list[str]) -> str:
    """``did you mean `pyrun add`?`` when a missing SCRIPT looks like a mistyped
    subcommand (a bare word close to one), else ``""``."""
    import difflib

    from pyrun.errors import CLOSE

    if os.sep in script or "." in script or argv[:1] == ["run"]:
        return ""
    close = difflib.get_close_matches(script, SUBCOMMANDS[1:], n=1, cutoff=CLOSE)
    return f"did you mean `pyrun {close[0]}`?" if close else ""


def script_args(argv: list[str], script: str, parsed: list[str]) -> list[str]:
    """The arguments after SCRIPT exactly as given: ``argparse`` drops a ``--`` that follows
    SCRIPT (``pyrun x.py -- a``), which belongs to the script."""
    for i, arg in enumerate(argv):
        if arg == script and argv[i + 1:] in (parsed, ["--", *parsed]):
            return argv[i + 1:]
    return parsed  # pragma: no cover - argparse took SCRIPT from argv




def parser(command: str = "run") -> argparse.ArgumentParser:
    """The run parser (:func:`pyrun.cli.parsing.run_parser`)."""
    return run_parser()
