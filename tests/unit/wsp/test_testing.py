"""The in-memory client of pyrun.wsp.testing: a toolkit server driven through the real framing,
endpoint, workers and lifecycle, with no subprocess."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pyrun.wsp.jsonrpc import cancelled
from pyrun.wsp.testing import connect
from pyrun.wsp.toolkit import RpcError, Server, current


def waiter() -> tuple[Server, threading.Event]:
    app = Server("waiter", "2.0")
    started = threading.Event()

    @app.method("wait/cancel", slow=True)
    def wait(params: dict[str, Any]) -> str:
        request = current()
        assert request is not None
        started.set()
        if request.cancelled.wait(10):
            raise cancelled(request.id)
        return "not cancelled"

    @app.method("wait/echo")
    def echo(params: dict[str, Any]) -> Any:
        return params

    @app.method("wait/bug")
    def bug(params: dict[str, Any]) -> Any:
        raise KeyError("secret detail")

    return app, started


def test_requests_errors_and_the_lifecycle() -> None:
    app, _ = waiter()
    client = connect(app)
    assert client.init["server_name"] == "waiter" and "wait/echo" in client.init["methods"]
    assert client.request("wait/echo", {"a": [1]}) == {"a": [1]}
    with pytest.raises(RpcError) as missing:
        client.request("wait/none")
    assert missing.value.code == -32601
    with pytest.raises(RpcError) as bug:
        client.request("wait/bug")
    assert bug.value.code == -32603 and "secret detail" not in str(bug.value)
    assert "KeyError: 'secret detail'" in client.logged  # logged for the author to read
    assert client.close() == 0 and client.exit_status == 0


def test_a_slow_request_is_cancelled_while_others_are_answered() -> None:
    app, started = waiter()
    with connect(app) as client:
        pending = client.start("wait/cancel")
        assert started.wait(10)
        assert client.request("wait/echo", {"meanwhile": True}) == {"meanwhile": True}
        client.cancel(pending)
        with pytest.raises(RpcError) as stopped:
            client.result(pending)
        assert stopped.value.code == -32800


def test_raw_frames_and_batches() -> None:
    app, _ = waiter()
    with connect(app) as client:
        client.send([{"jsonrpc": "2.0", "id": "x", "method": "wait/echo", "params": {"n": 1}},
                     {"jsonrpc": "2.0", "method": "wait/echo"}])
        assert client.result("x") == {"n": 1}
        client.send_bytes(b'Content-Length: 2\r\n\r\n{}')  # an object, not a request
        client.send_bytes(b'Content-Length: 14\r\n\r\n{"id": 9, "met')  # bad JSON
        assert client.request("wait/echo") == {}  # and the server goes on
        assert [m["error"]["code"] for m in client.unmatched] == [-32600, -32700]


def test_no_initialize_first() -> None:
    app, _ = waiter()
    with connect(app, initialize=False) as client:
        with pytest.raises(RpcError) as early:
            client.request("wait/echo")
        assert early.value.code == -32002
    assert client.exit_status == 1  # exit without shutdown


def test_a_missing_answer_times_out() -> None:
    app, started = waiter()
    with connect(app) as client:
        pending = client.start("wait/cancel")
        with pytest.raises(TimeoutError):
            client.result(pending, timeout=0.2)
        client.cancel(pending)
        with pytest.raises(RpcError):
            client.result(pending)
