"""WSP end to end: pyrun's server over real stdio, the `pyrun wsp` client against pyrun's own
server, the example single-file workflow script and a `cmd` server, the trust prompt, and the
editor commands."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pyrun.engine.interpreters import Interpreter
from pyrun.wsp.client import Client
from pyrun.wsp.jsonrpc import RpcError
from tests.helpers import Runner, assert_fails, write

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "scripts-examples" / "workflow"


def here_relative(script: Path) -> None:
    """Point a copied example's `pyrun-scripts` source at this repository (it says `../..`)."""
    script.write_text(script.read_text().replace('path = "../.."', f'path = "{ROOT}"'))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    (d / ".git").mkdir()  # the walk up for a declaration stops here
    (d / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    return d


@pytest.fixture
def config(tmp_path: Path) -> Path:
    d = tmp_path / "config"
    d.mkdir()
    return d


def wsp(pyrun: Runner, project: Path, config: Path, *args: str,
        **env: str) -> subprocess.CompletedProcess[str]:
    return pyrun("wsp", *args, cwd=project, PYRUN_CONFIG_DIR=str(config), **env)


def served(pyrun: Runner, project: Path) -> Client:
    return Client([sys.executable, "-m", "pyrun", "wsp", "serve", "--project", str(project)],
                  environ=pyrun.env(), stderr=subprocess.DEVNULL)


def error_of(call: Any) -> RpcError:
    with pytest.raises(RpcError) as exc:
        call()
    return exc.value


def test_server_methods(pyrun: Runner, project: Path, other_python: Interpreter) -> None:
    outside = project.parent / "outside-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(outside)], check=True)
    with served(pyrun, project) as c:
        init = c.initialize()
        assert init["protocol_version"] == "0.1.0" and "environment/execute" in init["methods"]
        assert "is_default" in init["capabilities"]["pyrun"]["environment_fields"]
        assert c.request("environment/list") == []
        venv = c.request("environment/create", {"name": ".venv", "requirements": ["six"]})
        assert venv["id"] == ".venv" and venv["is_default"] and venv["kind"] == "venv"
        assert {"name": "six"}.items() <= venv["installed_packages"][0].items()
        dev = c.request("environment/create", {"name": "dev",
                                                "python_version": other_python.short_version})
        assert dev["id"] == ".venvs/dev" and dev["python_version"] == str(other_python.version)
        assert (project / ".python-envs").read_text() == ".venvs/dev\n"
        assert error_of(lambda: c.request("environment/create", {"name": "dev"})).code == -31002
        e = error_of(lambda: c.request("environment/create",
                                       {"name": "x", "python_version": "2.1"}))
        assert e.code == -31003 and e.data == {"python_version": "2.1"}
        assert e.message.startswith("python_version 2.1") and "--python" not in e.message
        e = error_of(lambda: c.request("environment/get", {"id": "nope"}))
        assert e.code == -31001 and e.data == {"id": "nope"}
        assert error_of(lambda: c.request("environment/get", {})).code == -32602
        listed = c.request("environment/list")
        assert [x["id"] for x in listed] == [".venv", ".venvs/dev"]
        run = c.request("environment/execute", {
            "id": ".venv", "argv": ["python", "-c",
                                    "import sys, six; print(sys.stdin.read() or 'EOF'); "
                                    "sys.exit(4)"]})
        assert run == {"exit_code": 4, "stdout": "EOF\n", "stderr": ""}  # never the server's stdin
        fed = c.request("environment/execute", {"id": ".venv", "stdin": "fed",
                                                 "argv": ["python", "-c", "print(input())"],
                                                 "env": {"X": "1"}, "cwd": str(project)})
        assert fed["stdout"] == "fed\n"
        e = error_of(lambda: c.request("environment/execute", {
            "id": ".venv", "argv": ["python", "-c", "import time; time.sleep(5)"], "timeout": 0.5}))
        assert e.code == -31004 and e.data == {"reason": "timeout"}
        e = error_of(lambda: c.request("environment/execute", {"id": ".venv",
                                                                "argv": ["no-such-program-x"]}))
        assert e.code == -31004 and e.data["reason"] == "not found"
        assert c.request("environment/delete", {"id": ".venvs/dev"}) == {"id": ".venvs/dev"}
        assert not (project / ".venvs" / "dev").exists()
        (project / ".python-envs").write_text(f"{outside}\n")
        assert c.request("environment/delete", {"id": str(outside)}) == {"id": str(outside)}
        assert outside.exists()  # outside the project: only the line goes
        assert [x["id"] for x in c.request("environment/list")] == [".venv"]
    assert c.proc.returncode == 0


def test_client_against_the_builtin_server(pyrun: Runner, project: Path, config: Path) -> None:
    out = wsp(pyrun, project, config, "environment/list")
    assert out.returncode == 0 and json.loads(out.stdout) == [], out.stderr
    made = wsp(pyrun, project, config, "environment/create", '{"name": ".venv"}')
    assert made.returncode == 0, made.stderr
    run = wsp(pyrun, project, config, "run", "--", "python", "-c",
              "import sys; print(sys.prefix); sys.exit(7)")
    assert run.returncode == 7 and run.stdout.strip() == str(project / ".venv")
    by_id = wsp(pyrun, project, config, "run", "--env", ".venv", "--", "python", "-c",
                "import os; print(os.environ['VIRTUAL_ENV'])")
    assert by_id.returncode == 0 and by_id.stdout.strip() == str(project / ".venv")
    assert_fails(wsp(pyrun, project, config, "run", "--env", "nope", "--", "true"), 1,
                 "no environment 'nope'")
    # off a terminal, run streams through the server: stdin forwarded, both streams written
    piped = pyrun("wsp", "run", "--", "python", "-c", "import sys; d = sys.stdin.read(); "
                  "print(d.upper()); print('to stderr', file=sys.stderr); sys.exit(3)",
                  cwd=project, input="hello", PYRUN_CONFIG_DIR=str(config))
    assert piped.returncode == 3 and piped.stdout == "HELLO\n", piped.stderr
    assert piped.stderr.endswith("to stderr\n")
    missing = wsp(pyrun, project, config, "environment/get", '{"id": "x"}')
    assert_fails(missing, 1, "error -31001")
    assert_fails(wsp(pyrun, project, config, "environment/get", "[1]"), 65, "one JSON object")
    assert_fails(wsp(pyrun, project, config, "--bogus"), 64)
    typo = wsp(pyrun, project, config, "enviroment/list")  # a method the server lists
    assert_fails(typo, 1, "did you mean `pyrun wsp environment/list`?")
    assert "did you mean `pyrun wsp serve`?" in wsp(pyrun, project, config, "serv").stderr


def test_client_against_the_example_script_server(pyrun: Runner, tmp_path: Path,
                                                  config: Path) -> None:
    proj = tmp_path / "example"
    shutil.copytree(EXAMPLE, proj, ignore=shutil.ignore_patterns("envs"))
    here_relative(proj / "workflow.py")
    (proj / ".git").mkdir()
    listed = wsp(pyrun, proj, config, "--trust", "environment/list")
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr
    made = wsp(pyrun, proj, config, "environment/create", '{"name": "dev"}')
    assert made.returncode == 0, made.stderr
    python = proj / "envs" / "dev" / "bin" / "python"
    assert json.loads(made.stdout)["interpreter_path"] == str(python)
    ran = wsp(pyrun, proj, config, "environment/execute",
              '{"id": "dev", "argv": ["python", "-c", "import sys; print(sys.prefix)"]}')
    assert json.loads(ran.stdout)["stdout"].strip() == str(proj / "envs" / "dev")
    bad = wsp(pyrun, proj, config, "environment/create", '{"name": "x", "python_version": "2.7"}')
    assert_fails(bad, 1, "-31003")


def test_client_against_a_cmd_server_with_requires(pyrun: Runner, project: Path,
                                                   config: Path) -> None:
    """`cmd` runs with its `requires` environment's bin first on PATH: `python` there has
    pyrun (from the pool, built from this repository), whose toolkit the example imports."""
    (project / "pyproject.toml").write_text(
        f'[workflow]\nwsp = {{requires = ["pyrun-scripts @ {ROOT.as_uri()}"], '
        f'cmd = ["python", {json.dumps(str(EXAMPLE / "workflow.py"))}]}}\n')
    out = wsp(pyrun, project, config, "--trust", "environment/list")
    assert out.returncode == 0 and json.loads(out.stdout) == [], out.stderr


def test_user_setting_supplies_and_overrides(pyrun: Runner, project: Path, config: Path) -> None:
    sentinel = write(project / "mine.py", "import sys; sys.exit(3)\n")
    (config / "config.toml").write_text(
        f'[workflow]\nwsp = {{cmd = ["{sys.executable}", "{sentinel}"]}}\n')
    out = wsp(pyrun, project, config, "environment/list")  # the project declares none
    assert_fails(out, 76, "exited (status 3)")
    (project / "pyproject.toml").write_text('[workflow]\nwsp = {cmd = ["false"]}\n')
    assert_fails(wsp(pyrun, project, config, "--trust", "environment/list"), 76, "status 1")
    (config / "config.toml").write_text(
        f'[workflow]\noverride = true\nwsp = {{cmd = ["{sys.executable}", "{sentinel}"]}}\n')
    assert_fails(wsp(pyrun, project, config, "environment/list"), 76, "status 3")


def test_timeouts_and_protocol_errors(pyrun: Runner, project: Path, config: Path) -> None:
    (project / "pyproject.toml").write_text(
        f'[workflow]\nwsp = {{cmd = ["{sys.executable}", "-c", "import time; time.sleep(20)"]}}\n')
    started = time.monotonic()
    out = wsp(pyrun, project, config, "--trust", "--start-timeout", "1", "environment/list")
    assert_fails(out, 75)
    assert time.monotonic() - started < 15
    (project / "pyproject.toml").write_text(
        # os.write: no buffered flush at its exit, which would print the server's own
        # BrokenPipeError traceback (its stderr is the user's) once the client has hung up
        f'[workflow]\nwsp = {{cmd = ["{sys.executable}", "-c", '
        '"import os; os.write(1, bytes([52, 50, 10]))"]}\n')
    out = wsp(pyrun, project, config, "--trust", "environment/list")
    assert_fails(out, 76, "not a frame")  # however fast the server exits (test_client.py)
    (project / "pyproject.toml").write_text("[workflow]\nwsp = 3\n")
    assert_fails(wsp(pyrun, project, config, "environment/list"), 78)


def test_trust_prompt(pyrun: Runner, project: Path, config: Path) -> None:
    server = write(project / "wf.py", (EXAMPLE / "workflow.py").read_text())
    here_relative(server)
    (project / "pyproject.toml").write_text('[workflow]\nwsp = {script = "./wf.py"}\n')
    refused = wsp(pyrun, project, config, "environment/list")
    assert_fails(refused, 77, "--trust")  # no terminal: no guess

    def on_terminal(answer: bytes) -> tuple[int, str]:
        main, child = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "pyrun", "wsp", "environment/list"],
                                stdin=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=project, env=pyrun.env(PYRUN_CONFIG_DIR=str(config)))
        os.close(child)
        os.write(main, answer)
        _out, err = proc.communicate(timeout=120)
        os.close(main)
        return proc.returncode, err.decode()

    code, err = on_terminal(b"n\n")
    assert code == 77 and "declares a workflow server" in err and "[y/N]" in err
    again = wsp(pyrun, project, config, "environment/list")
    assert_fails(again, 77, "you declined")  # remembered
    code, err = on_terminal(b"y\n")
    assert code == 77  # a remembered "no" is not asked again: --trust overrides it
    assert wsp(pyrun, project, config, "--trust", "environment/list").returncode == 0
    assert wsp(pyrun, project, config, "environment/list").returncode == 0  # remembered yes
    server.write_text(server.read_text() + "\n# changed\n")
    assert_fails(wsp(pyrun, project, config, "environment/list"), 77)  # asked again
    code, err = on_terminal(b"y\n")
    assert code == 0 and "[y/N]" in err


def test_editor_commands(pyrun: Runner, project: Path) -> None:
    script = write(project / "tool.py",
                   '# /// script\n# dependencies = ["six"]\n# ///\nimport six\n')
    out = pyrun("python", str(script))
    assert out.returncode == 0, out.stderr
    python = Path(out.stdout.strip())
    assert python.name == "python" and subprocess.run([python, "-c", "import six"]).returncode == 0
    rec = pyrun("env", str(script), "--record")
    assert rec.returncode == 0
    assert (project / ".python-envs").read_text() == f"{python.parent.parent}\n"
    with served(pyrun, project) as c:
        c.initialize()
        assert [e["is_default"] for e in c.request("environment/list")] == [True]
    assert_fails(pyrun("env", str(script)), 64)
