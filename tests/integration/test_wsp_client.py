"""`pyrun wsp` against servers that break the protocol or stop answering (issue 23, point 4):
each misbehaving server is a real process, declared as the project's `cmd`, and every failure
must be one `pyrun: error:` line with the documented exit code (75 timeout, 76 protocol break
or server gone, 1 an error the server answered), no traceback, and come within the call's
timeout plus one second: at once for a protocol break, however long the server lives on."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

from tests.helpers import Runner, assert_fails, wait_until

#: The timeout given to every call (and to the start); each failure must come within it + 1 s.
TIMEOUT = 2.0

#: A WSP server that answers initialize, then misbehaves as its first argument says (after the
#: first call; "init-..." at initialize), and lives on unless the misbehaviour is to exit: the
#: client must not wait for it. Stdlib only; nothing on stderr (the client's one line is alone).
SERVER = r'''
import json, os, subprocess, sys, threading

mode = sys.argv[1]
stdin = sys.stdin.buffer


def read():
    length = None
    while True:
        line = stdin.readline()
        if not line:
            os._exit(0)
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return json.loads(stdin.read(length))


def frame(body):
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def forever():
    threading.Event().wait()


INIT = {"protocol_version": "0.1.0", "methods": ["environment/list", "environment/execute"],
        "capabilities": {"pyrun": {"execute_params": ["stream"]}}}
if mode.endswith("-concurrent"):
    INIT["capabilities"]["pyrun"]["concurrent"] = {"workers": 4}
if len(sys.argv) > 2:  # a child in the server's process group, holding its stdout and stderr
    child = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait()"])
    with open(sys.argv[2], "w") as f:
        f.write(str(child.pid))


def ok(id_, result):
    return frame({"jsonrpc": "2.0", "id": id_, "result": result})


def error(id_, err):
    return frame({"jsonrpc": "2.0", "id": id_, "error": err})


def bad(id_):
    """What to write instead of the answer to request ``id_``."""
    return {
        "garbage": b"hello, garbage\n",
        "garbage-no-newline": b"Hello world",  # no line end, and then silence
        "partial-header": b"Content-Len",  # a frame's start, and then silence
        "binary": b"\x00\xff\xfe",
        "oversized": b"Content-Length: 67108865\r\n\r\n",
        "bad-length": b"Content-Length: 1_0\r\n\r\n{}",
        "no-length": b"Content-Type: application/json\r\n\r\n{}",
        "bad-json": frame(b"{nope"),
        "not-utf8": frame(b'"\xff"'),
        "nan": frame(b'{"jsonrpc": "2.0", "id": %d, "result": NaN}' % id_),
        "deep": frame(b"[" * 100_000 + b"]" * 100_000),
        "mid-frame": b'Content-Length: 100\r\n\r\n{"jsonrpc": "2.0"',
        "code-string": error(id_, {"code": "-32601", "message": "no"}),
        "code-null": error(id_, {"code": None, "message": "no"}),
        "code-float": error(id_, {"code": -32601.5, "message": "no"}),
        "no-message": error(id_, {"code": -32601}),
        "error-string": error(id_, "it broke"),
        "both": frame({"jsonrpc": "2.0", "id": id_, "result": [], "error": {}}),
        "neither": frame({"jsonrpc": "2.0", "id": id_}),
        "batch": frame([{"jsonrpc": "2.0", "id": id_, "result": []}]),
        "wrong-id": ok(id_ + 40, []),
        "string-id": ok(str(id_), []),
        "list-not-list": ok(id_, {"id": ".venv"}),
        "items-not-objects": ok(id_, [".venv", 3]),
        "item-id-not-string": ok(id_, [{"id": 7, "name": "x"}]),
        "multiline-error": error(id_, {"code": -31001, "message": "no\nfake: line\x1b[2K"}),
    }.get(mode.removeprefix("init-"), b"")


init = read()
if mode == "version":
    os.write(1, ok(init["id"], {**INIT, "protocol_version": "0.2.0"}))
    forever()
if mode.startswith("init-"):
    os.write(1, bad(init["id"]))
    forever()
os.write(1, ok(init["id"], INIT))
if mode == "deaf":  # never reads again
    forever()
call = read()
if call["method"] == "environment/list" and mode.startswith("stream"):
    os.write(1, ok(call["id"], [{"id": "e", "name": "e", "is_default": True}]))
    call = read()
if mode.startswith("stream"):  # some output, then nothing, ever (nor reads: pings go unheard)
    token = call["params"]["stream"]["token"]
    os.write(1, frame({"jsonrpc": "2.0", "method": "pyrun/output",
                       "params": {"token": token, "stream": "stdout", "data": "started\n"}}))
    forever()
if mode == "exit":
    os._exit(3)
if mode == "close-output":
    os.close(1)
    forever()
os.write(1, bad(call["id"]))
if mode == "mid-frame":
    os._exit(0)
forever()
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    (d / ".git").mkdir()  # the walk up for a declaration stops here
    (tmp_path / "server.py").write_text(SERVER)
    return d


def declare(project: Path, *args: str) -> None:
    server = project.parent / "server.py"
    cmd = json.dumps([sys.executable, str(server), *args])
    (project / "pyproject.toml").write_text(f"[workflow]\nwsp = {{cmd = {cmd}}}\n")


def call(pyrun: Runner, project: Path, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                           float]:
    """``pyrun wsp --trust --timeout 2 --start-timeout 2 ARGS``, and how long it took."""
    started = time.monotonic()
    out = pyrun("wsp", "--trust", "--timeout", str(TIMEOUT), "--start-timeout", str(TIMEOUT),
                *args, cwd=project, input="",
                PYRUN_CONFIG_DIR=str(project.parent / "config"))
    return out, time.monotonic() - started


def assert_one_line(out: subprocess.CompletedProcess[str], code: int, *messages: str) -> None:
    assert_fails(out, code, *messages)
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyrun: error: "), out.stderr


BREAKS = {  # mode: what the one line says
    "garbage": "not a frame: b'hello, garbage\\n'",
    "garbage-no-newline": "not a frame: b'Hello world'",
    "binary": "not a frame",
    "oversized": "a frame of 67108865 bytes, over the limit",
    "bad-length": "not a frame: b'Content-Length: 1_0",
    "no-length": "without Content-Length",
    "bad-json": "invalid JSON",
    "not-utf8": "invalid JSON",
    "nan": "invalid JSON: NaN is not JSON",
    "deep": "nested too deeply",
    "mid-frame": "ended inside a frame, after 17 of its 100 bytes",
    "exit": "environment/list: the server exited (status 3) without answering",
    "close-output": "environment/list: the server closed its output without answering",
    "code-string": 'malformed error (it needs an integer code and a string message): '
                   '{"code":"-32601","message":"no"}',
    "code-null": "malformed error",
    "code-float": "malformed error",
    "no-message": "malformed error",
    "error-string": 'malformed error (it needs an integer code and a string message): '
                    '"it broke"',
    "both": "has both a result and an error",
    "neither": "has neither a result nor an error",
    "batch": "which is not a JSON-RPC message (an object)",
    "wrong-id": "answered a request that was never sent",
    "string-id": "answered a request that was never sent",
    "list-not-list": 'answer to environment/list is not a list of environments (objects with '
                     'a string id): {"id":".venv"}',
    "items-not-objects": "is not a list of environments",
    "item-id-not-string": "is not a list of environments",
}


@pytest.mark.parametrize("mode", BREAKS)
def test_a_protocol_break_is_one_line_at_once(pyrun: Runner, project: Path, mode: str) -> None:
    declare(project, mode)
    out, took = call(pyrun, project, "environment/list")
    assert_one_line(out, 76, BREAKS[mode])
    assert took < TIMEOUT + 1, took
    assert out.stdout == ""


@pytest.mark.parametrize("mode", ["init-garbage", "init-code-null", "init-neither", "version",
                                  "init-list-not-list", "init-batch"])
def test_a_protocol_break_at_initialize(pyrun: Runner, project: Path, mode: str) -> None:
    declare(project, mode)
    out, took = call(pyrun, project, "environment/list")
    assert_one_line(out, 76, "speaks WSP \"0.2.0\"" if mode == "version" else "")
    assert took < TIMEOUT + 1, took


def test_a_result_of_the_wrong_shape_in_run(pyrun: Runner, project: Path) -> None:
    """`pyrun wsp run` reads `environment/list` to find the default: a wrong shape there was a
    TypeError (exit 70)."""
    declare(project, "items-not-objects")
    out, took = call(pyrun, project, "run", "--", "true")
    assert_one_line(out, 76, "is not a list of environments")
    assert took < TIMEOUT + 1, took


def test_an_error_the_server_sent_is_shown_on_one_line(pyrun: Runner, project: Path) -> None:
    declare(project, "multiline-error")
    out, took = call(pyrun, project, "environment/list")
    assert_one_line(out, 1, "error -31001: no\\nfake: line\\033[2K")
    assert took < TIMEOUT + 1, took


@pytest.mark.parametrize("mode", ["silent", "partial-header"])
def test_a_server_that_stops_answering_times_out(pyrun: Runner, project: Path,
                                                 mode: str) -> None:
    declare(project, mode)
    out, took = call(pyrun, project, "environment/list")
    assert_one_line(out, 75, "environment/list: no answer in 2.0 s")
    assert TIMEOUT <= took < TIMEOUT + 1, took


def test_a_server_that_never_answers_initialize_times_out(pyrun: Runner, project: Path) -> None:
    declare(project, "init-silent")
    out, took = call(pyrun, project, "environment/list")
    assert_one_line(out, 75, "initialize: no answer in 2.0 s")
    assert TIMEOUT <= took < TIMEOUT + 1, took


def test_a_server_that_stops_reading_times_out(pyrun: Runner, project: Path) -> None:
    """A request larger than the pipe's buffer (64 KiB) to a server that reads no more: the
    write itself is bounded by the timeout."""
    declare(project, "deaf")
    params = json.dumps({"id": "x" * 120_000})  # one argument: at most 128 KiB
    out, took = call(pyrun, project, "environment/get", params)
    assert_one_line(out, 75, "the server did not read its input for 2.0 s")
    assert TIMEOUT <= took < TIMEOUT + 1, took


def test_the_servers_process_group_is_killed(pyrun: Runner, project: Path,
                                             tmp_path: Path) -> None:
    """A server's child that holds its stdout and stderr would keep the pipe of whoever runs
    `pyrun wsp` open (a test's, a CI step's) long after pyrun said what broke."""
    pidfile = tmp_path / "child.pid"
    declare(project, "garbage", str(pidfile))
    out, took = call(pyrun, project, "environment/list")
    assert_one_line(out, 76, "not a frame")
    assert took < TIMEOUT + 1, took
    pid = int(pidfile.read_text())
    wait_until(lambda: not alive(pid), "the server's child killed", timeout=TIMEOUT)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


@pytest.mark.parametrize("mode", ["stream", "stream-concurrent"])
def test_run_through_a_streaming_server_that_stops_answering_times_out(
        pyrun: Runner, project: Path, mode: str) -> None:
    """Off a terminal `pyrun wsp run` streams through the server: --timeout bounds it too
    (it waited forever). A server that says it answers while a request runs is asked
    `$/ping` when the stream is quiet; this one answers nothing, and times out as well."""
    declare(project, mode)
    out, took = call(pyrun, project, "run", "--", "true")
    assert_one_line(out, 75, "environment/execute: no answer in 2.0 s")
    assert out.stdout == "started\n"  # the output before the silence, written as it came
    assert TIMEOUT <= took < TIMEOUT + 1, took


def test_run_through_pyrun_outlives_the_timeout_while_the_command_is_quiet(
        pyrun: Runner, tmp_path: Path) -> None:
    """The other side of the bound: pyrun's server answers `$/ping` while the command runs, so
    a command quiet for longer than --timeout is not a timeout; its exit code passes through."""
    project = tmp_path / "real"
    project.mkdir()
    (project / ".git").mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    venv.create(project / ".venv", with_pip=False)
    quiet = "import sys, time; time.sleep(2.5); print(sys.stdin.read().upper()); sys.exit(4)"
    started = time.monotonic()
    out = pyrun("wsp", "--timeout", "1", "run", "--", "python", "-c", quiet, cwd=project,
                input="hello", PYRUN_CONFIG_DIR=str(tmp_path / "config"))
    assert out.returncode == 4 and out.stdout == "HELLO\n", out.stderr
    assert time.monotonic() - started >= 2.5
    assert "Traceback" not in out.stderr


def test_params_json_with_nan_is_refused(pyrun: Runner, project: Path) -> None:
    declare(project, "silent")
    out, _ = call(pyrun, project, "environment/get", '{"id": NaN}')
    assert_one_line(out, 65, "NaN is not JSON")
