"""docs/workflow-server.md followed as written, in an empty folder outside the repository: its
commands run (`pyrun wsp init --declare` first), its code added where it says, its files saved,
its shown output found; then the server it built is driven through every method by a client
written here (framing and JSON by hand, none of pyrun's client code), and the toolkit installed
from a wheel (`uv tool install`, the wheel then deleted) writes a script that works too."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from pyrun.engine.installers.uv import find_uv
from tests.helpers import Runner

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "workflow-server.md"
MAIN_LINE = 'if __name__ == "__main__":'


@dataclass
class Block:
    """A fenced block of the tutorial and the sentence that introduces it."""

    language: str
    text: str
    intro: str


def blocks(markdown: str) -> list[Block]:
    found, end = [], 0
    for match in re.finditer(r"^```(\w*)\n(.*?)^```$", markdown, re.M | re.S):
        prose = " ".join(markdown[end:match.start()].split())
        found.append(Block(match.group(1), match.group(2), prose))
        end = match.end()
    return found


@dataclass
class Command:
    line: str
    shown: list[str] = field(default_factory=list)


def commands(block: Block) -> list[Command]:
    out: list[Command] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            out.append(Command(line[2:]))
        elif out:
            out[-1].shown.append(line)
    return out


class Reader:
    """The tutorial's reader: a shell in a folder, the files it edits."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.cwd = home
        self.env = env
        self.ran: list[str] = []

    def run(self, command: Command) -> None:
        words = shlex.split(command.line)
        if words[0] == "cd":
            self.cwd = (self.cwd / words[1]).resolve()
            return
        done = subprocess.run(["bash", "-c", command.line], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=900)
        said = done.stdout + done.stderr
        self.ran.append(f"$ {command.line}\n{said}")
        failing = any(line.startswith("pyrun: error:") for line in command.shown)
        assert (done.returncode != 0) == failing, f"{command.line}: exit {done.returncode}\n{said}"
        assert "Traceback" not in said, said
        lines = {line.strip() for line in said.splitlines()}
        for shown in command.shown:
            if "\u2026" not in shown and shown.strip():
                assert shown.strip() in lines, f"{command.line}: {shown!r} not in\n{said}"

    def apply(self, block: Block) -> None:
        """Do what the sentence before a code block says with it."""
        wf = self.cwd / "wf.py"
        intro = block.intro
        if block.language == "console":
            for command in commands(block):
                self.run(command)
        elif intro.endswith(f"Add to `wf.py`, above `{MAIN_LINE}`:"):
            text = wf.read_text()
            assert text.count(f"\n{MAIN_LINE}") == 1
            wf.write_text(text.replace(f"\n{MAIN_LINE}", f"\n{block.text}\n\n{MAIN_LINE}"))
        elif (replace := re.search(r"In `wf.py`, replace the line `(.+)` with:$", intro)):
            text = wf.read_text()
            assert text.count(replace.group(1) + "\n") == 1, replace.group(1)
            wf.write_text(text.replace(replace.group(1) + "\n", block.text))
        elif (save := re.search(r"Save as `([\w.]+)`:$", intro)):
            (self.cwd / save.group(1)).write_text(block.text)
        elif (shown := re.search(r"`([\w.]+)` now reads", intro)):
            written = (self.cwd / shown.group(1)).read_text().splitlines()
            expected = block.text.splitlines()
            assert len(written) == len(expected), (written, expected)
            for got, want in zip(written, expected):
                if want.startswith("# pyrun-scripts = { path = "):  # the path is the reader's
                    assert got.startswith("# pyrun-scripts = { path = "), got
                else:
                    assert got == want
        else:  # an example beside the journey: it must at least be Python
            assert block.language == "python", (block.language, intro[-200:])
            compile(block.text, "example", "exec")


