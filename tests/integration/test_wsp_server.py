"""The server side of issue 23 over real pipes: end of input answers everything (bounded by
the drain time), cancellation tells the truth, `$/cancelRequest` sent as a request is
answered, a batch's members run like single requests, and `pyrun/process/write` to an
unknown token is -31004."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.helpers import Runner, write
from tests.integration.test_wsp_protocol import (  # noqa: F401 - fixtures, used by name
    Raw,
    code,
    no_server_left,
)
from tests.integration.test_wsp_protocol import project as project  # noqa: F401 - a fixture
from tests.loopback import serve_index, wheel


def frames(*messages: Any) -> bytes:
    out = b""
    for message in messages:
        body = json.dumps(message).encode()
        out += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    return out


def answers(raw: Raw) -> list[Any]:
    """Every frame the server writes until it exits."""
    got = []
    assert raw.proc.stdout is not None
    while True:
        try:
            got.append(raw.receive())
        except AssertionError:  # the end of its output
            return got


def test_printf_into_pyrun_wsp_serve_gets_every_answer(pyrun: Runner, project: Path) -> None:
    """Several requests written at once and stdin closed at once: every one is answered (the
    slow ones too), then the server exits 0."""
    data = frames(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "environment/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "environment/execute",
         "params": {"id": ".venv", "argv": ["python", "-c", "print(42)"]}},
        {"jsonrpc": "2.0", "id": 4, "method": "environment/create", "params": {"name": "x"}},
        [{"jsonrpc": "2.0", "id": 5, "method": "environment/get", "params": {"id": ".venv"}},
         {"jsonrpc": "2.0", "id": 6, "method": "environment/execute",
          "params": {"id": ".venv", "argv": ["python", "-c", "print(43)"]}}],
        {"jsonrpc": "2.0", "id": 7, "method": "shutdown"})
    out = subprocess.run([sys.executable, "-m", "pyrun", "wsp", "serve"], input=data,
                         capture_output=True, cwd=project, env=pyrun.env(), timeout=300)
    assert out.returncode == 0, out.stderr
    stream, got = out.stdout, {}
    while stream:
        header, _, rest = stream.partition(b"\r\n\r\n")
        length = int(header.split(b":")[1])
        body, stream = rest[:length], rest[length:]
        for reply in (lambda m: m if isinstance(m, list) else [m])(json.loads(body)):
            got[reply["id"]] = reply
    assert sorted(got) == [1, 2, 3, 4, 5, 6, 7], got
    assert got[3]["result"]["stdout"] == "42\n" and got[6]["result"]["stdout"] == "43\n"
    assert got[4]["result"]["id"] == ".venvs/x"


def test_the_end_of_input_waits_only_the_drain_time(pyrun: Runner, project: Path) -> None:
    """A request that cannot finish within PYRUN_WSP_DRAIN_SECONDS is cancelled (its process
    killed) and answered -32800 before the server exits."""
    raw = Raw(pyrun, project, PYRUN_WSP_DRAIN_SECONDS="1").start()
    raw.send({"jsonrpc": "2.0", "id": 8, "method": "environment/execute",
              "params": {"id": ".venv", "argv": ["sleep", "120"]}})
    assert raw.proc.stdin is not None
    start = time.monotonic()
    raw.proc.stdin.close()
    (answer,) = answers(raw)
    assert answer["id"] == 8 and code(answer) == -32800, answer
    assert raw.proc.wait(timeout=60) == 0 and time.monotonic() - start < 1 + 5 + 5


def test_a_cancelled_create_leaves_no_environment(pyrun: Runner, project: Path) -> None:
    """The cancel arrives while uv fetches the requirement (an index on the loopback interface
    holds the answer until the cancel is sent): -32800, and no venv, no .python-envs line;
    the same name can be created afterwards."""
    asked, go = threading.Event(), threading.Event()

    def hold(path: str) -> None:
        if path.rstrip("/").endswith("/heldpkg") and not go.is_set():
            asked.set()
            go.wait(120)

    with serve_index({"heldpkg": [wheel("heldpkg", "1.0")]}, before=hold) as url:
        raw = Raw(pyrun, project, UV_INDEX_URL=url).start()
        raw.send({"jsonrpc": "2.0", "id": 1, "method": "environment/create",
                  "params": {"name": "held", "requirements": ["heldpkg"]}})
        assert asked.wait(120)
        raw.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}})
        list_ = raw.call(2, "environment/list")  # the cancel was read before this answer
        go.set()
        answer = raw.receive()
        assert answer["id"] == 1 and code(answer) == -32800, answer
        assert [e["id"] for e in list_["result"]] == [".venv"]
        assert not (project / ".venvs" / "held").exists()
        assert not (project / ".python-envs").exists() or "held" not in (
            project / ".python-envs").read_text()
        again = raw.call(3, "environment/create", {"name": "held", "requirements": ["heldpkg"]})
        assert again["result"]["id"] == ".venvs/held", again
    assert "Traceback" not in raw.stop()


TOOLKIT = '''\
import os, sys, time
from pyrun.wsp.toolkit import Server

app = Server("t")


@app.method("t/finish", slow=True)
def finish(params):
    while not os.path.exists(params["file"]):  # ignores cancellation: finishes its work
        time.sleep(0.01)
    return {"done": True}


app.run()
'''


def test_a_handler_that_finishes_after_a_cancel_gets_its_real_answer(
        pyrun: Runner, tmp_path: Path) -> None:
    go = tmp_path / "go"
    server = write(tmp_path / "wf.py", TOOLKIT)
    proc = subprocess.Popen([sys.executable, str(server)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=pyrun.env())
    raw = Raw.__new__(Raw)
    raw.proc = proc
    Raw.started.append(raw)
    raw.start()
    raw.send({"jsonrpc": "2.0", "id": 1, "method": "t/finish", "params": {"file": str(go)}})
    cancel = raw.call(2, "$/cancelRequest", {"id": 1})  # as a request: answered null
    assert cancel == {"jsonrpc": "2.0", "id": 2, "result": None}, cancel
    go.touch()
    assert raw.receive() == {"jsonrpc": "2.0", "id": 1, "result": {"done": True}}
    bad = raw.call(3, "$/cancelRequest", {"id": {"not": "an id"}})
    assert code(bad) == -32602
    assert "Traceback" not in raw.stop()


def test_a_batch_member_runs_like_a_single_request(pyrun: Runner, project: Path) -> None:
    """A batch holding a long execute does not hold the reader: a list sent after it is
    answered at once, and a $/cancelRequest reaches the batch's execute."""
    raw = Raw(pyrun, project).start()
    raw.send([{"jsonrpc": "2.0", "id": 10, "method": "environment/execute",
               "params": {"id": ".venv", "argv": ["sleep", "120"]}},
              {"jsonrpc": "2.0", "id": 11, "method": "environment/list"}])
    start = time.monotonic()
    listed = raw.call(12, "environment/list")
    assert listed["id"] == 12 and time.monotonic() - start < 2, listed
    raw.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 10}})
    batch = raw.receive()
    assert isinstance(batch, list) and {r["id"] for r in batch} == {10, 11}, batch
    assert code(next(r for r in batch if r["id"] == 10)) == -32800
    assert "Traceback" not in raw.stop()


