"""A WSP client: start a server process, talk JSON-RPC to it over its stdio, stop it. Used by
``pyrun wsp <method>`` and the tests; works with any WSP server.

It fails fast: what the server writes is checked as it arrives (frame, JSON, response, result),
and the first thing wrong ends the conversation with a :class:`ProtocolError`. Every wait has a
bound, and a server that misses one is killed with its whole process group.
"""

from __future__ import annotations

import json
import os
import queue
import re
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pyrun.engine import start
from pyrun.errors import ExitCode, PyrunError
from pyrun.wsp import PROTOCOL_VERSION
from pyrun.wsp.framing import MAX_FRAME, encode_frame
from pyrun.wsp.jsonrpc import RpcError

#: The longest header block of a frame the client accepts (bytes); LSP's are a few dozen.
MAX_HEADER = 8192


class ProtocolError(PyrunError):
    """The server broke the protocol: it exited, wrote something that is not a frame or not
    JSON, or answered with a response or a result of the wrong shape."""

    exit_code = ExitCode.PROTOCOL


class CallTimeout(PyrunError):
    """The server did not answer in time (or did not read what was sent to it)."""

    exit_code = ExitCode.TIMEOUT


_EOF = object()
_NAME = re.compile(rb"[A-Za-z][A-Za-z0-9_-]*")  # a header's name: an HTTP token, from a letter


def shown(value: Any, limit: int = 120) -> str:
    """``value`` (JSON) as compact one-line JSON for a message, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        text = "(a value nested too deeply)"
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _not_a_frame(data: bytes) -> ProtocolError:
    return ProtocolError(f"the server wrote something that is not a frame: {data[:60]!r}")


def frames(fd: int) -> Iterator[bytes]:
    """The bodies of the frames read from ``fd`` (a pipe), strictly, as a client reads: a
    byte that cannot belong to a frame ends the conversation at once; nothing is skipped.

    Raises:
        ProtocolError: what came is not a frame (a bad header line, seen before its line
            ends; a header block over :data:`MAX_HEADER` bytes; no or a bad
            ``Content-Length``, or one over ``MAX_FRAME``), or the output ended inside one.
        OSError: reading failed.
    """
    buffer = bytearray()
    while True:
        length: int | None = None
        used, headers = 0, False
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                partial = bytes(buffer).split(b":", 1)[0].rstrip(b"\r")
                if (partial and not _NAME.fullmatch(partial)) or used + len(buffer) > MAX_HEADER:
                    raise _not_a_frame(bytes(buffer))
                data = os.read(fd, 65536)
                if not data and (buffer or headers):
                    raise ProtocolError("the server's output ended inside a frame header")
                if not data:
                    return
                buffer += data
                continue
            line = bytes(buffer[:end + 1])
            del buffer[:end + 1]
            used += len(line)
            text = line.rstrip(b"\n").removesuffix(b"\r")
            if not text and headers:
                break
            if not text:
                continue  # a blank line between frames
            headers = True
            name, colon, value = text.partition(b":")
            if not colon or not _NAME.fullmatch(name) or used > MAX_HEADER or not all(
                    32 <= c < 127 or c == 9 for c in value):
                raise _not_a_frame(line)
            if name.lower() == b"content-length":
                digits = value.strip(b" \t")
                if length is not None or not digits.isdigit() or len(digits) > 20:
                    raise _not_a_frame(line)
                length = int(digits)
                if length > MAX_FRAME:
                    raise ProtocolError(f"the server sent a frame of {length} bytes, over the "
                                        f"limit of {MAX_FRAME}")
        if length is None:
            raise ProtocolError("the server wrote a frame header without Content-Length")
        while len(buffer) < length:
            data = os.read(fd, min(length - len(buffer), 1 << 20))
            if not data:
                raise ProtocolError(f"the server's output ended inside a frame, after "
                                    f"{len(buffer)} of its {length} bytes")
            buffer += data
        yield bytes(buffer[:length])
        del buffer[:length]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(body: bytes) -> Any:
    """A frame's body as JSON (UTF-8; not ``NaN``, RFC 8259). Raises ProtocolError if not."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"the server sent invalid JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError("the server sent JSON nested too deeply") from None


