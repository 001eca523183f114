"""pip's installation report read into pins, and pins written back as hash-checked pip input."""

from __future__ import annotations

import json

from pyrun.engine.installers.pip import parse_pip_report, pip_requirements

REPORT = {
    "version": "1",
    "install": [
        {"metadata": {"name": "Six", "version": "1.17.0"},
         "download_info": {"url": "https://files.example/six-1.17.0-py2.py3-none-any.whl",
                           "archive_info": {"hash": "sha256=aa", "hashes": {"sha256": "aa"}}}},
        {"metadata": {"name": "docopt", "version": "0.6.2"},
         "download_info": {"url": "https://files.example/docopt-0.6.2.tar.gz",
                           "archive_info": {"hashes": {"sha256": "bb"}}}},
        {"metadata": {"name": "mine", "version": "1"},
         "download_info": {"url": "https://git.example/mine",
                           "vcs_info": {"vcs": "git", "commit_id": "abc"}}},
    ],
}


def test_report_to_pins() -> None:
    pins = parse_pip_report(json.dumps(REPORT))
    assert [(p.name, p.version, p.kind, p.sha256) for p in pins] == [
        ("docopt", "0.6.2", "sdist", "bb"), ("mine", "1", "vcs", ""),
        ("six", "1.17.0", "wheel", "aa")]


def test_pins_to_requirements() -> None:
    pins = parse_pip_report(json.dumps(REPORT))
    assert pip_requirements([pins[0], pins[2]]).splitlines() == [
        "docopt @ https://files.example/docopt-0.6.2.tar.gz --hash=sha256:bb",
        "six @ https://files.example/six-1.17.0-py2.py3-none-any.whl --hash=sha256:aa",
    ]
    # one artifact without a hash: no hash-checking mode (pip wants all or none)
    assert "--hash" not in pip_requirements(pins) and "mine==1" in pip_requirements(pins)


# -- failures, classified from the recorded outputs of real pip runs ---------------------------

import pytest  # noqa: E402
from packaging.requirements import Requirement  # noqa: E402

from pyrun.engine.installers.pip import Pip  # noqa: E402
from pyrun.errors import InstallError, LockError, NetworkError, ResolutionError  # noqa: E402
from pyrun.progress import Reporter  # noqa: E402
from tests.unit.installers.replay import Replay, here, recorded  # noqa: E402


@pytest.mark.parametrize(("name", "kind"), [
    ("pip-resolution", ResolutionError),
    ("pip-conflict", ResolutionError),
    ("pip-build-failure", InstallError),
])
def test_recorded_failures_are_classified(name: str, kind: type) -> None:
    pip = Pip(Reporter(-1), runner=Replay([recorded(name)]), command=["pip"])
    with pytest.raises(kind) as caught:
        pip.resolve([Requirement("idna")], here())
    assert type(caught.value) is kind
    assert caught.value.command is not None and "pip said" in str(caught.value)


def test_a_network_failure_is_told_by_pips_retry_warning() -> None:
    # pip prints why a request failed only while it retries (pyrun keeps one retry); without
    # it, an unreachable index looks like an unknown package (recorded: pip-unreachable.json).
    out = {"returncode": 1, "stdout": "", "stderr": (
        "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) "
        "after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection."
        "HTTPConnection object at 0x7f>: Failed to establish a new connection: [Errno 111] "
        "Connection refused')': /simple/idna/\n" + str(recorded("pip-unreachable")["stderr"]))}
    pip = Pip(Reporter(-1), runner=Replay([out]), command=["pip"])
    with pytest.raises(NetworkError) as caught:
        pip.resolve([Requirement("idna")], here())
    assert caught.value.unreachable


def test_offline_is_refused_without_running_pip() -> None:
    replay = Replay([recorded("pip-resolution")])
    pip = Pip(Reporter(-1), offline=True, runner=replay, command=["pip"])
    with pytest.raises(NetworkError, match="--offline needs uv") as caught:
        pip.resolve([Requirement("idna")], here())
    assert caught.value.command is None and replay.calls == []


def test_a_report_of_another_shape_is_a_lock_error() -> None:
    with pytest.raises(LockError, match="report cannot be read"):
        parse_pip_report('{"install": [1]}')


def test_tool_uv_settings_need_uv() -> None:
    from pyrun.errors import ToolNotFoundError
    from pyrun.script.uvsettings import UvSettings

    replay = Replay([recorded("pip-resolution")])
    pip = Pip(Reporter(-1), runner=replay, command=["pip"],
              settings=UvSettings({"exclude-newer": "2020-01-01"}))
    with pytest.raises(ToolNotFoundError, match=r"\(exclude-newer\) can be honoured only by uv"):
        pip.resolve([Requirement("six")], here())
    assert replay.calls == []
