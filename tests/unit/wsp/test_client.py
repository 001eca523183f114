"""pyrun's WSP client against servers that break the protocol, over real pipes to real
processes: what the client says is what the server did, whichever side of the pipe is
faster."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from pyrun.wsp.client import Client, ProtocolError


def test_a_server_that_printed_garbage_and_exited_is_said_to_write_no_frame() -> None:
    """The race behind the flaky ``test_timeouts_and_protocol_errors``, made certain: the
    server has exited before the client writes, so the write finds a closed pipe; the client
    still reports what the server wrote, not the closed pipe."""
    with Client([sys.executable, "-c", "print(42)"], stderr=subprocess.DEVNULL) as client:
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
