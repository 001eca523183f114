"""Command-line parsing, and the README/CI agreement."""

from __future__ import annotations

from pathlib import Path

from pyrun.cli import parse_args

ROOT = Path(__file__).resolve().parents[2]


def test_options_before_script_and_args_passed_through() -> None:
    a = parse_args(["-p", "3.12", "--with=numpy", "-w", "rich", "x.py", "-v", "--python", "z"])
    assert a.python == "3.12" and a.with_requirements == ["numpy", "rich"]
    assert a.script == "x.py" and a.script_args == ["-v", "--python", "z"]
    assert a.error is None and a.verbosity == 0


def test_run_subcommand_and_double_dash() -> None:
    a = parse_args(["run", "--offline", "run"])
    assert a.script == "run" and a.offline and a.script_args == []
    b = parse_args(["--", "-weird.py", "1"])
    assert b.script == "-weird.py" and b.script_args == ["1"]


def test_errors() -> None:
    assert parse_args([]).error == "missing SCRIPT"
    assert parse_args(["--bogus", "x.py"]).error == "unknown option --bogus"
    assert parse_args(["--python"]).error == "--python needs a value"
    assert parse_args(["--upgrade=1", "x.py"]).error == "--upgrade takes no value"
    assert parse_args(["--version"]).error is None


def test_ci_runs_exactly_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    block = readme.split("<!-- setup -->", 2)[1]
    commands = [ln for ln in block.splitlines() if ln.startswith("python")]
    assert len(commands) == 2
    ci_lines = [ln.strip() for ln in ci.splitlines()]
    for command in commands:
        assert command in ci_lines
