"""pyrun's WSP client against servers that break the protocol, over real pipes to real
processes: what the client says is what the server did, whichever side of the pipe is
faster."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from pyrun.wsp.client import (
    CallTimeout,
    Client,
    ProtocolError,
    checked_result,
    decode,
    frames,
    response_result,
)
from pyrun.wsp.jsonrpc import RpcError


def test_a_server_that_printed_garbage_and_exited_is_said_to_write_no_frame() -> None:
    """The race behind the flaky ``test_timeouts_and_protocol_errors``, made certain: the
    server has exited before the client writes, so the write finds a closed pipe; the client
    still reports what the server wrote, not the closed pipe."""
    server = "import os; os.write(1, b'42\\n')"  # one write: the client stops at "42" already
    with Client([sys.executable, "-c", server], stderr=subprocess.DEVNULL) as client:
        assert client.proc.wait(timeout=60) == 0  # gone before the first request is written
        with pytest.raises(ProtocolError, match="not a frame"):
            client.initialize(timeout=30)


def test_a_server_that_exited_silently_is_said_to_have_exited() -> None:
    with Client([sys.executable, "-c", "raise SystemExit(3)"],
                stderr=subprocess.DEVNULL) as client:
        assert client.proc.wait(timeout=60) == 3
        with pytest.raises(ProtocolError, match=r"exited \(status 3\) before reading"):
            client.initialize(timeout=30)


def test_a_broken_conversation_ends_without_a_goodbye() -> None:
    """A server that broke the protocol and is still running is killed, not asked to shut
    down: a killed process is not reaped at once, and waiting for its answer to ``shutdown``
    took the whole close timeout (10 s) after every such error."""
    server = ("import os, time; os.write(1, b'42\\n'); os.close(1); "
              "time.sleep(60)")  # garbage, then alive and silent
    client = Client([sys.executable, "-c", server], stderr=subprocess.DEVNULL)
    with pytest.raises(ProtocolError, match="not a frame"):
        client.initialize(timeout=30)
    started = time.monotonic()
    assert client.close(timeout=10) == -9  # killed
    assert time.monotonic() - started < 5


# What the client reads: strictly, at once -------------------------------------------------------


def bodies(data: bytes, chunk: int = 1) -> list[bytes]:
    """The frames :func:`frames` reads from a pipe fed ``data`` ``chunk`` bytes at a time (and
    then closed), or the :class:`ProtocolError` it raised, as the last item."""
    read_end, write_end = os.pipe()
    found: list[Any] = []

    def feed() -> None:
        with os.fdopen(write_end, "wb", buffering=0) as f:
            for i in range(0, len(data), chunk):
                try:
                    f.write(data[i:i + chunk])
                except BrokenPipeError:  # the reader stopped at the first wrong byte
                    return

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        found.extend(frames(read_end))
    except ProtocolError as exc:
        found.append(exc)
    finally:
        os.close(read_end)
        feeder.join()
    return found


def test_frames_in_any_chunks_with_other_headers_and_bare_line_ends() -> None:
    one, two = b'{"a":1}', b'{"b":"\xc3\xa9"}'
    data = (b"Content-Length: 7\r\nContent-Type: application/vscode-jsonrpc\r\n\r\n" + one
            + b"\r\n" + b"content-length:%d\n\n" % len(two) + two)
    for chunk in (1, 3, 1000):
        assert bodies(data, chunk) == [one, two]
    assert bodies(b"") == []


@pytest.mark.parametrize(("data", "said"), [
    (b"42\n", "not a frame: b'42\\n'"),
    (b"Content-Length 7\r\n\r\n", "not a frame"),
    (b"Content-Length: 1_0\r\n\r\n", "not a frame"),
    (b"Content-Length: \xd9\xa1\r\n\r\n", "not a frame"),  # another script's digit
    (b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", "not a frame"),
    (b"X-Other: 1\r\n\r\n{}", "without Content-Length"),
    (b"Content-Length: 67108865\r\n\r\n", "over the limit of 67108864"),
    (b"X: " + b"y" * 9000 + b"\r\n", "not a frame"),
    (b"Content-Length: 5\r\n\r\n{}", "ended inside a frame, after 2 of its 5 bytes"),
    (b"Content-Length: 5\r\n", "ended inside a frame header"),
])
def test_what_is_not_a_frame(data: bytes, said: str) -> None:
    *_, error = bodies(data, 7)
    assert isinstance(error, ProtocolError) and said in str(error), error


def test_garbage_is_seen_before_its_line_ends() -> None:
    """A server that writes `Hello world` and falls silent is a protocol break at once, not a
    timeout: no header name has a space in it."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"Hello world")
    try:
        with pytest.raises(ProtocolError, match="not a frame: b'Hello world'"):
            next(frames(read_end))  # would wait forever for the line's end
    finally:
        os.close(read_end)
        os.close(write_end)


def test_decode_refuses_what_is_not_json() -> None:
    assert decode(b'{"x": [1]}') == {"x": [1]}
    for body, said in [(b"{", "invalid JSON"), (b'"\xff"', "invalid JSON"),
                       (b"NaN", "NaN is not JSON"), (b"[" * 100_000 + b"]" * 100_000,
                                                     "nested too deeply")]:
        with pytest.raises(ProtocolError, match=said):
            decode(body)


