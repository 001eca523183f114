"""Command-line parsing: the warm path's hand scan, argparse for everything else, and the
README/CI agreement."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrun.cli import warm_options
from pyrun.cli.cache import parser as cache_parser
from pyrun.cli.parsing import run_parser
from pyrun.cli.run import script_args
from pyrun.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def test_warm_scan_takes_options_before_script_and_passes_args_through() -> None:
    a = warm_options(["-p", "3.12", "--with=numpy", "-w", "rich", "x.py", "-v", "--python", "z"])
    assert a is not None
    assert a.python == "3.12" and a.with_requirements == ["numpy", "rich"]
    assert a.script == "x.py" and a.script_args == ["-v", "--python", "z"]


def test_warm_scan_run_subcommand_double_dash_and_deprecated_link_mode() -> None:
    a = warm_options(["run", "--offline", "run"])
    assert a is not None and a.script == "run" and a.script_args == []
    b = warm_options(["--", "-weird.py", "1"])
    assert b is not None and b.script == "-weird.py" and b.script_args == ["1"]
    c = warm_options(["--composition", "link-farm", "x.py"])
    assert c is not None and c.composition == "link-farm"
    assert warm_options(["--link-mode", "farm", "x.py"]) is None  # deprecated: the slow path warns
    d = warm_options(["--locked", "x.py"])
    assert d is not None and d.lock_mode == "locked"
    assert warm_options(["--locked", "--frozen", "x.py"]) is None  # argparse refuses both
    assert warm_options(["--lock", "pylock.toml", "x.py"]) is None  # read by the engine


@pytest.mark.parametrize(("argv", "verbosity", "offline"), [
    (["x.py"], 0, False), (["-v", "--verbose", "x.py"], 2, False),
    (["-v", "-q", "x.py"], -1, False),
    (["-q", "-v", "--offline", "x.py"], -1, True), (["--offline", "x.py", "-q"], 0, True),
])
def test_a_cold_run_takes_the_warm_scan_options_as_argparse_would(
        argv: list[str], verbosity: int, offline: bool) -> None:
    """A cold run whose command line the warm scan understood is not parsed again with
    argparse: what the scan found must be what argparse finds (-q wins over any -v)."""
    from pyrun.cli.parsing import run_options as _run_options

    warm = warm_options(argv)
    assert warm is not None and (warm.verbosity, warm.offline) == (verbosity, offline)
    options, parsed = _run_options(run_parser().parse_args(argv))
    assert (parsed, options.offline) == (warm.verbosity, warm.offline)


@pytest.mark.parametrize("argv", [
    [], ["-U", "x.py"], ["-qU", "x.py"], ["-p3.12", "x.py"], ["--bogus", "x.py"], ["--help"],
    ["--python"], ["--upgrade=1", "x.py"], ["--link-mode", "copy", "x.py"],
])
def test_warm_scan_leaves_everything_else_to_argparse(argv: list[str]) -> None:
    assert warm_options(argv) is None


def test_argparse_takes_combined_short_options_and_leaves_script_args_alone() -> None:
    ns = run_parser().parse_args(["-qU", "-vv", "-p3.12", "-wrich", "x.py", "-v", "--", "-q"])
    assert ns.quiet and ns.upgrade and ns.verbose == 2 and ns.python == "3.12"
    assert ns.with_requirements == ["rich"]
    assert ns.script == "x.py" and ns.args == ["-v", "--", "-q"]


def test_usage_errors_are_one_line_with_where_to_look() -> None:
    with pytest.raises(UsageError) as caught:
        run_parser().parse_args(["--bogus", "x.py"])
    assert "unrecognized arguments: --bogus" in str(caught.value) or "--bogus" in str(caught.value)
    assert "\n" not in str(caught.value) and "pyrun --help" in str(caught.value)
    with pytest.raises(UsageError, match="SCRIPT"):
        run_parser().parse_args([])
    with pytest.raises(UsageError, match="needs a number of days, not 'soon'"):
        cache_parser().parse_args(["prune", "--unused-for", "soon"])


def test_every_cache_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("dir", "info", "prune", "clean"):
        with pytest.raises(SystemExit) as done:
            cache_parser().parse_args([command, "--help"])
        assert done.value.code == 0
        assert f"pyrun cache {command}" in capsys.readouterr().out


def test_ci_runs_exactly_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    block = readme.split("<!-- setup -->", 2)[1]
    commands = [ln for ln in block.splitlines() if ln.startswith("python")]
    assert len(commands) == 2
    ci_lines = [ln.strip() for ln in ci.splitlines()]
    for command in commands:
        assert command in ci_lines


@pytest.mark.parametrize(("argv", "expected"), [
    (["x.py", "--", "a"], ["--", "a"]),
    (["-v", "x.py", "--", "-q"], ["--", "-q"]),
    (["--", "x.py", "--", "a"], ["--", "a"]),
    (["-w", "x.py", "x.py", "b"], ["b"]),
    (["x.py"], []),
])
def test_the_script_gets_its_arguments_exactly_as_given(
    argv: list[str], expected: list[str]
) -> None:
    ns = run_parser().parse_args(argv)
    assert script_args(argv, ns.script, ns.args) == expected
    warm = warm_options(argv)
    assert warm is None or warm.script_args == expected  # the warm path agrees


def test_options_cannot_be_abbreviated() -> None:
    with pytest.raises(UsageError):
        run_parser().parse_args(["--py", "3.12", "x.py"])


def test_the_cli_knows_every_composition() -> None:
    from pyrun.cli.parsing import COMPOSITIONS
    from pyrun.engine.composition import COMPOSITIONS as ENGINES

    assert COMPOSITIONS == ENGINES
