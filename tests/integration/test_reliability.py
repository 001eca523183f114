"""Reliability with real processes: concurrent runs, SIGKILL at many moments, corruption."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pyrun.faults import POINTS
from tests.helpers import (
    Runner,
    assert_fails,
    assert_no_lock_held,
    body,
    cold,
    entry_of,
    env_of,
    write,
)


def start(pyrun: Runner, cache: Path, script: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pyrun", "-v", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=pyrun.env(PYRUN_CACHE_DIR=str(cache), **env),
        start_new_session=True,  # so a kill reaches uv and compileall too, as a crash would
    )


def leftovers(cache: Path) -> list[str]:
    return [str(p) for d in ("pool", "envs") for p in (cache / d).glob(".tmp-*")]


def test_eight_concurrent_cold_runs(pyrun: Runner, tmp_path: Path) -> None:
    """8 processes at once on a cold cache: 4 of one script and 4 scripts sharing some of its
    distributions. All succeed; each pool entry and each environment is built exactly once."""
    cache = tmp_path / "cache"
    scripts = [write(tmp_path / "same.py", body("six", "idna"))] * 4 + [
        write(tmp_path / f"s{i}.py", body(*deps))
        for i, deps in enumerate([("six", "idna"), ("idna", "attrs"), ("attrs", "six"), ("idna",)])
    ]
    procs = [start(pyrun, cache, s) for s in scripts]
    results = [p.communicate(timeout=300) for p in procs]
    installs: Counter[str] = Counter()
    envs = 0
    for p, (out, err), s in zip(procs, results, scripts):
        assert p.returncode == 0, err
        wanted = re.search(r"dependencies = \[(.*)\]", s.read_text()).group(1)  # type: ignore[union-attr]
        assert out.split() == sorted(d.strip('" ') for d in wanted.split(",")), (out, wanted)
        for line in err.splitlines():
            m = re.search(r"into the pool: (.*)$", line)
            if m:
                installs.update(n.split("==")[0] for n in m.group(1).split(", "))
            envs += "creating an environment" in line
    assert installs == Counter({"six": 1, "idna": 1, "attrs": 1}), installs
    # 4 distinct sets: {six, idna} (twice spelled), {idna, attrs}, {attrs, six}, {idna}
    assert envs == 4
    assert len([p for p in (cache / "envs").iterdir() if not p.name.startswith(".")]) == 4
    assert leftovers(cache) == []
    assert_no_lock_held(cache)


@pytest.mark.parametrize("point", POINTS)
def test_killed_at_a_named_point_recovers(pyrun: Runner, tmp_path: Path, point: str) -> None:
    """SIGKILL (to pyrun and its children) at each point of a cold build; the next run
    succeeds without help, removes what the dead run left, and uses nothing half-built."""
    cache = tmp_path / "cache"
    script = write(tmp_path / "k.py", body("six", "idna", "attrs"))
    proc = start(pyrun, cache, script, PYRUN_PAUSE_AT=point)
    assert proc.stderr is not None
    for line in proc.stderr:
        if f"paused at {point}" in line:
            break
    else:  # pragma: no cover - the failure being tested for
        pytest.fail(f"never reached {point}: {proc.communicate()}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    again = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache))
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["attrs", "idna", "six"]
    assert leftovers(cache) == []
    for entry in (cache / "pool").iterdir():
        assert (entry / "pyrun-entry.json").is_file(), entry  # only finished entries remain
        assert entry.stat().st_mode & 0o222 == 0, entry  # read-only, even after "compiling"
        assert (entry / "site-packages").stat().st_mode & 0o222 == 0, entry
    assert_no_lock_held(cache)
    warm = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache))
    assert warm.returncode == 0 and "pyrun: warm:" in warm.stderr


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.4, 0.7, 1.0, 1.5])
def test_killed_at_a_random_moment_recovers(pyrun: Runner, tmp_path: Path, delay: float) -> None:
    """The same, at moments picked by the clock rather than by the code (during uv's
    resolution and install, and byte-compiling pygments' hundreds of modules)."""
    cache = tmp_path / "cache"
    script = write(tmp_path / "r.py", body("pygments", "six"))
    proc = start(pyrun, cache, script)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    again = pyrun(str(script), PYRUN_CACHE_DIR=str(cache))
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["pygments", "six"]
    assert leftovers(cache) == []
    assert_no_lock_held(cache)


# Corruption and drift -----------------------------------------------------------------------


def writable(path: Path) -> None:
    for dirpath, _d, _f in os.walk(path):
        os.chmod(dirpath, 0o755)


def test_pool_entry_deleted_by_hand(pyrun: Runner, tmp_path: Path) -> None:
    cache, script = tmp_path / "cache", write(tmp_path / "d.py", body("six", "idna"))
    cold(pyrun, cache, script)
    entry = entry_of(cache, "six")
    writable(entry)
    subprocess.run(["rm", "-rf", str(entry)], check=True)
    out = cold(pyrun, cache, script)
    assert out.stdout.split() == ["idna", "six"]
    assert f"{entry}/pyrun-entry.json is missing; building its environment again" in out.stderr
    assert (entry / "pyrun-entry.json").is_file()


def test_pool_entry_altered_by_hand(pyrun: Runner, tmp_path: Path) -> None:
    """A warm run checks that each entry is there; a build (here -U) also checks every file;
    a new block resolving to the built environment checks no more than a warm run."""
    cache, script = tmp_path / "cache", write(tmp_path / "a.py", body("six", "idna"))
    cold(pyrun, cache, script)
    entry = entry_of(cache, "idna")
    writable(entry)
    target = entry / "site-packages" / "idna" / "core.py"
    target.unlink()  # a new file, not the inode shared with uv's cache
    target.write_text("raise ImportError('altered by hand')\n")
    # A new block resolving to the built set uses the environment as a warm run would: its
    # entries were checked when it was built; no file is walked (issue 25: a tenth of uv).
    other = write(tmp_path / "b.py", body("idna", "Six"))
    same = pyrun("-v", str(other), PYRUN_CACHE_DIR=str(cache))
    assert same.returncode == 0 and same.stdout.split() == ["idna", "six"], same.stderr
    assert "the environment of this set is built" in same.stderr
    assert "installing it again" not in same.stderr and "altered" in target.read_text()
    assert len(list((cache / "envs").iterdir())) == 1
    out = cold(pyrun, cache, script, "-U")
    assert out.stdout.split() == ["idna", "six"]
    said = "site-packages/idna/core.py was modified since it was installed; installing it again"
    assert said in out.stderr
    assert "altered" not in target.read_text()


@pytest.mark.parametrize("damage", ["marker", "pth"])
def test_environment_missing_marker_or_activation(
    pyrun: Runner, tmp_path: Path, damage: str
) -> None:
    cache, script = tmp_path / "cache", write(tmp_path / "e.py", body("six"))
    cold(pyrun, cache, script)
    env = env_of(cache)
    pth = next(env.glob("lib/*/site-packages/_pyrun_pool.pth"))
    victim = env / "pyrun-env.json" if damage == "marker" else pth
    victim.unlink()
    out = cold(pyrun, cache, script)
    assert out.stdout.split() == ["six"]
    said = "has no completion marker" if damage == "marker" else "_pyrun_pool.pth is missing"
    assert said in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert victim.exists()


@pytest.fixture
def private_python(tmp_path: Path) -> Path:
    """A copy of an installed CPython that a test may change and remove: the tree hardlinked,
    the interpreter binary itself copied."""
    base = Path(os.path.realpath(sys.executable))
    home = base.parent.parent
    if not (home / "lib").is_dir() or not (home / "bin").is_dir():
        pytest.skip("needs an interpreter installed in its own prefix (pyenv, python.org)")
    copy = tmp_path / "python-copy"
    subprocess.run(["cp", "-al", str(home), str(copy)], check=True)
    exe = copy / "bin" / base.name
    exe.unlink()
    subprocess.run(["cp", "-p", str(base), str(exe)], check=True)
    if subprocess.run([str(exe), "-c", "pass"], capture_output=True).returncode != 0:
        pytest.skip("the interpreter does not run from a copied prefix")
    return exe


def test_base_interpreter_upgraded_then_removed(
    pyrun: Runner, tmp_path: Path, private_python: Path
) -> None:
    cache, script = tmp_path / "cache", write(tmp_path / "p.py", body("six"))
    cold(pyrun, cache, script, "--python", str(private_python))
    st = os.stat(private_python)  # reinstalled in place: a new stamp, one second later
    os.utime(private_python, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    out = cold(pyrun, cache, script, "--python", str(private_python))
    assert "changed (upgraded or reinstalled); building its environment again" in out.stderr
    assert "pyrun: warm:" in pyrun("-v", "--python", str(private_python), str(script),
                                   PYRUN_CACHE_DIR=str(cache)).stderr
    subprocess.run(["rm", "-rf", str(private_python.parent.parent)], check=True)
    gone = pyrun("--python", str(private_python), str(script), PYRUN_CACHE_DIR=str(cache))
    assert_fails(gone, 68, f"its interpreter {private_python} is gone")


def test_cache_directory_moved(pyrun: Runner, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    script = write(tmp_path / "m.py", body("six"))
    cold(pyrun, old, script)
    old.rename(new)
    pool_before = {p.name: p.stat().st_ino for p in (new / "pool").iterdir()}
    out = cold(pyrun, new, script)
    assert out.stdout.split() == ["six"]
    assert f"the environment {old}" in out.stderr and "is gone; building its" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    # the moved pool is reused as it is: the same entries, not reinstalled
    assert {p.name: p.stat().st_ino for p in (new / "pool").iterdir()} == pool_before
    marker = (env_of(new) / "pyrun-env.json").read_text()
    assert str(new) in marker and str(old) not in marker


def test_cache_on_a_read_only_file_system(pyrun: Runner, tmp_path: Path) -> None:
    """A warm script still runs; one that needs building says why it cannot (exit 73)."""
    unshare = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if unshare.returncode != 0:
        pytest.skip("needs unshare -rm (user and mount namespaces)")
    cache = tmp_path / "cache"
    warm, new = write(tmp_path / "w.py", body("six")), write(tmp_path / "n.py", body("idna"))
    cold(pyrun, cache, warm)
    inner = (
        f"mount --bind {cache} {cache} && mount -o remount,ro,bind {cache} && "
        f"{sys.executable} -m pyrun {warm}; echo warm=$?; "
        f"{sys.executable} -m pyrun {new}; echo new=$?"
    )
    out = subprocess.run(["unshare", "-rm", "sh", "-c", inner], capture_output=True, text=True,
                         env=pyrun.env(PYRUN_CACHE_DIR=str(cache)), timeout=300)
    lines = out.stdout.split()
    assert lines == ["six", "warm=0", "new=73"], out.stdout + out.stderr
    assert "cannot write to pyrun's cache" in out.stderr and "Read-only file system" in out.stderr
    assert "Traceback" not in out.stderr


# Offline ------------------------------------------------------------------------------------


def no_network(
    pyrun: Runner, script: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run pyrun in a network namespace of its own: no interfaces, no DNS."""
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -rn (user and network namespaces)")
    return subprocess.run(["unshare", "-rn", sys.executable, "-m", "pyrun", *args, str(script)],
                          capture_output=True, text=True, env=pyrun.env(**env), timeout=120)


def test_offline_warm_and_pooled_scripts_run(pyrun: Runner, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    first = write(tmp_path / "first.py", body("six", "idna"))
    cold(pyrun, Path(cache), first)
    warm = no_network(pyrun, first, PYRUN_CACHE_DIR=cache)
    assert warm.returncode == 0 and warm.stdout.split() == ["idna", "six"], warm.stderr
    subset = write(tmp_path / "subset.py", body("idna"))  # a new script, all in the pool
    out = no_network(pyrun, subset, "-v", PYRUN_CACHE_DIR=cache)
    assert out.returncode == 0 and out.stdout.split() == ["idna"], out.stderr
    assert "distribution(s) from the pool" in out.stderr  # issue 25: the index is not asked
    assert "into the pool" not in out.stderr
    other = write(tmp_path / "other.py", body("six"))  # asking the index every time: uv's cache
    out = no_network(pyrun, other, "-v", PYRUN_CACHE_DIR=cache, PYRUN_POOL_FRESHNESS="0")
    assert out.returncode == 0 and out.stdout.split() == ["six"], out.stderr
    assert "cannot be reached; resolved from uv's cache" in out.stderr
    assert "into the pool" not in out.stderr


def test_offline_missing_distribution_fails_fast(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "new.py", body("text-unidecode"))
    started = time.monotonic()
    out = no_network(pyrun, script, UV_CACHE_DIR=str(tmp_path / "empty-uv-cache"),
                     PYRUN_CACHE_DIR=str(tmp_path / "cache"))
    elapsed = time.monotonic() - started
    assert_fails(out, 69, "cannot be reached, and text-unidecode is not in the cache",
                 "--offline")
    assert elapsed < 10, elapsed  # uv's default retries alone take 12 s to give up


def test_offline_flag_never_touches_the_network(pyrun: Runner, tmp_path: Path) -> None:
    """An index on 127.0.0.1 that counts connections: --offline makes none."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    connections = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            connections.append(1)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    index = f"http://127.0.0.1:{server.getsockname()[1]}/simple"
    script = write(tmp_path / "o.py", body("text-unidecode"))
    env = dict(UV_INDEX_URL=index, UV_CACHE_DIR=str(tmp_path / "uvc"),
               PYRUN_CACHE_DIR=str(tmp_path / "cache"))
    offline = pyrun("--offline", str(script), **env)
    assert offline.returncode == 69 and "--offline" in offline.stderr, offline.stderr
    assert connections == []
    online = pyrun(str(script), **env)  # the same without --offline does reach the index
    server.close()
    assert online.returncode != 0 and connections, online.stderr