def test_response_shapes() -> None:
    assert response_result({"id": 1, "result": None}, "m") is None
    with pytest.raises(RpcError) as raised:
        response_result({"id": 1, "error": {"code": -31001, "message": "no", "data": {}}}, "m")
    assert (raised.value.code, raised.value.message, raised.value.data) == (-31001, "no", {})
    for bad in [{"id": 1}, {"id": 1, "result": 1, "error": {}},
                {"id": 1, "error": {"code": "1", "message": "m"}},
                {"id": 1, "error": {"code": None, "message": "m"}},
                {"id": 1, "error": {"code": True, "message": "m"}},
                {"id": 1, "error": {"code": 1.0, "message": "m"}},
                {"id": 1, "error": {"code": 1, "message": None}},
                {"id": 1, "error": [1]}]:
        with pytest.raises(ProtocolError):
            response_result(bad, "m")


def test_result_shapes() -> None:
    env = {"id": ".venv", "name": ".venv"}
    good = {"environment/list": [env], "environment/get": env, "environment/create": env,
            "pyrun/default_environment": env, "environment/delete": {"id": "x"},
            "environment/execute": {"exit_code": 3, "stdout": "", "stderr": ""},
            "initialize": {"protocol_version": "0.1.0"}, "anything/else": 7}
    for method, result in good.items():
        assert checked_result(method, result) is result
    bad: list[tuple[str, Any]] = [
        ("environment/list", {"id": "x"}), ("environment/list", ["x"]),
        ("environment/list", [{"id": 1}]), ("environment/get", None),
        ("environment/get", {"name": "x"}), ("environment/delete", "x"),
        ("environment/execute", {"exit_code": "0"}), ("environment/execute", {"exit_code": True}),
        ("environment/execute", {"exit_code": 0, "stdout": 1}), ("initialize", [])]
    for method, result in bad:
        with pytest.raises(ProtocolError, match=f"answer to {method} is not"):
            checked_result(method, result)


# Talking to a real process ----------------------------------------------------------------------

#: The start of a small server: ``read()`` a frame, ``send(obj)`` one.
PRELUDE = """
import json, sys
def read():
    length = None
    while True:
        line = sys.stdin.buffer.readline()
        if line in (b"\\r\\n", b"\\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(sys.stdin.buffer.read(length))
def send(obj):
    body = json.dumps(obj).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\\r\\n\\r\\n%s" % (len(body), body))
    sys.stdout.buffer.flush()
init = read()
send({"jsonrpc": "2.0", "id": init["id"], "result": {"protocol_version": "0.1.0"}})
"""


def served(code: str) -> Client:
    client = Client([sys.executable, "-c", PRELUDE + code], stderr=subprocess.DEVNULL)
    client.initialize(timeout=30)
    return client


def test_notifications_requests_and_late_answers_from_the_server() -> None:
    """While waiting, the client passes notifications on, answers the server's own requests
    -32601 and skips late answers to its earlier requests; then returns its answer."""
    server = """
call = read()
send({"jsonrpc": "2.0", "method": "$/progress", "params": {"n": 1}})
send({"jsonrpc": "2.0", "id": "s1", "method": "window/ask", "params": {}})
answer = read()
send({"jsonrpc": "2.0", "id": 1, "result": "late"})
send({"jsonrpc": "2.0", "id": call["id"], "result": answer})
read()
"""
    seen: list[tuple[str, Any]] = []
    with served(server) as client:
        answer = client.request("x/y", {}, 30, on_notify=lambda m, p: seen.append((m, p)))
    assert seen == [("$/progress", {"n": 1})]
    assert answer["id"] == "s1" and answer["error"]["code"] == -32601


def test_keepalive_asks_a_quiet_server_whether_it_is_alive() -> None:
    """A server that answers only after two pings: with ``keepalive`` the call outlives its
    timeout (each ping's answer is a sign of life); without, it times out."""
    server = """
call = read()
for _ in range(2):
    ping = read()
    assert ping["method"] == "$/ping", ping
    send({"jsonrpc": "2.0", "id": ping["id"], "error": {"code": -32601, "message": "no"}})
send({"jsonrpc": "2.0", "id": call["id"], "result": "done"})
read()
"""
    started = time.monotonic()
    with served(server) as client:
        assert client.request("x/y", None, 0.4, keepalive=True) == "done"
    assert time.monotonic() - started >= 0.4  # two pings, a timeout's half apart
    with served(server) as client:
        with pytest.raises(CallTimeout, match="no answer in 0.4 s"):
            client.request("x/y", None, 0.4)
        assert client.close() == -9  # no goodbye after a timeout: killed


def test_a_server_that_does_not_read_is_a_timeout_however_large_the_request() -> None:
    with served("import threading; threading.Event().wait()") as client:
        started = time.monotonic()
        with pytest.raises(CallTimeout, match="did not read its input for 0.5 s"):
            client.request("x/y", {"big": "x" * 1_000_000}, 0.5)
        assert time.monotonic() - started < 1.5
