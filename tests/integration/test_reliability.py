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
from filelock import FileLock, Timeout

from pyrun.faults import POINTS
from tests.conftest import Runner, write

SHARED = """\
# /// script
# dependencies = [{deps}]
# ///
import importlib.metadata as m
print(" ".join(sorted(d.metadata["Name"].lower() for d in m.distributions())))
"""


def body(*deps: str) -> str:
    return SHARED.format(deps=", ".join(f'"{d}"' for d in deps))


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


def assert_no_lock_held(cache: Path) -> None:
    for lock in (cache / "locks").glob("*.lock"):
        try:
            FileLock(str(lock), timeout=0).acquire().lock.release()
        except Timeout:  # pragma: no cover - the failure being tested for
            pytest.fail(f"{lock} is still held")


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
