"""pyrun's WSP server's view of a project's environments (``.venv``, ``.python-envs``, the
activated one), without a process: the methods called directly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyrun.wsp.jsonrpc import RpcError
from pyrun.wsp.server import project_server
from tests.unit.test_pythonenvs import fake_venv


def test_server_view_and_unsupported_default(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    fake_venv(tmp_path / "envs" / "ok", "3.11.7")
    (tmp_path / "conda-env").mkdir()  # not a venv: this server does not support it
    (tmp_path / ".python-envs").write_text("envs/ok\nconda-env\n")
    server = project_server(tmp_path)
    listed = server.call("environment/list")
    assert [e["id"] for e in listed] == ["conda-env", "envs/ok"]
    ok = next(e for e in listed if e["id"] == "envs/ok")
    assert ok["python_version"] == "3.11.7" and ok["is_default"] is False and "error" not in ok
    conda = next(e for e in listed if e["id"] == "conda-env")
    assert conda["is_default"] is True and "not a virtual environment" in conda["error"]
    with pytest.raises(RpcError) as exc:
        server.call("pyrun/default_environment")
    assert exc.value.code == -31001 and exc.value.data["reason"] == "unsupported"
    fake_venv(tmp_path / ".venv")  # .venv wins as the implicit last line
    assert server.call("pyrun/default_environment")["id"] == ".venv"
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "envs" / "ok"))  # an activated env wins
    assert server.call("pyrun/default_environment")["prefix"] == str(tmp_path / "envs" / "ok")
    monkeypatch.setenv("VIRTUAL_ENV", os.fspath(tmp_path / "elsewhere"))
    listed = server.call("environment/list")
    assert [e["id"] for e in listed if e["source"] == "activated" and e["is_default"]] \
        == [os.fspath(tmp_path / "elsewhere")]


def test_an_unreadable_python_envs_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / ".python-envs").write_bytes(b"caf\xe9\n")
    with pytest.raises(RpcError) as caught:
        project_server(tmp_path).call("environment/list")
    assert caught.value.code == -31901 and caught.value.data["path"].endswith(".python-envs")


def test_the_trust_question_says_what_a_yes_covers(tmp_path: Path) -> None:
    from pyrun.wsp.declaration import Declaration
    from pyrun.wsp.trust import trust_covers

    script = Declaration("script", tmp_path, tmp_path / "pyproject.toml", script=tmp_path / "w.py")
    command = Declaration("cmd", tmp_path, tmp_path / "pyproject.toml", cmd=("tool", "wsp"))
    assert "script's content" in trust_covers(script)
    assert "not the programs it runs" in trust_covers(command)
