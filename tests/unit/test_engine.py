"""The engine's API refuses what it must refuse before doing any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrun import engine
from pyrun.errors import UsageError


def test_create_venv_never_replaces_an_existing_directory(tmp_path: Path) -> None:
    prefix = tmp_path / ".venv"
    prefix.mkdir()
    (prefix / "keep").write_text("mine")
    with pytest.raises(UsageError, match="exists already"):
        engine.create_venv(prefix, None, ["six"], engine.Reporter(-1))
    assert (prefix / "keep").read_text() == "mine"


@pytest.mark.parametrize("text", ["idna\n--index-url http://evil.invalid/simple", "six\r",
                                  "rich>>1"])
def test_a_requirement_is_one_line_of_pep508(tmp_path: Path, text: str) -> None:
    with pytest.raises(UsageError, match="requirement"):
        engine.create_venv(tmp_path / "v", None, [text], engine.Reporter(-1))
    with pytest.raises(UsageError, match="requirement"):
        engine.prepare_requirements([text], cache=None)
    assert not (tmp_path / "v").exists()


def test_an_unknown_composition_is_refused_before_any_work(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    with pytest.raises(UsageError, match="--composition must be one of"):
        engine.prepare(script, engine.RunOptions(composition="copy"))