def shell_env(pyrun: Runner, tmp: Path, command: list[str]) -> dict[str, str]:
    """The environment of the reader's shell: ``pyrun`` on PATH is ``command``; settings, trust
    answers and rebuilt wheels in ``tmp``."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "pyrun"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(shlex.quote(c) for c in command)
                       + ' "$@"\n')
    wrapper.chmod(0o755)
    return pyrun.env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                     PYRUN_CONFIG_DIR=str(tmp / "config"), XDG_DATA_HOME=str(tmp / "data"))


class Wire:
    """A WSP client written here: Content-Length frames and JSON-RPC by hand."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.notes: list[Any] = []
        self.next_id = 0
        assert self.proc.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self.reader.start()

    def _read(self, out: IO[bytes]) -> None:
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.inbox.put(None)
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None
            self.inbox.put(json.loads(out.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def call(self, method: str, params: Any = None, timeout: float = 600) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        while True:
            reply = self.inbox.get(timeout=timeout)
            assert reply is not None, "the server exited"
            if "id" not in reply:
                self.notes.append(reply)
            elif reply["id"] == self.next_id:
                return reply  # type: ignore[no-any-return]

    def result(self, method: str, params: Any = None) -> Any:
        reply = self.call(method, params)
        assert "result" in reply, reply
        return reply["result"]

    def finish(self) -> tuple[int, str]:
        """``exit`` (the client's last word), then the exit status and what it logged."""
        self.send({"jsonrpc": "2.0", "method": "exit"})
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=60)
        self.reader.join(timeout=60)
        logged = self.proc.stderr.read().decode()
        self.proc.stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code, logged

    def error(self, method: str, params: Any = None) -> dict[str, Any]:
        reply = self.call(method, params)
        assert "error" in reply, reply
        return reply["error"]  # type: ignore[no-any-return]


@pytest.fixture
def reader_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "reader"
    home.mkdir()
    assert ROOT not in home.resolve().parents  # outside the repository
    yield home


def test_the_tutorial_as_written_gives_a_working_server(pyrun: Runner, reader_home: Path,
                                                        tmp_path: Path) -> None:
    env = shell_env(pyrun, tmp_path, [sys.executable, "-m", "pyrun"])
    reader = Reader(reader_home, env)
    for block in blocks(TUTORIAL.read_text(encoding="utf-8")):
        reader.apply(block)
    project = reader.cwd
    assert project == reader_home / "my-project" and (project / "test_wf.py").is_file()
    assert {p.name for p in (project / "envs").iterdir()} == {"dev", "tools"}

    wire = Wire([sys.executable, "-m", "pyrun", "wf.py"], project, env)
    assert wire.error("environment/list")["code"] == -32002  # initialize comes first
    init = wire.result("initialize", {"client_name": "tutorial-test",
                                      "client_protocol_version": "0.1.0"})
    assert init["protocol_version"] == "0.1.0" and init["server_name"] == "my-project"
    assert {"environment/create", "environment/delete", "environment/execute",
            "environment/get", "environment/list", "my/tasks", "my/check", "initialize",
            "shutdown", "exit"} <= set(init["methods"])
    assert init["capabilities"]["pyrun"]["toolkit"]["name"] == "pyrun"
    assert [e["id"] for e in wire.result("environment/list")] == ["dev", "tools"]
    made = wire.result("environment/create", {"name": "third", "work_done_token": "w"})
    assert made["extra"] == {"made_by": "wf.py"}  # the subclass of step 8
    kinds = [n["params"]["value"]["kind"] for n in wire.notes if n["method"] == "$/progress"]
    assert kinds[0] == "begin" and kinds[-1] == "end" and set(kinds) <= {"begin", "report",
                                                                          "end"}
    got = wire.result("environment/get", {"id": "third"})
    assert got["interpreter_path"] == str(project / "envs" / "third" / "bin" / "python")
    assert "pip" in {p["name"].lower() for p in got["installed_packages"]}
    ran = wire.result("environment/execute", {"id": "third", "argv": [
        "python", "-c", "import sys; print(sys.prefix); sys.exit(3)"]})
    assert ran["exit_code"] == 3 and ran["stdout"].strip() == str(project / "envs" / "third")
    assert wire.result("my/tasks", {"kind": "test"}) == [
        {"name": "test", "command": ["pytest", "-q"]}]
    assert wire.error("my/tasks", {"tags": "ci"})["message"] == "params.tags must be a list"
    assert wire.error("environment/get", {"id": "nope"}) == {
        "code": -31001, "message": "no environment 'nope'", "data": {"id": "nope"}}
    assert wire.error("environment/execute", {"id": "dev", "argv": ["python"],
                                              "timeout": 0})["code"] == -32602
    assert wire.result("environment/delete", {"id": "third"}) == {"id": "third"}
    assert not (project / "envs" / "third").exists()
    assert wire.result("shutdown") is None
    assert wire.error("environment/list")["code"] == -32600
    code, logged = wire.finish()
    assert code == 0, logged
    assert "wf.py: tutorial-test connected (WSP 0.1.0)" in logged
    assert "wf.py: shutting down" in logged


def test_a_wheel_installed_pyrun_writes_a_script_that_works_without_its_wheel(
        pyrun: Runner, reader_home: Path, tmp_path: Path) -> None:
    """`uv tool install` of a built wheel, the wheel deleted: `pyrun wsp init` rebuilds the
    installed files into a wheel of its own, and the script works under pyrun and uv."""
    dist = tmp_path / "dist"
    built = subprocess.run([find_uv(), "build", "--wheel", "--out-dir", str(dist), str(ROOT)],
                           env=pyrun.env(), capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    tools = pyrun.env(UV_TOOL_DIR=str(tmp_path / "tools"), UV_TOOL_BIN_DIR=str(tmp_path / "tb"))
    installed = subprocess.run([find_uv(), "tool", "install", str(next(dist.glob("*.whl")))],
                               env=tools, capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    for wheel in dist.iterdir():
        wheel.unlink()
    env = shell_env(pyrun, tmp_path, [str(tmp_path / "tb" / "pyrun")])
    reader = Reader(reader_home, env)
    reader.run(Command("pyrun wsp init --declare"))
    script = (reader_home / "wf.py").read_text()
    source = re.search(r'^# pyrun-scripts = \{ path = "(.+)" \}$', script, re.M)
    assert source is not None, script
    wheel = Path(source.group(1))
    assert wheel.is_file() and wheel.is_relative_to(tmp_path / "data" / "pyrun" / "wheels")
    reader.run(Command("pyrun wsp --trust environment/create '{\"name\": \"dev\"}'"))
    listed = subprocess.run(["bash", "-c", "pyrun wsp environment/list"], cwd=reader_home,
                            env=env, capture_output=True, text=True, timeout=600)
    assert [e["id"] for e in json.loads(listed.stdout)] == ["dev"], listed.stderr
    # the environment pyrun built for wf.py runs the rebuilt wheel's pyrun
    python = subprocess.run(["bash", "-c", "pyrun python wf.py"], cwd=reader_home, env=env,
                            capture_output=True, text=True, timeout=600).stdout.strip()
    where = subprocess.run([python, "-c", "import pyrun; print(pyrun.__file__)"], env=env,
                           capture_output=True, text=True, timeout=60).stdout
    assert "/pool/pyrun-scripts-0" in where and str(ROOT) not in where, where
    # and uv reads the same line
    wire = Wire([find_uv(), "run", "-q", "--script", "wf.py"], reader_home, env)
    assert wire.result("initialize", {})["server_name"] == "reader"
    assert [e["id"] for e in wire.result("environment/list")] == ["dev"]
    assert wire.result("shutdown") is None
    assert wire.finish()[0] == 0
