"""The cache's records (``pyrun.store.markers``): each written and read back by its one owner,
byte-compatible with what earlier versions wrote, and damage read as absence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyrun.engine import bytecode
from pyrun.store.markers import (
    EntryMarker,
    EnvMarker,
    Reference,
    env_lock,
    lock_file,
    read_entry_marker,
    read_env_marker,
    read_reference,
    write_entry_marker,
    write_env_marker,
    write_reference,
)

IDENTITY = {"executable": "/usr/bin/python3.11", "version": "3.11.7",
            "implementation": "cpython", "soabi": "cpython-311-x86_64-linux-gnu"}


def test_an_environment_marker_round_trips_with_the_fields_earlier_versions_wrote(
        tmp_path: Path) -> None:
    marker = EnvMarker(path="/c/envs/k", executable=IDENTITY["executable"], mode="pooled",
                       entries=("a-1-x", "b-2-y"), activation="f" * 64, key="k",
                       interpreter=IDENTITY, created=12.5)
    write_env_marker(tmp_path, marker)
    raw = json.loads((tmp_path / "pyrun-env.json").read_text())
    assert list(raw) == ["format", "key", "path", "interpreter", "mode", "entries",
                         "activation", "created"]
    assert raw["interpreter"] == IDENTITY and raw["entries"] == ["a-1-x", "b-2-y"]
    assert read_env_marker(tmp_path) == marker


def test_an_entry_marker_round_trips_and_keeps_fields_it_does_not_know(tmp_path: Path) -> None:
    (tmp_path / "site-packages").mkdir()
    (tmp_path / "site-packages" / "m.py").write_text("x = 1\n")
    write_entry_marker(tmp_path, EntryMarker("six", "1.16.0", "wheel", "https://x/six.whl",
                                             "0" * 64, installed_with=IDENTITY))
    raw = json.loads((tmp_path / "pyrun-entry.json").read_text())
    assert list(raw) == ["name", "version", "kind", "url", "sha256", "installed-with",
                         "compiled-for", "files"]
    assert list(raw["files"]) == ["site-packages/m.py"]
    raw["from-a-later-pyrun"] = {"kept": True}
    (tmp_path / "pyrun-entry.json").write_text(json.dumps(raw))
    read = read_entry_marker(tmp_path)
    assert read is not None and read.name == "six" and read.compiled_for == ()
    write_entry_marker(tmp_path, read.compiled("cpython-311"))
    again = json.loads((tmp_path / "pyrun-entry.json").read_text())
    assert again["from-a-later-pyrun"] == {"kept": True}
    assert again["compiled-for"] == ["cpython-311"]


@pytest.mark.parametrize("text", ["", "not json", "[1]", '{"interpreter": 1, "entries": []}',
                                  '{"interpreter": {}, "entries": "a"}', "\udcff"])
def test_a_damaged_marker_reads_as_absent(tmp_path: Path, text: str) -> None:
    (tmp_path / "pyrun-env.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    (tmp_path / "pyrun-entry.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    assert read_env_marker(tmp_path) is None
    if text not in ('{"interpreter": 1, "entries": []}', '{"interpreter": {}, "entries": "a"}'):
        assert read_entry_marker(tmp_path) is None


def test_an_entry_in_the_place_of_a_link_is_never_read(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "site-packages").mkdir(parents=True)
    write_entry_marker(real, EntryMarker("six", "1", "wheel", "u", "s"))
    (tmp_path / "link").symlink_to(real)
    assert read_entry_marker(real) is not None
    assert read_entry_marker(tmp_path / "link") is None


def test_a_reference_round_trips(tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    write_reference(refs, Reference(Path("/p/.venv"), ("a-1-x",)))
    write_reference(refs, Reference(Path("/q/env"), (), Path("/q/.python-envs")))
    found = sorted((read_reference(p) for p in refs.iterdir()), key=lambda r: str(r.prefix))
    assert found == [Reference(Path("/p/.venv"), ("a-1-x",)),
                     Reference(Path("/q/env"), (), Path("/q/.python-envs"))]


def test_lock_names_are_the_ones_earlier_versions_took(tmp_path: Path) -> None:
    assert lock_file(tmp_path, "six-1-abc") == tmp_path / "six-1-abc.lock"
    assert lock_file(tmp_path, env_lock("k")) == tmp_path / "env-k.lock"


def test_the_detached_compiler_finds_pyrun_where_this_one_is() -> None:
    assert (bytecode.SOURCE_ROOT / "pyrun" / "__init__.py").is_file()
    assert (bytecode.SOURCE_ROOT / "pyrun" / "engine" / "bytecode.py").samefile(bytecode.__file__)