class Client:
    """A running WSP server, in a process group of its own, and the client end of its stdio:
    ``argv`` run in ``cwd`` with ``environ`` (default: this process's), its stderr to
    ``stderr`` (default: inherited, so its logs reach the user). Raises OSError when it cannot
    be started.

    Use as a context manager: ``with Client(argv) as c: c.initialize(); c.request(...)``;
    leaving it sends ``shutdown`` and ``exit`` (when the server is still up) and reaps it.
    """

    def __init__(self, argv: Sequence[str], cwd: str | None = None,
                 environ: dict[str, str] | None = None, stderr: Any = None) -> None:
        self.proc = start(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                          cwd=cwd, environ=environ, new_session=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._posix = os.name == "posix"
        if self._posix:  # a write waits in poll(), with a bound, never in a blocked write()
            os.set_blocking(self.proc.stdin.fileno(), False)
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._next_id = 0
        self._send_lock = threading.Lock()
        self._closed = False
        self._broken = False  # a call timed out or the protocol broke: no polite goodbye
        # The reader owns a copy of the pipe: stdout closes now, never waiting for a read.
        reading = os.dup(self.proc.stdout.fileno())
        self.proc.stdout.close()
        self._reader = threading.Thread(target=self._read, args=(reading,), daemon=True)
        self._reader.start()

    def _read(self, fd: int) -> None:
        try:
            for body in frames(fd):
                self._inbox.put(decode(body))
            self._inbox.put(_EOF)
        except ProtocolError as exc:
            self._inbox.put(exc)
        except Exception as exc:  # noqa: BLE001 - an OSError, say: the conversation is over
            self._inbox.put(ProtocolError(f"cannot read the server's output: {exc}"))
        finally:
            os.close(fd)

    def notify(self, method: str, params: dict[str, Any] | None = None,
               timeout: float | None = 60.0) -> None:
        """Send a notification (no answer expected).

        Raises:
            CallTimeout: the server did not read it within ``timeout`` seconds.
            ProtocolError: the server exited (or stopped reading) first.
        """
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        self._send(message if params is None else {**message, "params": params}, timeout)

    def _send(self, message: Any, timeout: float | None) -> None:
        data = memoryview(encode_frame(message))  # TypeError, ValueError: not JSON, not sent
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._send_lock.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            raise self._stalled(timeout)  # another thread's write is stuck
        try:
            while data:
                assert self.proc.stdin is not None
                if self.proc.stdin.closed:
                    raise ProtocolError("the conversation with the server is over")
                try:
                    data = data[os.write(self.proc.stdin.fileno(), data):]
                    continue
                except BlockingIOError:
                    pass
                except OSError as exc:  # BrokenPipeError, mostly
                    raise self._gone(exc) from None
                left = 1.0 if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    raise self._stalled(timeout)
                poll = select.poll()
                poll.register(self.proc.stdin.fileno(), select.POLLOUT)
                poll.poll(1000 * min(1.0, left))
        finally:
            self._send_lock.release()

    def _stalled(self, timeout: float | None) -> CallTimeout:
        self._broken = True
        return CallTimeout(f"the server did not read its input for {timeout} s")
    def _gone(self, exc: OSError | None, method: str = "") -> ProtocolError:
        """The error for a server whose input (``exc``) or output (``method`` waiting) closed,
        with its exit status if it comes within half a second; or what was wrong in what it wrote
        (a server that prints "42" and exits wrote something that is not a frame)."""
        self._broken = True
        what = f"{method}: the server" if method else "the server"
        try:
            code = self.proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            return ProtocolError(f"{what} stopped reading its input ({exc})" if exc else
                                 f"{what} closed its output without answering")
        if not method:
            self._reader.join(0.5)  # a look at what the reader found, leaving it there
            with self._inbox.mutex:
                said = [m for m in self._inbox.queue if isinstance(m, ProtocolError)]
            if said:
                return said[0]
        return ProtocolError(f"{what} exited (status {code}) "
                             + ("without answering" if method else "before reading its input"))

    def request(self, method: str, params: dict[str, Any] | None = None,
                timeout: float | None = 60.0,
                on_notify: Callable[[str, Any], None] | None = None, *,
                on_sent: Callable[[int], None] | None = None, keepalive: bool = False) -> Any:
        """Send a request and return its result (checked: :func:`checked_result`).

        Args:
            timeout: how long the server may stay silent (None: no bound): the wait for the
                answer, restarted by each notification when ``on_notify`` is given.
            on_notify: ``on_notify(method, params)`` gets the server's notifications that
                arrive meanwhile (streamed output, ``$/progress``).
            on_sent: called with the request's id once it is sent (to cancel it, say).
            keepalive: after half of ``timeout`` in silence, ask the server ``$/ping`` (any
                answer, -32601 too, is a sign of life), so that a server alive while a command
                runs quietly is not taken for one that stopped answering. Only for a server
                that answers while a request runs.

        Raises:
            RpcError: the server answered with an error.
            CallTimeout: the server was silent for ``timeout`` seconds, or did not read the
                request (or a ping) within it.
            ProtocolError: the server exited, or wrote garbage or a malformed response.
        """
        self._next_id += 1
        my_id = self._next_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": my_id, "method": method}
        self._send(message if params is None else {**message, "params": params}, timeout)
        if on_sent is not None:
            on_sent(my_id)
        heard, pings = time.monotonic(), set[int]()
        while True:
            limit = wake = None if timeout is None else heard + timeout
            if keepalive and timeout is not None and not pings:
                if time.monotonic() >= heard + timeout / 2:
                    self._next_id += 1
                    pings.add(self._next_id)
                    self._send({"jsonrpc": "2.0", "id": self._next_id, "method": "$/ping"},
                               heard + timeout - time.monotonic())
                else:
                    wake = heard + timeout / 2
            try:
                reply = self._inbox.get(timeout=None if wake is None
                                        else max(wake - time.monotonic(), 0))
            except queue.Empty:
                if limit is not None and time.monotonic() >= limit:
                    self._broken = True
                    raise CallTimeout(f"{method}: no answer in {timeout} s") from None
                continue
            if reply is _EOF:
                raise self._gone(None, method)
            try:
                if isinstance(reply, ProtocolError):
                    raise reply
                if not isinstance(reply, dict):
                    raise ProtocolError(f"the server sent {shown(reply)}, which is not a "
                                        "JSON-RPC message (an object)")
                if "method" in reply:  # a notification; a request gets -32601 (we have none)
                    if not isinstance(reply["method"], str):
                        raise ProtocolError(f"the server sent a bad method: {shown(reply)}")
                    if "id" in reply:
                        self._send({"jsonrpc": "2.0", "id": reply["id"], "error": {
                            "code": -32601, "message": "method not found"}}, timeout)
                    elif on_notify is not None:
                        on_notify(reply["method"], reply.get("params"))
                        heard = time.monotonic()
                    continue
                id_ = reply.get("id")
                if (type(id_) is int and id_ == my_id) or (id_ is None and "error" in reply):
                    return checked_result(method, response_result(reply, method))
                if type(id_) is not int or not 0 < id_ <= self._next_id:
                    raise ProtocolError(f"the server answered a request that was never sent: "
                                        f"{shown(reply)}")
            except ProtocolError:
                self._broken = True
                raise
            pings.discard(id_)  # a ping's answer, or a late one to an earlier request
            heard = time.monotonic() if keepalive else heard

    def initialize(self, timeout: float | None = 30.0) -> Any:
        """Send ``initialize`` as pyrun; returns the server's result (an object).

        Raises:
            ProtocolError: no ``protocol_version`` this client speaks (the same ``0.MINOR``:
                before 1.0, a minor version may break). RpcError, CallTimeout: see request.
        """
        result = self.request("initialize", {"client_name": "pyrun",
                                             "client_protocol_version": PROTOCOL_VERSION}, timeout)
        version = result.get("protocol_version")
        if not compatible(version):
            self._broken = True
            raise ProtocolError(f"the server speaks WSP {shown(version)}, and pyrun's client "
                                f"speaks {PROTOCOL_VERSION}; use a server (or pyrun) for the "
                                "same protocol version")
        self.capabilities = capabilities(result)
        return result

    #: ``capabilities.pyrun`` of the server (after :meth:`initialize`), ``{}`` when it offers
    #: none of pyrun's additions.
    capabilities: dict[str, Any] = {}

    def close(self, timeout: float = 10.0) -> int:
        """Say goodbye (``shutdown``, then ``exit``) and wait for the process, all within
        ``timeout`` seconds; then kill its process group. A conversation that broke (a
        timeout, a protocol error) gets no goodbye: the group is killed at once. Returns the
        server's exit status (negative: the signal that ended it)."""
        deadline = time.monotonic() + timeout
        if not self._broken and not self._closed and self.proc.poll() is None:
            self._closed = True
            try:
                self.request("shutdown", None, timeout)
                self.notify("exit", timeout=max(deadline - time.monotonic(), 0))
            except (RpcError, CallTimeout, ProtocolError):
                pass
        self._closed = True
        if not self._broken:
            self._close_input(deadline - time.monotonic())
            try:
                return self.proc.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                pass
        if self.proc.returncode is None:  # not reaped: its group's id is still its own
            try:
                if self._posix:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:  # pragma: no cover - Windows is not tested
                    self.proc.kill()
            except (ProcessLookupError, PermissionError):
                pass
        self._close_input(1.0)  # a write stuck on the killed server has failed by now
        return self.proc.wait()

    def _close_input(self, timeout: float) -> None:
        """Close the server's stdin, once no write is in flight (``timeout`` at most)."""
        if self._send_lock.acquire(timeout=max(timeout, 0)):
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            except OSError:
                pass
            finally:
                self._send_lock.release()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def response_result(reply: dict[str, Any], method: str) -> Any:
    """The result of ``reply``, a response to ``method`` (JSON-RPC 2.0, section 5: exactly
    one of ``result`` and ``error``, an object with an integer ``code`` and a string
    ``message``). Raises RpcError (a well-formed error) or ProtocolError (a malformed one)."""
    if ("result" in reply) == ("error" in reply):
        both = "both a result and" if "result" in reply else "neither a result nor"
        raise ProtocolError(f"the server's answer to {method} has {both} an error: "
                            f"{shown(reply)}")
    if "result" in reply:
        return reply["result"]
    err = reply["error"]
    code = err.get("code") if isinstance(err, dict) else None
    if type(code) is not int or not isinstance(err.get("message"), str):
        raise ProtocolError(f"the server answered {method} with a malformed error (it needs "
                            f"an integer code and a string message): {shown(err)}")
    raise RpcError(code, err["message"], err.get("data"))


def _environment(r: Any) -> bool:
    return isinstance(r, dict) and isinstance(r.get("id"), str)


#: ``{method: (check, what its result must be)}``: WSP's methods, pyrun's that give an environment.
_RESULTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "initialize": (lambda r: isinstance(r, dict), "an object"),
    "environment/delete": (lambda r: isinstance(r, dict), "an object"),
    "environment/list": (lambda r: isinstance(r, list) and all(map(_environment, r)),
                         "a list of environments (objects with a string id)"),
    "environment/execute": (lambda r: isinstance(r, dict) and type(r.get("exit_code")) is int
                            and all(isinstance(r.get(k, ""), str) for k in ("stdout", "stderr")),
                            "an object with an integer exit_code"),
    **{m: (_environment, "an environment (an object with a string id)")
       for m in ("environment/get", "environment/create", "pyrun/default_environment",
                 "pyrun/set_default_environment")},
}


def checked_result(method: str, result: Any) -> Any:
    """``result``, when it has the shape WSP gives ``method``'s result (other methods' results,
    and fields beyond those pyrun's client reads, are not checked); else ProtocolError."""
    check = _RESULTS.get(method)
    if check is not None and not check[0](result):
        raise ProtocolError(f"the server's answer to {method} is not {check[1]}: "
                            f"{shown(result)}")
    return result


def compatible(version: Any) -> bool:
    """Whether a server's ``protocol_version`` can be spoken by this client: the same major
    version, and before 1.0 the same minor one (semantic versioning)."""
    if not isinstance(version, str):
        return False
    mine, theirs = PROTOCOL_VERSION.split("."), version.split(".")
    if len(theirs) < 2 or not all(p.isdigit() for p in theirs[:2]):
        return False
    return theirs[0] == mine[0] and (mine[0] != "0" or theirs[1] == mine[1])


def capabilities(init: Any) -> dict[str, Any]:
    """``capabilities.pyrun`` of an ``initialize`` result (``{}`` when absent or malformed)."""
    caps = init.get("capabilities") if isinstance(init, dict) else None
    mine = caps.get("pyrun") if isinstance(caps, dict) else None
    return mine if isinstance(mine, dict) else {}
