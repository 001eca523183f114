"""The inputs that change a resolution are gathered in one place (pyrun.inputs), and the key
follows them: variables, and uv's and pip's configuration files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyrun import fastpath, inputs

SCRIPT = b'# /// script\n# dependencies = ["rich"]\n# ///\n'


def key() -> str:
    return fastpath.fast_key(fastpath.block_span(SCRIPT), "", [], "/usr/bin/python3")


def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("UV_", "PIP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "etc-xdg"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("name", ["UV_INDEX_STRATEGY", "UV_INDEX_URL", "UV_EXCLUDE_NEWER",
                                  "UV_PRERELEASE", "UV_TORCH_BACKEND", "PIP_INDEX_URL",
                                  "PIP_CONSTRAINT", "UV_SOMETHING_NEW"])
def test_a_resolution_variable_changes_the_key(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean(monkeypatch, tmp_path)
    before = key()
    monkeypatch.setenv(name, "x")
    assert key() != before


@pytest.mark.parametrize("name", ["UV_CACHE_DIR", "UV_HTTP_RETRIES", "UV_LINK_MODE",
                                  "PIP_DEFAULT_TIMEOUT", "PIP_CACHE_DIR"])
def test_an_operational_variable_does_not(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean(monkeypatch, tmp_path)
    before = key()
    monkeypatch.setenv(name, "x")
    assert key() == before


@pytest.mark.parametrize("where", ["config/uv/uv.toml", "etc-xdg/uv/uv.toml", "uv.toml",
                                   "pyproject.toml", "config/pip/pip.conf",
                                   "home/.pip/pip.conf"])
def test_a_configuration_file_changes_the_key(
    where: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean(monkeypatch, tmp_path)
    before = key()
    path = tmp_path / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[tool.uv]\n", encoding="utf-8")
    created = key()
    assert created != before
    path.write_text("[tool.uv]\nprerelease = 'allow'\n", encoding="utf-8")
    assert key() != created  # edited: another size


def test_inputs_are_sorted_and_name_the_files(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    clean(monkeypatch, tmp_path)
    monkeypatch.setenv("UV_PRERELEASE", "allow")
    monkeypatch.setenv("PIP_PRE", "1")
    (tmp_path / "uv.toml").write_text("", encoding="utf-8")
    found = inputs.resolution_inputs()
    assert found[:2] == ["PIP_PRE=1", "UV_PRERELEASE=allow"]
    assert any(f.startswith(f"{tmp_path / 'uv.toml'}\t") for f in found)
