"""The two stores behind one interface: pyrun's own server (a project's ``.venv`` and
``.python-envs``) and the toolkit's ``VenvFolder`` answer the same methods with the same
params checks, errors and capabilities, because both are a generic ``Server`` over a ``Store``.
Called in-process (``Server.call``) and over in-memory streams; nothing here builds an
environment."""

from __future__ import annotations

import dataclasses
import io
import json
import venv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pyrun import __version__
from pyrun.wsp import venvs
from pyrun.wsp.base import Server
from pyrun.wsp.framing import encode_frame, read_frame
from pyrun.wsp.jsonrpc import RpcError
from pyrun.wsp.params import DIRECTORY_NAME, SECONDS, ExecuteParams, structure
from pyrun.wsp.server import project_server
from pyrun.wsp.toolkit import Environment, VenvFolder


def servers(tmp_path: Path) -> list[Server]:
    project = tmp_path / "proj"
    (project / "envs").mkdir(parents=True)
    folder = Server("folder")
    folder.include(VenvFolder(project / "envs", log=io.StringIO()))
    return [project_server(project, log=io.StringIO()), folder]


def error(server: Server, method: str, params: Any) -> RpcError:
    with pytest.raises(RpcError) as caught:
        server.call(method, params)
    return caught.value


BAD = [
    ("environment/get", {}, -32602, "params.id is required"),
    ("environment/get", {"id": 7}, -32602, "params.id must be a string"),
    ("environment/get", {"id": "nope"}, -31001, "no environment 'nope'"),
    *[("environment/create", {"name": name}, -32602, "params.name must be " + DIRECTORY_NAME.what)
      for name in ("a/b", "..", "a\tb", "\ud800", "n" * 256, "\u00e9" * 128)],  # > 255 bytes
    ("environment/create", {"name": "x", "requirements": "six"}, -32602,
     "params.requirements must be a list of strings"),
    ("environment/execute", {"id": "nope"}, -32602, "params.argv is required"),  # params first
    ("environment/execute", {"id": "nope", "argv": ["x"], "stream": {"token": True}}, -32602,
     'params.stream must be {"token": a string or integer}'),
    ("environment/execute", {"id": "nope", "argv": ["x"], "timeout": "1"}, -32602,
     "params.timeout must be " + SECONDS.what),
    ("environment/execute", {"id": "nope", "argv": ["x"], "timeout": 0}, -32602,
     "params.timeout must be " + SECONDS.what),
    ("environment/execute", {"id": "nope", "argv": ["x"], "timeout": -1.5}, -32602,
     "params.timeout must be " + SECONDS.what),
    ("environment/execute", {"id": "nope", "argv": ["x"], "timeout": 1e300}, -32602,
     "params.timeout must be " + SECONDS.what),
    ("environment/execute", {"id": "nope", "argv": ["x"]}, -31001, "no environment 'nope'"),
    ("pyrun/process/kill", {"token": 1.5}, -32602, "params.token must be a string or integer"),
    ("pyrun/process/kill", {"token": "t"}, -31004, "no running process with token 't'"),
]


@pytest.mark.parametrize(("method", "params", "code", "message"), BAD)
def test_both_stores_check_params_and_answer_errors_alike(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str, params: Any, code: int,
        message: str) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    for server in servers(tmp_path):
        got = error(server, method, params)
        assert (got.code, got.message) == (code, message), server.name


def test_capabilities_are_derived_from_the_store(tmp_path: Path) -> None:
    pyrun, folder = (s.initialize({}) for s in servers(tmp_path))
    assert list(pyrun["capabilities"]) == ["pyrun"]  # everything pyrun adds is under "pyrun"
    assert list(folder["capabilities"]) == ["pyrun"]
    mine, theirs = pyrun["capabilities"]["pyrun"], dict(folder["capabilities"]["pyrun"])
    assert "toolkit" not in mine  # pyrun's own server names no toolkit
    assert theirs.pop("toolkit") == {"name": "pyrun", "version": __version__}
    assert mine["methods"] == ["pyrun/process/write", "pyrun/process/kill",
                               "pyrun/default_environment", "pyrun/set_default_environment"]
    assert theirs["methods"] == ["pyrun/process/write", "pyrun/process/kill"]  # no default
    assert {k: v for k, v in mine.items() if k != "methods"} == {
        k: v for k, v in theirs.items() if k != "methods"}
    assert set(pyrun["methods"]) - set(folder["methods"]) == {
        "pyrun/default_environment", "pyrun/set_default_environment"}


