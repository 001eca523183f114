"""uv's failures classified from the recorded outputs of real uv runs, and the settings every
uv call pins (the interpreter, no Python downloads, the link mode of pool installs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pyrun.engine.installers.uv import LINK_MODE, Uv
from pyrun.engine.resolution import LockedDistribution
from pyrun.errors import (
    DiskFullError,
    IndexServerError,
    InstallError,
    NetworkError,
    ResolutionError,
)
from pyrun.progress import Reporter
from tests.unit.installers.replay import Replay, here, recorded

CASES = [
    ("uv-resolution", ResolutionError, False, "cannot be satisfied"),
    ("uv-conflict", ResolutionError, False, "cannot be satisfied"),
    ("uv-not-found-index", ResolutionError, False, "cannot be satisfied"),
    ("uv-unreachable", NetworkError, True, "cannot be reached"),
    ("uv-dns", NetworkError, True, "cannot be reached"),
    ("uv-server-error", IndexServerError, False, "HTTP 500 (a server error, not your connection)"),
    ("uv-server-503", IndexServerError, False, "HTTP 503 (a server error, not your connection)"),
    ("uv-build-failure", InstallError, False, "failed. uv said"),
    ("uv-git-unreachable", NetworkError, True, "cannot be reached"),
    ("uv-url-dns", NetworkError, True, "cannot be reached"),
]


@pytest.mark.parametrize(("name", "kind", "unreachable", "words"), CASES)
def test_recorded_failures_are_classified(
    name: str, kind: type, unreachable: bool, words: str
) -> None:
    replay = Replay([recorded(name)])
    uv = Uv(Reporter(-1), runner=replay, binary="uv")
    with pytest.raises(kind) as caught:
        uv.resolve([Requirement("idna")], here())
    error = caught.value
    assert type(error) is kind, type(error)
    assert words in str(error), str(error)
    assert error.command is not None and error.command.output  # the command's data is kept
    if isinstance(error, NetworkError):
        assert error.unreachable is unreachable
    if isinstance(error, IndexServerError):  # reached and failing: not a network failure
        assert not isinstance(error, NetworkError) and error.exit_code == 69
        assert error.status in (500, 503)
    if isinstance(error, (NetworkError, IndexServerError)):
        # unreachable: no retry (it would only wait); a failing server: uv's own retries
        assert len(replay.calls) == (1 if unreachable else 2)


def test_offline_without_the_cache_names_the_distribution() -> None:
    uv = Uv(Reporter(-1), offline=True, runner=Replay([recorded("uv-offline-missing")]),
            binary="uv")
    with pytest.raises(NetworkError, match="idna is not in the cache and --offline"):
        uv.resolve([Requirement("idna")], here())


def test_offline_install_of_a_wheel_not_in_the_cache_is_a_network_error(tmp_path: Path) -> None:
    uv = Uv(Reporter(-1), offline=True, runner=Replay([recorded("uv-offline-install-missing")]),
            binary="uv")
    dist = LockedDistribution("tomli-w", "1.2.0", "wheel", "https://x.invalid/t.whl", "aa", {})
    with pytest.raises(NetworkError, match="tomli-w is not in the cache and --offline") as caught:
        uv.install([dist], tmp_path / "p", here(), tmp_path)
    assert caught.value.exit_code == 69


def test_a_full_disk_is_a_cache_error_whatever_the_step() -> None:
    out = {"returncode": 2, "stdout": "", "stderr": (
        "error: Failed to install: idna-3.7-py3-none-any.whl (idna==3.7)\n"
        "  Caused by: failed to write to file `<tmp>/p/lib/python3.11/site-packages/idna/core.py`:"
        " No space left on device (os error 28)\n")}
    uv = Uv(Reporter(-1), runner=Replay([out]), binary="uv")
    with pytest.raises(DiskFullError) as caught:
        uv.resolve([Requirement("idna")], here())
    assert caught.value.exit_code == 73 and "the disk is full" in str(caught.value)


def test_every_call_pins_the_interpreter_and_forbids_downloads() -> None:
    replay = Replay([{"returncode": 0, "stdout": 'lock-version = "1.0"\n', "stderr": ""}])
    Uv(Reporter(-1), runner=replay, binary="uv").resolve([Requirement("idna")], here())
    argv, env = replay.calls[0]
    assert argv[argv.index("--python") + 1] == here().executable
    assert env["UV_PYTHON_DOWNLOADS"] == "never"


def test_pool_installs_pin_the_link_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_LINK_MODE", "symlink")  # a user's setting must not reach the pool
    replay = Replay([{"returncode": 0, "stdout": "", "stderr": ""}])
    dist = LockedDistribution("idna", "3.7", "wheel", "https://x.invalid/idna.whl", "aa",
                              {"name": "idna", "version": "3.7",
                               "wheels": [{"url": "https://x.invalid/idna.whl"}]})
    Uv(Reporter(-1), runner=replay, binary="uv").install([dist], tmp_path / "p", here(), tmp_path)
    argv, _env = replay.calls[0]
    assert argv[argv.index("--link-mode") + 1] == LINK_MODE != "symlink"


def test_find_uv_takes_the_uv_beside_this_interpreter_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the uv package's own lookup does first (its scripts directory), without
    importing sysconfig; where there is none, the package's lookup decides."""
    import sys

    from uv import find_uv_bin

    from pyrun.engine.installers.uv import find_uv

    assert os.path.samefile(find_uv(), find_uv_bin())  # here: the same binary either way
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "uv").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "uv").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    assert find_uv() == str(tmp_path / "bin" / "uv")
    (tmp_path / "bin" / "uv").chmod(0o644)  # not executable: not taken
    assert find_uv() == find_uv_bin()
    (tmp_path / "bin" / "uv").chmod(0o755)
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # no uv package
    assert find_uv() != str(tmp_path / "bin" / "uv")


def test_the_packages_uv_says_no_index_has() -> None:
    said = ("  × No solution found when resolving dependencies:\n"
            "  ╰─▶ Because reqeusts[socks] was not found in the package registry and you "
            "require reqeusts[socks], we can conclude that your requirements are unsatisfiable.")
    assert Uv(Reporter(-1), binary="uv").missing_packages(said) == ["reqeusts"]
    assert Uv(Reporter(-1), binary="uv").missing_packages("error: no network") == []
