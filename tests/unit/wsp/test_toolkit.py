"""The workflow-server toolkit over in-memory streams: handlers become methods, initialize is
derived from them, errors map to WSP's codes, params are validated, the lifecycle holds."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import pytest

from pyrun.wsp.framing import encode_frame, read_frame
from pyrun.wsp.testing import connect
from pyrun.wsp.toolkit import ClientInfo, EnvironmentNotFound, RpcError, Server, current


def exchange(app: Server, *messages: Any) -> list[Any]:
    """Serve ``messages`` (then the end of input); return every frame the server wrote."""
    stdin = io.BytesIO(b"".join(encode_frame(m) for m in messages))
    stdout = io.BytesIO()
    assert app.serve(stdin, stdout) == 0
    stdout.seek(0)
    out = []
    while (body := read_frame(stdout)) is not None:
        out.append(json.loads(body))
    return sorted(out, key=lambda r: str(r.get("id")))


def request(id_: int, method: str, params: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return message


def make() -> Server:
    app = Server("mine", "1.2")

    @app.method("environment/list")
    def listing(params: dict[str, Any]) -> list[Any]:
        return [{"id": "a", "name": "a", "python_version": "3.12"}]

    @app.method("environment/get")
    def get(params: dict[str, Any]) -> Any:
        env_id = app.param(params, "id", str)
        if env_id != "a":
            raise EnvironmentNotFound(env_id)
        return {"id": "a"}

    @app.method("boom")
    def boom(params: dict[str, Any]) -> Any:
        raise ValueError("a bug")

    return app


def test_initialize_is_derived_from_the_handlers() -> None:
    (init,) = exchange(make(), request(1, "initialize", {"client_name": "t"}))
    result = init["result"]
    assert result["protocol_version"] == "0.1.0" and result["server_name"] == "mine"
    assert result["server_version"] == "1.2"
    assert list(result["capabilities"]) == ["pyrun"]  # the namespace docs/wsp.md reserves
    assert result["capabilities"]["pyrun"]["toolkit"]["name"] == "pyrun"
    assert result["methods"] == sorted(["environment/list", "environment/get", "boom",
                                        "initialize", "shutdown", "exit"])


def test_errors_params_and_lifecycle() -> None:
    replies = exchange(make(), request(0, "environment/list"), request(1, "initialize"),
                       request(2, "environment/get", {"id": "zz"}),
                       request(3, "environment/get", {"id": 7}),
                       request(4, "environment/get", {}), request(5, "nope"),
                       request(6, "boom"), request(7, "environment/list", []),
                       request(8, "shutdown"), request(9, "environment/list"))
    by_id = {r["id"]: r for r in replies}
    assert by_id[0]["error"]["code"] == -32002  # before initialize
    assert by_id[2]["error"] == {"code": -31001, "message": "no environment 'zz'",
                                 "data": {"id": "zz"}}
    assert by_id[3]["error"]["code"] == -32602 and "must be a str" in by_id[3]["error"]["message"]
    assert by_id[4]["error"]["code"] == -32602 and "is required" in by_id[4]["error"]["message"]
    assert by_id[5]["error"]["code"] == -32601
    assert by_id[6]["error"]["code"] == -32603  # a handler's bug: answered, logged, served on
    assert by_id[7]["result"][0]["id"] == "a"
    assert by_id[8]["result"] is None and by_id[9]["error"]["code"] == -32600


def test_the_toolkit_imports_no_third_party_module() -> None:
    import subprocess
    import sys
    from pathlib import Path

    import pyrun

    code = ("import sys; before = set(sys.modules); import pyrun.wsp.toolkit; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    src = str(Path(pyrun.__file__).parents[1])
    # -B and PYTHONDONTWRITEBYTECODE: the child leaves no __pycache__ in the source tree
    loaded = subprocess.run([sys.executable, "-S", "-B", "-c", code], capture_output=True,
                            text=True, check=True, env={"PYTHONPATH": src,
                                                        "PYTHONDONTWRITEBYTECODE": "1"},
                            ).stdout.split()
    outside = [m for m in loaded if m.split(".")[0] not in sys.stdlib_module_names
               and m.split(".")[0] != "pyrun" and not m.startswith("_")]
    assert outside == []  # no packaging, filelock, platformdirs, uv: stdlib and pyrun only


# -- typed params and results, current(), lifecycle hooks (issue 23) ----------------------------

@dataclass(frozen=True)
class Step:
    name: str
    args: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    steps: list[Step]
    limits: dict[str, int] = field(default_factory=dict)
    mode: Literal["fast", "careful"] = "fast"
    note: Optional[str] = None


@dataclass(frozen=True)
class Planned:
    count: int
    first: Optional[Step]
    where: Path


def planner() -> Server:
    app = Server("typed")

    @app.method("plan/make")
    def make_plan(params: Plan) -> Planned:
        assert isinstance(params, Plan) and all(isinstance(s, Step) for s in params.steps)
        return Planned(len(params.steps), params.steps[0] if params.steps else None,
                       Path("/srv") / params.mode)

    return app


@pytest.mark.parametrize(("params", "message"), [
    ({}, "params.steps is required"),
    ({"steps": {"name": "x"}}, "params.steps must be a list"),
    ({"steps": [{"name": "a"}, {"args": []}]}, "params.steps[1].name is required"),
    ({"steps": [{"name": "a", "args": ["x", 2]}]}, "params.steps[0].args[1] must be a string"),
    ({"steps": [None]}, "params.steps[0] must be an object"),
    ({"steps": [], "limits": {"cpu": "2"}}, 'params.limits["cpu"] must be an integer'),
    ({"steps": [], "limits": {"cpu": True}}, 'params.limits["cpu"] must be an integer'),
    ({"steps": [], "mode": "slow"}, 'params.mode must be one of "fast", "careful"'),
    ({"steps": [], "note": 5}, "params.note must be a string or null"),
])
def test_typed_params_are_checked_whole_and_the_bad_one_named(params: Any, message: str) -> None:
    with pytest.raises(RpcError) as caught:
        planner().call("plan/make", params)
    assert (caught.value.code, caught.value.message) == (-32602, message)


def test_typed_params_reach_the_handler_and_dataclass_results_go_out_as_json() -> None:
    with connect(planner()) as client:
        got = client.request("plan/make", {"steps": [{"name": "lint", "args": ["--fix"]}],
                                           "mode": "careful", "note": None, "unknown": 1})
        assert got == {"count": 1, "first": {"name": "lint", "args": ["--fix"]},
                       "where": "/srv/careful"}
        assert client.request("plan/make", {"steps": []})["first"] is None


def test_a_params_class_json_cannot_fill_is_refused_when_registered() -> None:
    app = Server("bad")

    @dataclass
    class Local:  # defined in a function: its annotation "Local" cannot be resolved later
        x: int

    with pytest.raises(TypeError, match="set"):
        app.method("a", params=WithSet)(lambda p: None)
    with pytest.raises(TypeError, match="cannot be resolved"):
        @app.method("b")
        def handler(params: Local) -> None: ...
    app.method("c", params=Local)(lambda p: p.x)  # named explicitly: fine
    assert app.call("c", {"x": 2}) == 2

    @app.method("d")
    def untyped(params: Mapping[str, Unknown]) -> Any:  # noqa: F821 - for type checkers only
        return params

    assert app.call("d", {"y": 1}) == {"y": 1}  # the params object, unchecked


@dataclass
class WithSet:
    tags: set[str]


def test_current_is_the_request_in_every_handler() -> None:
    app = Server("who")
    seen: list[Any] = []

    @app.method("who/inline")
    def inline(params: dict[str, Any]) -> Any:
        request = current()
        assert request is not None
        seen.append(request)
        return {"id": request.id, "method": request.method, "token": request.work_done_token}

    @app.method("who/slow", slow=True)
    def slow(params: dict[str, Any]) -> Any:
        return inline(params)

    with connect(app) as client:
        assert client.request("who/inline", {"work_done_token": "t"}) == {
            "id": 2, "method": "who/inline", "token": "t"}
        assert client.request("who/slow") == {"id": 3, "method": "who/slow", "token": None}
    assert current() is None  # outside a handler


def test_lifecycle_hooks_see_the_client_and_clean_up_once() -> None:
    app = Server("hooks")
    events: list[Any] = []

    @app.on_initialize
    def hello(client: ClientInfo) -> None:
        events.append(("hello", client.name, client.protocol_version, client.params.get("x")))

    @app.on_shutdown
    def first() -> None:
        events.append("first registered")

    @app.on_shutdown
    def broken() -> None:
        raise OSError("cannot clean")

    client = connect(app, initialize=False)
    client.initialize("my-editor", x=1)
    assert app.client is not None and app.client.name == "my-editor"
    assert client.request("shutdown") is None  # a failing hook does not fail shutdown
    assert events == [("hello", "my-editor", "0.1.0", 1), "first registered"]
    assert client.close() == 0 and events.count("first registered") == 1
    assert "a shutdown hook failed" in client.logged and "cannot clean" in client.logged


def test_shutdown_hooks_run_at_the_end_of_input_too() -> None:
    app = Server("eof")
    done: list[str] = []
    app.on_shutdown(lambda: done.append("cleaned"))
    assert app.serve(io.BytesIO(encode_frame(request(1, "initialize"))), io.BytesIO(),
                     log=io.StringIO()) == 0
    assert done == ["cleaned"]


def test_an_initialize_hook_can_refuse_a_client() -> None:
    app = Server("picky")

    @app.on_initialize
    def only_editors(client: ClientInfo) -> None:
        if client.name != "editor":
            raise RpcError(-32600, "editors only", {"client_name": client.name})

    client = connect(app, initialize=False)
    with pytest.raises(RpcError) as refused:
        client.initialize("script")
    assert refused.value.data == {"client_name": "script"}
    with pytest.raises(RpcError) as still_new:
        client.request("environment/list")
    assert still_new.value.code == -32002  # not initialized: the refusal left it so
    assert client.initialize("editor")["server_name"] == "picky"
    assert client.close() == 0
