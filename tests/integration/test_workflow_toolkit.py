"""Workflow servers written with the toolkit (issue 15), over real pipes: the examples in
scripts-examples/ driven by pyrun's client, run by pyrun and by `uv run --script`. (The
tutorial, followed from an empty folder with `pyrun wsp init`: test_workflow_tutorial.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyrun.engine.installers.uv import find_uv
from pyrun.wsp.client import Client
from pyrun.wsp.jsonrpc import RpcError
from tests.helpers import Runner, assert_fails

ROOT = Path(__file__).resolve().parents[2]


def copy_example(name: str, tmp_path: Path) -> Path:
    """A copy of scripts-examples/NAME whose `pyrun-scripts` source is this repository."""
    proj = tmp_path / name
    shutil.copytree(ROOT / "scripts-examples" / name, proj,
                    ignore=shutil.ignore_patterns("envs", ".task-envs"))
    for script in proj.glob("*.py"):
        script.write_text(script.read_text().replace('path = "../.."', f'path = "{ROOT}"'))
    (proj / ".git").mkdir()
    return proj


def test_the_tasks_example_serves_per_task_environments(pyrun: Runner, tmp_path: Path) -> None:
    proj = copy_example("tasks", tmp_path)
    config = str(tmp_path / "config")

    def wsp(*args: str) -> subprocess.CompletedProcess[str]:
        return pyrun("wsp", *args, cwd=proj, PYRUN_CONFIG_DIR=config)

    listed = wsp("--trust", "environment/list")
    assert listed.returncode == 0, listed.stderr
    assert [e["id"] for e in json.loads(listed.stdout)] == ["docs", "lint"]
    made = wsp("environment/create", '{"name": "docs"}')
    assert made.returncode == 0, made.stderr
    ran = wsp("environment/execute", '{"id": "docs", "argv": ["python", "-c", '
              '"import attr, idna, sys; print(sys.prefix)"]}')
    assert json.loads(ran.stdout)["stdout"].strip() == str(proj / ".task-envs" / "docs")
    missing = wsp("environment/create", '{"name": "nope"}')
    assert_fails(missing, 1, "-31001")


@pytest.mark.parametrize("runner", ["pyrun", "uv"])
def test_the_workflow_example_runs_under_pyrun_and_uv(pyrun: Runner, tmp_path: Path,
                                                      runner: str) -> None:
    proj = copy_example("workflow", tmp_path)
    script = str(proj / "workflow.py")
    argv = ([sys.executable, "-m", "pyrun", script] if runner == "pyrun"
            else [find_uv(), "run", "-q", "--script", script])
    with Client(argv, cwd=str(proj), environ=pyrun.env(), stderr=subprocess.DEVNULL) as client:
        init = client.initialize(timeout=300)
        assert init["server_name"] == "example-workflow" and "example/python" in init["methods"]
        assert init["capabilities"]["pyrun"]["toolkit"]["name"] == "pyrun"
        assert client.capabilities.get("execute_params") == ["stdin", "timeout", "stream"]
        assert client.request("environment/list") == []
        made = client.request("environment/create", {"name": "dev"}, timeout=300)
        assert made["interpreter_path"] == str(proj / "envs" / "dev" / "bin" / "python")
        serving = client.request("example/python")
        assert serving["version"].count(".") == 2
        # in the environment the script's block asks for, not on an interpreter that happens
        # to have pyrun installed (uv would fall back to one if it missed the block)
        prefix = Path(serving["executable"]).parent.parent
        assert (prefix / "pyvenv.cfg").is_file() and prefix != Path(sys.prefix), serving
        assert client.request("environment/get", {"id": "dev"})["id"] == "dev"
        ran = client.request("environment/execute", {"id": "dev", "argv": [
            "python", "-c", "import sys; print(sys.prefix); sys.exit(4)"]})
        assert ran["exit_code"] == 4 and ran["stdout"].strip() == str(proj / "envs" / "dev")
        with pytest.raises(RpcError) as gone:
            client.request("environment/get", {"id": "nope"})
        assert gone.value.code == -31001 and gone.value.data == {"id": "nope"}
        assert client.request("environment/delete", {"id": "dev"}) == {"id": "dev"}
        assert client.request("environment/list") == [] and not (proj / "envs" / "dev").exists()