def test_writing_to_an_unknown_token_is_31004(pyrun: Runner, project: Path) -> None:
    raw = Raw(pyrun, project).start()
    reply = raw.call(1, "pyrun/process/write", {"token": "nobody", "data": "x", "eof": False})
    assert code(reply) == -31004 and reply["error"]["data"]["reason"] == "no such process"
    killed = raw.call(2, "pyrun/process/kill", {"token": "nobody"})
    assert code(killed) == -31004
    assert "Traceback" not in raw.stop()


def test_requirements_that_cannot_be_resolved_are_31900(pyrun: Runner, project: Path) -> None:
    """pyrun's own code: the requirements of a create cannot be resolved (an index on the
    loopback interface without the package): -31900, data.reason "resolution", nothing left."""
    with serve_index({"six": [wheel("six", "99.0")]}) as url:
        raw = Raw(pyrun, project, UV_INDEX_URL=url).start()
        reply = raw.call(1, "environment/create",
                         {"name": "never", "requirements": ["no-such-package-here"]})
    assert code(reply) == -31900 and reply["error"]["data"]["reason"] == "resolution", reply
    assert "no-such-package-here" in reply["error"]["message"]
    assert not (project / ".venvs" / "never").exists()
    assert "Traceback" not in raw.stop()


def test_input_a_command_never_reads_blocks_nothing(pyrun: Runner, project: Path) -> None:
    """A megabyte of `stdin` for a command that never reads it: the execute still times out
    when its timeout says (the input is written by a thread of its own), and a list sent
    meanwhile is answered at once."""
    raw = Raw(pyrun, project).start()
    start = time.monotonic()
    raw.send({"jsonrpc": "2.0", "id": 1, "method": "environment/execute", "params": {
        "id": ".venv", "argv": ["sleep", "60"], "stdin": "x" * 2**20, "timeout": 2}})
    listed = raw.call(2, "environment/list")
    assert listed["id"] == 2 and time.monotonic() - start < 2, listed
    answer = raw.receive()
    assert code(answer) == -31004 and answer["error"]["data"]["reason"] == "timeout", answer
    assert time.monotonic() - start < 2 + 3
    assert "Traceback" not in raw.stop()
