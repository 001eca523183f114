"""``pyrun cache dir|info|prune|clean`` on real caches, with real concurrent runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock

from tests.helpers import Runner, body, cold, entry_of, wait_for_line, write

DAY = 86400.0


def envs_by_script(pyrun: Runner, cache: Path, *scripts: Path) -> list[Path]:
    """The environment of each script (from a warm run's -v line)."""
    found = []
    for s in scripts:
        out = pyrun("-v", str(s), PYRUN_CACHE_DIR=str(cache))
        line = next(x for x in out.stderr.splitlines() if x.startswith("pyrun: warm: "))
        found.append(Path(line.split(": ", 2)[2]).parent.parent)
    return found


def age(env: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(env / "pyrun-env.json", (then, then))


def cache_cmd(pyrun: Runner, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = pyrun("cache", *args, PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 0, out.stderr
    return out


def test_dir_and_info(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert cache_cmd(pyrun, cache, "dir").stdout.strip() == str(cache)
    a, b = write(tmp_path / "a.py", body("six")), write(tmp_path / "b.py", body("idna"))
    cold(pyrun, cache, a), cold(pyrun, cache, b)
    env_a, _env_b = envs_by_script(pyrun, cache, a, b)
    age(env_a, 40)
    data = json.loads(cache_cmd(pyrun, cache, "info", "--json").stdout)
    assert len(data["environments"]) == 2 and len(data["entries"]) == 2
    assert data["unused_environments"] == [str(env_a)] and data["unreferenced_entries"] == []
    assert data["size_bytes"] > 0
    text = cache_cmd(pyrun, cache, "info", "--unused-for", "50").stdout
    assert "environments: 2 (0 unused for 50 days)" in text
    assert "pool entries: 2 (0 used by no environment)" in text


def test_prune_removes_unused_then_unreferenced(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    a, b = write(tmp_path / "a.py", body("six")), write(tmp_path / "b.py", body("idna"))
    cold(pyrun, cache, a), cold(pyrun, cache, b)
    env_a, env_b = envs_by_script(pyrun, cache, a, b)
    six = entry_of(cache, "six")
    age(env_a, 31)
    age(env_b, 29)
    out = cache_cmd(pyrun, cache, "prune")
    assert "removed 1 environment(s) and 1 pool entry" in out.stdout
    assert not env_a.exists() and not six.exists() and env_b.exists()
    assert list((cache / "pool").glob(".tmp-*")) == [] and list((cache / "envs").glob(".*")) == []
    assert "pyrun: warm:" in pyrun("-v", str(b), PYRUN_CACHE_DIR=str(cache)).stderr
    assert cold(pyrun, cache, a).stdout.split() == ["six"]  # rebuilt on demand


def test_prune_skips_locked_and_running(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    locked = write(tmp_path / "l.py", body("six"))
    go = tmp_path / "go"  # the running script waits in its environment until this exists
    running = write(tmp_path / "r.py", body("idna").replace(
        "import importlib", "import pathlib, time\nprint('started', flush=True)\n"
        "limit = time.monotonic() + 120  # in case the test fails before it says go\n"
        f"while not pathlib.Path({str(go)!r}).exists() and time.monotonic() < limit:\n"
        "    time.sleep(0.02)\nimport importlib"))
    cold(pyrun, cache, locked)
    proc = subprocess.Popen([sys.executable, "-m", "pyrun", str(running)], text=True,
                            stdout=subprocess.PIPE, env=pyrun.env(PYRUN_CACHE_DIR=str(cache)))
    assert proc.stdout is not None
    wait_for_line(proc.stdout, "started")  # the script is now running in its environment
    env_l = envs_by_script(pyrun, cache, locked)[0]
    env_r = next(p for p in (cache / "envs").iterdir() if p != env_l and not p.name.startswith("."))
    age(env_l, 60), age(env_r, 60)
    with FileLock(str(cache / "locks" / f"env-{env_l.name}.lock")):
        out = cache_cmd(pyrun, cache, "prune")
    assert f"skipped {env_l}: locked by a run that is building it" in out.stdout
    assert f"skipped {env_r}: a running process uses it" in out.stdout
    assert env_l.exists() and env_r.exists()
    go.touch()
    assert proc.communicate(timeout=60)[0].split() == ["idna"] and proc.returncode == 0


def test_runs_during_prune_succeed(pyrun: Runner, tmp_path: Path) -> None:
    """A script whose environment a prune is removing at the same moment still runs: it
    either touched its marker first (and the prune leaves it) or rebuilds what was removed."""
    cache = tmp_path / "cache"
    script = write(tmp_path / "p.py", body("six"))
    cold(pyrun, cache, script)
    for _ in range(6):
        for env in (cache / "envs").iterdir():
            if not env.name.startswith("."):
                age(env, 90)
        env = pyrun.env(PYRUN_CACHE_DIR=str(cache))
        prune = subprocess.Popen([sys.executable, "-m", "pyrun", "cache", "prune"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        run = subprocess.run([sys.executable, "-m", "pyrun", str(script)], env=env,
                             capture_output=True, text=True, timeout=120)
        prune.communicate(timeout=120)
        assert prune.returncode == 0
        assert run.returncode == 0 and run.stdout.split() == ["six"], run.stderr


def test_clean(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    script = write(tmp_path / "c.py", body("six"))
    cold(pyrun, cache, script)
    out = cache_cmd(pyrun, cache, "clean")
    assert "removed 1 environment(s) and 1 pool entry" in out.stdout
    assert [p for p in (cache / "pool").iterdir()] == []
    assert cold(pyrun, cache, script).stdout.split() == ["six"]


def test_cache_usage_errors(pyrun: Runner, tmp_path: Path) -> None:
    bad = pyrun("cache", "prune", "--unused-for", "soon", PYRUN_CACHE_DIR=str(tmp_path))
    assert bad.returncode == 64 and "number of days" in bad.stderr
    assert pyrun("cache", "frobnicate").returncode == 64
    assert "pyrun cache dir" in pyrun("cache", "--help").stdout


def test_prune_keeps_entries_a_project_venv_uses(pyrun: Runner, tmp_path: Path) -> None:
    """A venv the WSP server composed from the pool lives in the project, not in the cache:
    its entries survive a prune while it exists, and go once it is gone."""
    from pyrun.wsp.client import Client

    cache, project = tmp_path / "cache", tmp_path / "proj"
    project.mkdir()
    env = pyrun.env(PYRUN_CACHE_DIR=str(cache))
    with Client([sys.executable, "-m", "pyrun", "wsp", "serve", "--project", str(project)],
                environ=env) as c:
        c.initialize()
        c.request("environment/create", {"name": ".venv", "requirements": ["six"]})
    out = cache_cmd(pyrun, cache, "prune", "--unused-for", "0")
    assert "and 0 pool entries" in out.stdout
    venv_python = project / ".venv" / "bin" / "python"
    assert subprocess.run([venv_python, "-c", "import six"]).returncode == 0
    subprocess.run(["rm", "-rf", str(project / ".venv")], check=True)
    out = cache_cmd(pyrun, cache, "prune", "--unused-for", "0")
    assert "and 1 pool entry" in out.stdout
    assert list((cache / "refs").iterdir()) == []


def test_prune_keeps_an_environment_a_python_envs_file_lists(pyrun: Runner, tmp_path: Path) -> None:
    """`pyrun env x.py --record` hands an environment to editors, which use it without running
    pyrun: a prune keeps it while the .python-envs file lists it."""
    cache = tmp_path / "cache"
    script = write(tmp_path / "ed.py", body("six"))
    rec = pyrun("env", str(script), "--record", PYRUN_CACHE_DIR=str(cache))
    assert rec.returncode == 0, rec.stderr
    env_dir = Path(rec.stdout.strip())
    age(env_dir, 90)
    out = cache_cmd(pyrun, cache, "prune")
    assert f"skipped {env_dir}: a .python-envs file lists it" in out.stdout and env_dir.exists()
    (tmp_path / ".python-envs").write_text("")
    out = cache_cmd(pyrun, cache, "prune")
    assert "removed 1 environment(s) and 1 pool entry" in out.stdout and not env_dir.exists()
