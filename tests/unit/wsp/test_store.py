"""The two stores behind one interface: pyrun's own server (a project's ``.venv`` and
``.python-envs``) and the toolkit's ``VenvFolder`` answer the same methods with the same
params checks, errors and capabilities, because both are a generic ``Server`` over a ``Store``.
Called in-process (``Server.call``) and over in-memory streams; nothing here builds an
environment."""

from __future__ import annotations

import io
import json
import venv
from pathlib import Path
from typing import Any

import pytest

from pyrun.wsp.base import Server
from pyrun.wsp.framing import encode_frame, read_frame
from pyrun.wsp.jsonrpc import RpcError
from pyrun.wsp.params import ExecuteParams, structure
from pyrun.wsp.server import project_server
from pyrun.wsp.toolkit import VenvFolder


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
    ("environment/create", {"name": "a/b"}, -32602, "params.name must be a plain directory name"),
    ("environment/create", {"name": "x", "requirements": "six"}, -32602,
     "params.requirements must be a list of strings"),
    ("environment/execute", {"id": "nope"}, -32602, "params.argv is required"),  # params first
    ("environment/execute", {"id": "nope", "argv": ["x"], "stream": {"token": True}}, -32602,
     'params.stream must be {"token": a string or integer}'),
    ("environment/execute", {"id": "nope", "argv": ["x"], "timeout": "1"}, -32602,
     "params.timeout must be a number of seconds"),
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
    assert list(pyrun["capabilities"]) == ["pyrun"]  # pyrun's server names no toolkit
    assert folder["capabilities"]["toolkit"]["name"] == "pyrun"
    mine, theirs = pyrun["capabilities"]["pyrun"], folder["capabilities"]["pyrun"]
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