def test_a_folder_lists_its_venvs_and_deletes_one(tmp_path: Path) -> None:
    folder = tmp_path / "envs"
    venv.create(folder / "dev", with_pip=False)
    (folder / "not-a-venv").mkdir()
    app = Server("folder")
    app.include(VenvFolder(folder))
    (listed,) = app.call("environment/list")
    assert listed["id"] == "dev" and listed["source"] == "folder" and "error" not in listed
    details = app.call("environment/get", {"id": "dev"})
    assert details["interpreter_path"] == str(folder / "dev" / "bin" / "python")
    got = error(app, "environment/create", {"name": "not-a-venv"})  # its directory is in the way
    assert got.code == -31002 and got.data == {"name": "not-a-venv"}
    assert app.call("environment/delete", {"id": "dev"}) == {"id": "dev"}
    assert app.call("environment/list") == [] and not (folder / "dev").exists()


def test_a_handler_registered_after_include_wins_and_stays_slow(tmp_path: Path) -> None:
    app = Server("mine")
    app.include(VenvFolder(tmp_path / "envs"))

    @app.method("environment/create")
    def create(params: dict[str, Any]) -> Any:
        return {"made": app.param(params, "name", str)}

    assert app.call("environment/create", {"name": "x"}) == {"made": "x"}
    assert app.table["environment/create"].slow  # it replaced a slow one: a worker runs it
    assert "environment/create" in app.endpoint().slow


def test_null_is_absent_and_the_first_bad_param_is_named() -> None:
    request = structure(ExecuteParams, {"id": "e", "argv": ["python"], "cwd": None,
                                        "env": None, "stream": {"token": 4}})
    assert request.cwd is None and request.env is None and request.token == 4
    with pytest.raises(RpcError, match=r"params\.argv must be a non-empty list of strings"):
        structure(ExecuteParams, {"argv": [], "id": 3})


def test_the_toolkit_store_over_a_stream(tmp_path: Path) -> None:
    """One exchange through framing, endpoint and server: the store's answers reach the wire
    as WSP's error objects."""
    app = Server("mine")
    app.include(VenvFolder(tmp_path / "envs"))
    messages = [{"jsonrpc": "2.0", "id": 1, "method": "initialize"},
                {"jsonrpc": "2.0", "id": 2, "method": "environment/get", "params": {"id": "x"}},
                {"jsonrpc": "2.0", "id": 3, "method": "pyrun/process/write",
                 "params": {"token": "t", "data": 5}}]
    out = io.BytesIO()
    assert app.serve(io.BytesIO(b"".join(encode_frame(m) for m in messages)), out) == 0
    out.seek(0)
    replies = {}
    while (body := read_frame(out)) is not None:
        reply = json.loads(body)
        replies[reply["id"]] = reply
    assert replies[2]["error"] == {"code": -31001, "message": "no environment 'x'",
                                   "data": {"id": "x"}}
    assert replies[3]["error"]["message"] == "params.data must be a string"


class Defaulted(VenvFolder):
    """The extension API of docs/workflow-server.md: a folder with a default environment (its
    name in FOLDER/.default), an extra field, and a step of its own after each venv is made."""

    has_default = True

    def environment(self, name: str) -> Environment:
        env = super().environment(name)
        default = self.folder / ".default"
        chosen = default.read_text() if default.is_file() else None
        return dataclasses.replace(env, is_default=name == chosen)

    def set_default(self, env: Environment) -> None:
        (self.folder / ".default").write_text(env.id)

    def make(self, prefix: Path, python_version: str | None,
             requirements: Sequence[str]) -> None:
        super().make(prefix, python_version, [*requirements, "extra-tool"])
        (prefix / "made-by").write_text("Defaulted")

    def details(self, env: Environment) -> dict[str, Any]:
        out = super().details(env)
        out["extra"] = {"made_by": (env.prefix / "made-by").read_text()}
        return out


def test_a_venv_folder_subclass_overrides_the_documented_members(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []

    def fake_create_venv(prefix: Path, python_version: Any, requirements: Any, log: Any,
                         verbosity: int = 0) -> None:
        made.append((prefix.name, python_version, list(requirements)))
        venv.create(prefix, with_pip=False)

    monkeypatch.setattr(venvs, "create_venv", fake_create_venv)
    app = Server("mine")
    app.include(Defaulted(tmp_path / "envs", log=io.StringIO()))
    assert "pyrun/set_default_environment" in app.table  # has_default: the methods follow
    got = app.call("environment/create", {"name": "dev", "requirements": ["rich"]})
    assert made == [("dev", None, ["rich", "extra-tool"])]
    assert got["extra"] == {"made_by": "Defaulted"} and got["is_default"] is False
    with pytest.raises(RpcError) as none:
        app.call("pyrun/default_environment")
    assert none.value.data == {"id": None, "reason": "none"}
    assert app.call("pyrun/set_default_environment", {"id": "dev"})["is_default"] is True
    assert app.call("environment/list")[0]["is_default"] is True
    assert app.call("pyrun/default_environment")["extra"] == {"made_by": "Defaulted"}
