"""WSP framing under arbitrary chunking and malformed frames, and the lifecycle state machine."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest

from pyrun.wsp.endpoint import Endpoint, serve
from pyrun.wsp.framing import FramingError, encode_frame, read_frame
from pyrun.wsp.jsonrpc import RpcError


class Chunky(io.RawIOBase):
    """A byte stream that hands out at most a few bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, seed: int) -> None:
        self.data, self.pos, self.rng = data, 0, random.Random(seed)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self.rng.randint(1, 7), len(self.data) - self.pos)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def frames(stream: Any) -> list[Any]:
    out = []
    while (body := read_frame(stream)) is not None:
        out.append(json.loads(body))
    return out


MESSAGES = [{"jsonrpc": "2.0", "id": i, "method": "m", "params": {"s": "é" * i}} for i in range(5)]


@pytest.mark.parametrize("seed", range(8))
def test_frames_survive_any_chunking(seed: int) -> None:
    data = b"".join(encode_frame(m) for m in MESSAGES)
    assert frames(io.BufferedReader(Chunky(data, seed), buffer_size=3)) == MESSAGES


def test_other_headers_bare_newlines_and_stray_blank_lines() -> None:
    body = b'{"a":1}'
    data = (b"\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
            b"content-length: 7\r\n\r\n" + body + b"Content-Length: 7\n\n" + body)
    assert frames(io.BytesIO(data)) == [{"a": 1}, {"a": 1}]


@pytest.mark.parametrize("header", [b"Content-Type: x\r\n\r\n", b"Content-Length: ten\r\n\r\n",
                                    b"garbage\r\n\r\n", b"Content-Length: -1\r\n\r\n"])
def test_malformed_header_is_reported_and_skipped(header: bytes) -> None:
    stream = io.BytesIO(header + encode_frame({"ok": True}))
    with pytest.raises(FramingError):
        read_frame(stream)
    assert json.loads(read_frame(stream) or b"") == {"ok": True}


def test_input_ending_inside_a_frame() -> None:
    for data in (b"Content-Length: 10\r\n", b"Content-Length: 10\r\n\r\n{}"):
        with pytest.raises(EOFError):
            read_frame(io.BytesIO(data))


def call(ep: Endpoint, method: str, params: Any = None, id_: Any = 1) -> Any:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if id_ is not ...:
        msg["id"] = id_
    if params is not None:
        msg["params"] = params
    return ep.handle(json.dumps(msg).encode())


def code(reply: Any) -> int:
    return int(reply["error"]["code"])


def endpoint() -> Endpoint:
    def boom(params: dict[str, Any]) -> Any:
        raise ValueError("bug")

    def strict(params: dict[str, Any]) -> Any:
        if "id" not in params:
            raise RpcError(-32602, "id needed")
        return params["id"]

    return Endpoint({"echo": lambda p: p, "boom": boom, "strict": strict}, log=io.StringIO())


def test_lifecycle() -> None:
    ep = endpoint()
    assert code(call(ep, "echo", {})) == -32002  # before initialize
    assert call(ep, "echo", {}, id_=...) is None  # a notification gets nothing, ever
    init = call(ep, "initialize", {"client_name": "t", "client_protocol_version": "0.1.0"})
    assert init["result"]["protocol_version"] == "0.1.0" and ep.state == "running"
    assert code(call(ep, "initialize", {})) == -32600  # twice
    assert call(ep, "echo", {"x": 1}, id_="abc") == {"jsonrpc": "2.0", "id": "abc",
                                                    "result": {"x": 1}}
    assert call(ep, "shutdown")["result"] is None
    assert code(call(ep, "echo", {})) == -32600  # after shutdown
    assert ep.exit_code is None
    assert call(ep, "exit", id_=...) is None and ep.exit_code == 0


def test_exit_without_shutdown_is_status_1() -> None:
    ep = endpoint()
    call(ep, "initialize", {})
    call(ep, "exit", id_=...)
    assert ep.exit_code == 1


def test_errors() -> None:
    ep = endpoint()
    call(ep, "initialize", {})
    assert code(ep.handle(b"{not json")) == -32700
    assert ep.handle(b"{not json")["id"] is None
    assert code(ep.handle(b'{"jsonrpc": "1.0", "id": 1, "method": "echo"}')) == -32600
    assert code(ep.handle(b'{"jsonrpc": "2.0", "id": 1.5, "method": "echo"}')) == -32600
    assert code(ep.handle(b'{"jsonrpc": "2.0", "id": true, "method": "echo"}')) == -32600
    assert code(ep.handle(b"[]")) == -32600
    assert code(ep.handle(b"3")) == -32600
    assert code(call(ep, "nope", {})) == -32601
    assert code(call(ep, "echo", [1, 2])) == -32602
    assert code(call(ep, "strict", {})) == -32602
    reply = call(ep, "boom", {})  # a bug: logged with its traceback, never sent
    assert code(reply) == -32603 and "bug" not in json.dumps(reply)
    assert "ValueError: bug" in ep.log.getvalue() and "Traceback" in ep.log.getvalue()
    for body in (b'{"jsonrpc": "2.0", "id": 1, "method": ["echo"]}',
                 b'{"jsonrpc": "2.0", "id": 1, "method": {"a": 1}}',
                 b'{"jsonrpc": "2.0", "method": ["echo"]}',
                 b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "echo"}',
                 b'{"jsonrpc": "2.0", "id": 1, "method": "echo", "params": NaN}',
                 b'{"jsonrpc": "2.0", "id": 1, "method": "echo", "params": 3}'):
        reply = ep.handle(body)
        assert code(reply) in (-32600, -32700), body


def test_batch() -> None:
    ep = endpoint()
    call(ep, "initialize", {})
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"a": 1}},
        {"jsonrpc": "2.0", "method": "echo", "params": {}},  # notification: no entry
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
        5,
    ]
    replies = ep.handle(json.dumps(batch).encode())
    assert [r["id"] for r in replies] == [1, 2, None]
    assert replies[0]["result"] == {"a": 1} and code(replies[1]) == -32601
    assert code(replies[2]) == -32600
    only_notes = [{"jsonrpc": "2.0", "method": "echo"}]
    assert ep.handle(json.dumps(only_notes).encode()) is None


def test_serve_reports_bad_frames_and_goes_on() -> None:
    data = (b"Content-Length: x\r\n\r\n" + encode_frame({"jsonrpc": "2.0", "id": 1,
                                                          "method": "initialize"})
            + encode_frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
            + encode_frame({"jsonrpc": "2.0", "method": "exit"}))
    out = io.BytesIO()
    status = serve(endpoint(), io.BytesIO(data), out)
    out.seek(0)
    replies = frames(out)
    assert status == 0
    assert code(replies[0]) == -32700 and replies[1]["id"] == 1 and replies[2]["id"] == 2


def test_serve_end_of_input() -> None:
    assert serve(endpoint(), io.BytesIO(b""), io.BytesIO()) == 0
    assert serve(endpoint(), io.BytesIO(b"Content-Length: 9\r\n\r\n{"), io.BytesIO()) == 1
