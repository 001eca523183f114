"""A WSP client: start a server process, talk JSON-RPC to it over its stdio, stop it.

Used by ``pyrun wsp <method>`` and by the tests; works with any WSP server (pyrun's own, a
single-file workflow script, a tool's ``cmd``).
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pyrun.engine import start
from pyrun.errors import ExitCode, PyrunError
from pyrun.wsp import PROTOCOL_VERSION
from pyrun.wsp.framing import FramingError, read_frame, write_frame
from pyrun.wsp.jsonrpc import RpcError


class ProtocolError(PyrunError):
    """The server broke the protocol: it exited, or wrote something that is not a frame."""

    exit_code = ExitCode.PROTOCOL


class CallTimeout(PyrunError):
    """The server did not answer in time."""

    exit_code = ExitCode.TIMEOUT


_EOF = object()


class Client:
    """A running WSP server and the client end of its stdio.

    Args:
        argv: the server's command line.
        cwd: its working directory.
        environ: its process environment (default: this process's).
        stderr: where its stderr goes (default: inherited, so its logs reach the user).

    Use as a context manager: ``with Client(argv) as c: c.initialize(); c.request(...)``;
    leaving it sends ``shutdown`` and ``exit`` (when the server is still up) and reaps it.
    """

    def __init__(self, argv: Sequence[str], cwd: str | None = None,
                 environ: dict[str, str] | None = None, stderr: Any = None) -> None:
        self.proc = start(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                          cwd=cwd, environ=environ)
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._next_id = 0
        self._send_lock = threading.Lock()
        self._closed = False
        self._broken = False  # a call timed out or the protocol broke: no polite goodbye
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                body = read_frame(self.proc.stdout)  # type: ignore[arg-type]
            except (FramingError, EOFError, ValueError, OSError) as exc:
                self._inbox.put(ProtocolError("the server wrote something that is not a "
                                              f"frame: {exc}"))
                return
            if body is None:
                self._inbox.put(_EOF)
                return
            try:
                self._inbox.put(json.loads(body))
            except ValueError as exc:
                self._inbox.put(ProtocolError(f"the server sent invalid JSON: {exc}"))
                return

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification (no answer expected)."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)

    def _send(self, message: Any) -> None:
        assert self.proc.stdin is not None
        try:
            with self._send_lock:  # a stdin-forwarding thread sends too
                write_frame(self.proc.stdin, message)  # type: ignore[arg-type]
        except (BrokenPipeError, ValueError) as exc:
            self._broken = True
            try:
                code = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise ProtocolError(f"the server stopped reading its input ({exc})") from None
            # What the server wrote before it exited says more than the closed pipe does (a
            # server that prints "42" and exits wrote something that is not a frame). The pipe
            # can close before the reader has seen that output: wait for the reader to reach
            # the end of it, then look.
            said = self._protocol_error(timeout=5)
            if said is not None:
                raise said from None
            raise ProtocolError(f"the server exited (status {code}) before reading its "
                                "input") from None

    def _protocol_error(self, timeout: float) -> ProtocolError | None:
        """Once the reader thread has ended (within ``timeout`` seconds), the
        :class:`ProtocolError` it found in the server's output, if any (what was received
        before it is dropped: the conversation is over)."""
        self._reader.join(timeout)
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return None
            if isinstance(item, ProtocolError):
                return item

    def request(self, method: str, params: dict[str, Any] | None = None,
                timeout: float | None = 60.0,
                on_notify: Callable[[str, Any], None] | None = None) -> Any:
        """Send a request and return its result; ``on_notify(method, params)`` gets the
        server's notifications that arrive meanwhile (streamed output, ``$/progress``).

        Raises:
            RpcError: the server answered with an error.
            CallTimeout: no answer within ``timeout`` seconds.
            ProtocolError: the server exited or wrote garbage.
        """
        self._next_id += 1
        my_id = self._next_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": my_id, "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)
        while True:
            try:
                reply = self._inbox.get(timeout=timeout)
            except queue.Empty:
                self._broken = True
                raise CallTimeout(f"{method}: no answer in {timeout} s") from None
            if reply is _EOF:
                self._broken = True
                code = self.proc.wait()
                raise ProtocolError(f"{method}: the server exited (status {code}) without "
                                    "answering")
            if isinstance(reply, ProtocolError):
                self._broken = True
                raise reply
            if on_notify is not None and isinstance(reply, dict) and "id" not in reply and (
                    isinstance(reply.get("method"), str)):
                on_notify(reply["method"], reply.get("params"))
                continue
            if isinstance(reply, dict) and reply.get("id") == my_id:
                if "error" in reply:
                    err = reply["error"] if isinstance(reply["error"], dict) else {}
                    raise RpcError(int(err.get("code", -32603)), str(err.get("message", "")),
                                   err.get("data"))
                return reply.get("result")
            # anything else (a server notification, a stale answer) is not ours: skip it

    def initialize(self, timeout: float | None = 30.0) -> Any:
        """Send ``initialize`` as pyrun; returns the server's result.

        Raises:
            ProtocolError: the server's ``protocol_version`` is missing or not one this client
                speaks (the same ``0.MINOR``: before 1.0, a minor version may break).
        """
        result = self.request("initialize", {"client_name": "pyrun",
                                             "client_protocol_version": PROTOCOL_VERSION}, timeout)
        version = result.get("protocol_version") if isinstance(result, dict) else None
        if not compatible(version):
            self._broken = True
            raise ProtocolError(f"the server speaks WSP {version!r}, and pyrun's client speaks "
                                f"{PROTOCOL_VERSION}; use a server (or pyrun) for the same "
                                "protocol version")
        self.capabilities = capabilities(result)
        return result

    #: ``capabilities.pyrun`` of the server (after :meth:`initialize`), ``{}`` when it offers
    #: none of pyrun's additions.
    capabilities: dict[str, Any] = {}


    def close(self, timeout: float = 10.0) -> int:
        """``shutdown``, then ``exit``; wait for the process (kill it after ``timeout``, or at
        once when a call timed out or the protocol broke). Returns its exit status."""
        if self._broken:  # no goodbye: a killed server may not be reaped yet (poll() is
            if self.proc.poll() is None:  # None a while longer), and would never answer it
                self.proc.kill()
        elif not self._closed and self.proc.poll() is None:
            self._closed = True
            try:
                self.request("shutdown", None, timeout)
                self.notify("exit")
            except (RpcError, CallTimeout, ProtocolError):
                pass
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
