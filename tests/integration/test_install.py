"""``pyrun install`` (issue 24, point 3), with real uv and a real index on the loopback
interface: the command runs under cron's environment (``env -i HOME=... PATH=/usr/bin:/bin``,
no network where a namespace can be had), from paths with spaces and quotes; a prune keeps its
environment while the command exists, and takes it once ``pyrun uninstall`` removed it; pyrun
never replaces or removes a file it did not write; ``pyrun list`` shows it all."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from tests.helpers import Runner, assert_fails, write
from tests.integration.test_cron import NO_NETWORK
from tests.loopback import serve_index, wheel


def _script(path: Path, index: str, requirement: str = "cronpkg") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write(path, f'''# /// script
# dependencies = ["{requirement}"]
# [tool.uv]
# index-url = "{index}"
# ///
import sys
import cronpkg
print("report", cronpkg.__version__, sys.argv[1:])
''')


def _cron(command: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``COMMAND ARGS`` as cron runs it: ``env -i HOME=... PATH=/usr/bin:/bin`` (no
    ``PYRUN_CACHE_DIR``, no ``UV_CACHE_DIR``), and no network where a namespace can be had."""
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([*NO_NETWORK, str(command), *args], env=env, cwd=home,
                          capture_output=True, text=True, timeout=300)


def _envs(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "envs").iterdir() if not p.name.startswith("."))


def test_an_installed_command_runs_from_cron_and_keeps_its_environment(
        pyrun: Runner, tmp_path: Path) -> None:
    own = Runner(cache=tmp_path / "cache", uv_cache=pyrun.uv_cache)  # pruned to nothing below
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "b i'n"
    where = {"PYRUN_BIN_DIR": str(bin_dir)}
    with serve_index({"cronpkg": [wheel("cronpkg", "1.0")]}) as url:
        script = _script(tmp_path / 'my "jobs"' / "it's report.py", url)
        out = own("install", str(script), "--name", "report", **where)
        assert out.returncode == 0, out.stderr
    command = bin_dir / "report"
    assert stat.S_IMODE(command.stat().st_mode) == 0o755
    assert f"installed {command}" in out.stderr
    built = _envs(own.cache)
    assert len(built) == 1

    # cron: the index is gone, and so is every variable of the shell's but HOME and PATH
    ran = _cron(command, home, "a b", "it's")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "report 1.0-private ['a b', \"it's\"]\n"
    assert _envs(own.cache) == built  # warm: nothing resolved or built

    listed = json.loads(own("list", "--json").stdout)
    assert [(c["name"], c["path"], c["script"]) for c in listed["commands"]] == [
        ("report", str(command), str(script))]
    (env,) = listed["environments"]
    assert env["commands"] == ["report"] and env["scripts"][0]["script"] == str(script)
    assert env["python"] and env["size_bytes"] >= env["own_bytes"] > 0
    table = own("list").stdout
    assert "[command report]" in table and str(command) in table

    kept = own("cache", "prune", "--unused-for", "0")
    assert kept.returncode == 0 and _envs(own.cache) == built, kept.stdout
    gone = own("uninstall", "report", **where)
    assert gone.returncode == 0, gone.stderr
    assert not os.path.lexists(command)
    taken = own("cache", "prune", "--unused-for", "0")
    assert taken.returncode == 0 and _envs(own.cache) == [], taken.stdout
    assert json.loads(own("list", "--json").stdout)["commands"] == []


def test_the_command_follows_its_script_s_new_environment(pyrun: Runner,
                                                         tmp_path: Path) -> None:
    """The block changes: the command's next run builds a new environment, which its
    reference now holds; the old one goes with the next prune."""
    own = Runner(cache=tmp_path / "cache", uv_cache=pyrun.uv_cache)
    where = {"PYRUN_BIN_DIR": str(tmp_path / "bin")}
    with serve_index({"cronpkg": [wheel("cronpkg", "1.0"), wheel("cronpkg", "2.0")]}) as url:
        script = _script(tmp_path / "report.py", url, "cronpkg<2")
        assert own("install", str(script), **where).returncode == 0
        first = _envs(own.cache)
        _script(script, url, "cronpkg>=2")
        ran = subprocess.run([str(tmp_path / "bin" / "report")], env=own.env(),
                             capture_output=True, text=True, timeout=300)
        assert ran.stdout == "report 2.0-private []\n", ran.stderr
    (second,) = set(_envs(own.cache)) - set(first)
    listed = json.loads(own("list", "--json").stdout)
    assert listed["commands"][0]["environment"].endswith(second)
    assert own("cache", "prune", "--unused-for", "0").returncode == 0
    assert _envs(own.cache) == [second]


def test_files_pyrun_did_not_write_are_never_touched(pyrun: Runner, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    where = {"PYRUN_BIN_DIR": str(bin_dir)}
    theirs = write(bin_dir / "tool", "#!/bin/sh\necho theirs\n")
    script = write(tmp_path / "tool.py", "# /// script\n# dependencies = []\n# ///\nprint(1)\n")
    other = write(tmp_path / "other.py", "# /// script\n# dependencies = []\n# ///\nprint(2)\n")
    assert_fails(pyrun("install", str(script), **where), 73,
                 f"{theirs} exists and was not written by `pyrun install`")
    assert_fails(pyrun("uninstall", "tool", **where), 73, "was not written by `pyrun install`")
    assert theirs.read_text() == "#!/bin/sh\necho theirs\n"
    for bad in ("a/b", "tab\there", "-x", ".."):
        assert_fails(pyrun("install", str(script), f"--name={bad}", **where), 64,
                     "cannot name a command")
    assert_fails(pyrun("uninstall", "nothing", **where), 64, "no command nothing")
    assert_fails(pyrun("install", str(tmp_path / "missing.py"), **where), 66, "no such file")

    assert pyrun("install", str(script), "--name", "mine", **where).returncode == 0
    assert_fails(pyrun("install", str(other), "--name", "mine", **where), 64, "--force")
    assert pyrun("install", str(script), "--name", "mine", **where).returncode == 0  # again
    forced = pyrun("install", str(other), "--name", "mine", "--force", **where)
    assert forced.returncode == 0, forced.stderr
    ran = subprocess.run([str(bin_dir / "mine")], env=pyrun.env(), capture_output=True,
                         text=True, timeout=300)
    assert ran.stdout == "2\n", ran.stderr
    assert sorted(p.name for p in bin_dir.iterdir()) == ["mine", "tool"]  # nothing left over
    assert pyrun("uninstall", "mine", **where).returncode == 0
    assert sorted(p.name for p in bin_dir.iterdir()) == ["tool"]
