"""Leftovers judged by locks, not pids (issue 22): a run removes a temporary directory of the
cache only when the lock its builder holds can be taken, so a build in another PID namespace (a
container sharing the cache) keeps its staging directory, and a dead build's is removed.

As root: the builds run under ``unshare --pid --fork --mount-proc``. A build is held in the
middle of its install by a package whose in-tree build backend waits for a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Runner, assert_no_lock_held, wait_for_line, wait_until, write

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True
    ).returncode != 0,
    reason="needs root and unshare --pid (a build in another PID namespace)")

#: Run as pid 1 of a new PID namespace: make the next pid there ``argv[1] + 1``, then run
#: ``argv[2:]`` as that child (a pid no host process has, or pid 1: see the tests).
SPAWN = """\
import subprocess, sys
if sys.argv[1] != "-":
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(sys.argv[1])
    sys.exit(subprocess.call(sys.argv[2:]))
import os
os.execv(sys.argv[2], sys.argv[2:])
"""

BACKEND = '''\
import os, time, zipfile

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    open({building!r}, "w").close()
    while not os.path.exists({go!r}):  # held here until the test says go
        time.sleep(0.02)
    name = "slowpkg-1.0-py3-none-any.whl"
    files = {{"slowpkg/__init__.py": "V = 'built'\\n",
             "slowpkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: slowpkg\\n"
                                               "Version: 1.0\\n",
             "slowpkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: t\\n"
                                            "Root-Is-Purelib: true\\nTag: py3-none-any\\n"}}
    record = "".join(f"{{p}},,\\n" for p in files) + "slowpkg-1.0.dist-info/RECORD,,\\n"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for p, text in files.items():
            z.writestr(p, text)
        z.writestr("slowpkg-1.0.dist-info/RECORD", record)
    return name
'''


def slow_script(tmp_path: Path) -> Path:
    """A script needing ``slowpkg``, a directory source whose build waits for ``go``."""
    pkg = tmp_path / "slow"
    pkg.mkdir()
    (pkg / "backend.py").write_text(BACKEND.format(building=str(tmp_path / "building"),
                                                   go=str(tmp_path / "go")))
    (pkg / "pyproject.toml").write_text(
        '[project]\nname = "slowpkg"\nversion = "1.0"\ndependencies = []\n'
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n')
    return write(tmp_path / "slow.py", (
        '# /// script\n# dependencies = ["slowpkg"]\n# [tool.uv.sources]\n'
        '# slowpkg = { path = "slow" }\n# ///\nimport slowpkg\nprint(slowpkg.V)\n'))


def start_in_namespace(pyrun: Runner, cache: Path, script: Path, last_pid: str,
                       **env: str) -> subprocess.Popen[str]:
    """``pyrun -v script`` in a new PID namespace, as the child of its pid 1 that gets pid
    ``last_pid + 1`` there (or as pid 1 itself with ``last_pid`` ``-``)."""
    return subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", SPAWN, last_pid,
         sys.executable, "-m", "pyrun", "-v", str(script)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=pyrun.env(PYRUN_CACHE_DIR=str(cache), **env), start_new_session=True)


def no_host_process(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}")


def stages(cache: Path) -> list[Path]:
    return sorted((cache / "pool").glob(".tmp-*"))


def test_a_build_in_another_pid_namespace_keeps_its_staging_directory(
    pyrun: Runner, tmp_path: Path
) -> None:
    """The build's pid in its namespace is one no host process has (the old rule, ``kill(pid,
    0)``, judged it dead); a run on the host cleans leftovers meanwhile, and the build, let go,
    completes."""
    cache = tmp_path / "cache"
    script = slow_script(tmp_path)
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    free = next(p for p in range(pid_max - 100, 300, -1) if no_host_process(p))
    proc = start_in_namespace(pyrun, cache, script, str(free - 1))
    try:
        wait_until(lambda: (tmp_path / "building").exists() or proc.poll() is not None,
                   "the build to reach the backend")
        assert proc.poll() is None, proc.communicate()
        (stage,) = stages(cache)
        owner = int(stage.name.split("-")[1])
        assert owner == free and no_host_process(owner), stage  # a pid that means nothing here
        other = write(tmp_path / "other.py", "# /// script\n# dependencies = []\n# ///\n"
                                             "print('other')\n")
        host = pyrun(str(other), PYRUN_CACHE_DIR=str(cache))
        assert host.returncode == 0 and host.stdout.strip() == "other", host.stderr
        assert stages(cache) == [stage]  # the host run kept it
        (tmp_path / "go").touch()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0 and out.strip() == "built", err
    assert stages(cache) == []
    assert [p.name for p in (cache / "locks").iterdir() if p.name.startswith("tmp+")] == []
    assert_no_lock_held(cache)


def test_a_killed_builds_staging_directory_is_removed_by_the_next_run(
    pyrun: Runner, tmp_path: Path
) -> None:
    """The dead build ran as pid 1 of its namespace, a pid that is alive on the host (the old
    rule kept its leftovers for ever); the next run removes its staging directory."""
    cache = tmp_path / "cache"
    script = slow_script(tmp_path)
    (tmp_path / "go").touch()  # the build is held by the pause, not by the backend
    proc = start_in_namespace(pyrun, cache, script, "-", PYRUN_PAUSE_AT="staged")
    assert proc.stderr is not None
    wait_for_line(proc.stderr, "paused at staged")
    (stage,) = stages(cache)
    assert stage.name.startswith(".tmp-1-") and not no_host_process(1), stage
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    again = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache))
    assert again.returncode == 0 and again.stdout.strip() == "built", again.stderr
    assert stages(cache) == []
    assert [p.name for p in (cache / "locks").iterdir() if p.name.startswith("tmp+")] == []
    assert_no_lock_held(cache)


def test_a_leftover_of_an_older_version_is_removed_when_no_one_holds_its_lock(
    pyrun: Runner, tmp_path: Path
) -> None:
    """Versions before locks named their temporaries the same way and took no lock: such a
    directory, named for a live pid (this test's), is removed by the next run; one whose lock
    is held (here by this test) is kept, whatever pid its name has; a lock file left without
    its temporary is removed."""
    cache = tmp_path / "cache"

    def cold_run() -> None:  # a new block each time: never the warm path, which cleans nothing
        runs.append(len(runs))
        block = f'# /// script\n# requires-python = ">=3.{len(runs)}"\n# ///\n'
        other = write(tmp_path / "other.py", f"{block}print('other')\n")
        out = pyrun(str(other), PYRUN_CACHE_DIR=str(cache))
        assert out.returncode == 0 and out.stdout.strip() == "other", out.stderr

    runs: list[int] = []
    cold_run()
    old = cache / "envs" / f".tmp-{os.getpid()}-0123abcd-olderversion"
    (old / "bin").mkdir(parents=True)
    held = cache / "pool" / ".tmp-999999-stage-held"
    held.mkdir()
    orphan = cache / "locks" / "tmp+pool+.tmp-999999-stage-gone.lock"  # its holder died after
    orphan.touch()                                                      # removing its stage
    from filelock import FileLock

    from pyrun.store.markers import lock_file, tmp_lock

    with FileLock(str(lock_file(cache / "locks", tmp_lock("pool", held.name))), timeout=0):
        cold_run()
        assert not old.exists() and held.exists() and not orphan.exists()
    cold_run()
    assert not held.exists()
