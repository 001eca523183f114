"""The workflow-server toolkit over in-memory streams: handlers become methods, initialize is
derived from them, errors map to WSP's codes, params are validated, the lifecycle holds."""

from __future__ import annotations

import io
import json
from typing import Any

from pyrun.wsp.framing import encode_frame, read_frame
from pyrun.wsp.toolkit import EnvironmentNotFound, Server


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
    assert result["server_version"] == "1.2" and "toolkit" in result["capabilities"]
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
