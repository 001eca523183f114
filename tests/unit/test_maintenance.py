"""Prune and clean on a cache fabricated in a temporary directory (no uv, no network): what they
must never remove (an environment a script runs in, one a ``.python-envs`` file or a live
project venv still needs, one used lately, what pyrun did not make, anything a symbolic link
leads to) and what they must remove (stale environments, the pool entries nothing uses).

The cache is written with pyrun's own writers (:mod:`pyrun.store.markers`,
:meth:`Cache.record_index`, :func:`pyrun.script.pythonenvs.append`); the environments hold only
what maintenance reads (the marker, and ``pyvenv.cfg`` as every venv has).
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from pyrun.launch import hold, release
from pyrun.script import pythonenvs
from pyrun.store import maintenance
from pyrun.store.cache import Cache, make_readonly
from pyrun.store.markers import (
    ENV_MARKER,
    EntryMarker,
    EnvMarker,
    Reference,
    env_lock,
    lock_file,
    write_entry_marker,
    write_env_marker,
    write_reference,
)

DAY = 86400.0


def entry(cache: Cache, key: str) -> Path:
    """A finished pool entry ``key``, read-only as the pool leaves it."""
    path = cache.pool / key
    (path / "site-packages" / key.split("-")[0]).mkdir(parents=True)
    (path / "site-packages" / key.split("-")[0] / "__init__.py").write_text("x = 1\n")
    name, version = key.split("-")[:2]
    write_entry_marker(path, EntryMarker(name, version, "registry", f"https://x/{key}.whl",
                                         "0" * 64))
    make_readonly(path)
    os.chmod(path, 0o555)
    return path


def environment(cache: Cache, key: str, entries: list[str], days_ago: float = 0) -> Path:
    """A finished environment ``key`` using the pool ``entries``, last used ``days_ago``."""
    path = cache.envs / key
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text(f"home = {os.path.dirname(sys.executable)}\n")
    write_env_marker(path, EnvMarker(str(path), sys.executable, "pooled", tuple(entries),
                                     key=key))
    then = time.time() - days_ago * DAY
    os.utime(path / ENV_MARKER, (then, then))
    return path


def tree(top: Path) -> dict[str, tuple[int, bytes]]:
    """``{relative path: (mode, content)}`` of everything under ``top`` (links not followed)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in (*dirnames, *filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            data = Path(p).read_bytes() if stat.S_ISREG(st.st_mode) else b""
            found[os.path.relpath(p, top)] = (stat.S_IMODE(st.st_mode), data)
    return found


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache").create()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the cache, read-only, holding a file and what looks like an
    environment's marker: what a symbolic link in the cache may lead to."""
    top = tmp_path / "outside"
    (top / "inner").mkdir(parents=True)
    (top / "inner" / "precious.txt").write_text("keep me\n")
    (top / ENV_MARKER).write_text("{}\n")
    os.chmod(top / "inner", 0o555)
    return top


def test_removes_stale_environments_and_the_entries_nothing_uses(cache: Cache) -> None:
    for key in ("a-1-x", "b-1-x", "c-1-x", "orphan-1-x"):
        entry(cache, key)
    stale = environment(cache, "stale", ["a-1-x", "b-1-x"], days_ago=60)
    fresh = environment(cache, "fresh", ["b-1-x", "c-1-x"], days_ago=1)
    cache.record_index("ab" * 32, stale, sys.executable, [str(stale)])
    cache.record_index("cd" * 32, fresh, sys.executable, [str(fresh)])

    result = maintenance.prune(cache, max_age_days=30)

    assert result.environments == [stale] and result.skipped == []
    assert sorted(result.entries) == ["a-1-x", "orphan-1-x"]
    assert sorted(os.listdir(cache.envs)) == ["fresh"]
    assert sorted(os.listdir(cache.pool)) == ["b-1-x", "c-1-x"]  # what "fresh" uses
    assert (fresh / ENV_MARKER).is_file()
    assert sorted(p.name for p in cache.index.glob("??/*")) == ["cd" * 32]  # none dangling


def test_an_environment_used_within_the_threshold_is_kept(cache: Cache) -> None:
    entry(cache, "a-1-x")
    env = environment(cache, "recent", ["a-1-x"], days_ago=29)
    assert maintenance.prune(cache, max_age_days=30).environments == []
    assert env.is_dir() and (cache.pool / "a-1-x").is_dir()
    # the same environment, judged a day later
    result = maintenance.prune(cache, max_age_days=30, now=time.time() + 2 * DAY)
    assert result.environments == [env] and result.entries == ["a-1-x"]


def test_an_environment_a_script_runs_in_is_never_removed(cache: Cache) -> None:
    """A running script holds the shared lock on its environment's marker (launch.hold), from
    before its exec until it ends; prune and clean skip it, and the entries it uses."""
    entry(cache, "a-1-x")
    env = environment(cache, "running", ["a-1-x"], days_ago=60)
    fd = hold(str(env / ENV_MARKER))
    try:
        for result in (maintenance.prune(cache, max_age_days=30), maintenance.clean(cache)):
            assert result.environments == [] and result.entries == []
            assert result.skipped == [(env, "a running script uses it")]
            assert (env / ENV_MARKER).is_file() and (cache.pool / "a-1-x").is_dir()
    finally:
        release(fd)
    assert maintenance.prune(cache, max_age_days=30).environments == [env]  # once it ended
    assert not env.exists() and not (cache.pool / "a-1-x").exists()


def test_what_a_build_holds_locked_is_never_removed(cache: Cache) -> None:
    entry(cache, "a-1-x")
    entry(cache, "orphan-1-x")
    env = environment(cache, "building", ["a-1-x"], days_ago=60)
    with FileLock(str(lock_file(cache.locks, env_lock("building")))), \
            FileLock(str(lock_file(cache.locks, "orphan-1-x"))):
        result = maintenance.prune(cache, max_age_days=30)
    assert result.environments == [] and result.entries == []
    assert sorted(result.skipped) == sorted([
        (env, "locked by a run that is building it"),
        (cache.pool / "orphan-1-x", "locked by a run that is using or building it")])
    assert env.is_dir() and sorted(os.listdir(cache.pool)) == ["a-1-x", "orphan-1-x"]


def test_an_environment_a_python_envs_file_lists_is_kept_while_it_does(
    cache: Cache, tmp_path: Path
) -> None:
    """``pyrun env x.py --record``: the project's ``.python-envs`` names the environment and
    the cache records that (refs/); an editor uses it without running pyrun."""
    project = tmp_path / "project"
    project.mkdir()
    entry(cache, "a-1-x")
    env = environment(cache, "recorded", ["a-1-x"], days_ago=60)
    assert pythonenvs.append(project, env)
    cache.record_reference(env, [], listed_in=project / pythonenvs.FILE_NAME)

    result = maintenance.prune(cache, max_age_days=30)
    assert result.environments == [] and result.entries == []
    assert result.skipped == [(env, "a .python-envs file lists it")]
    assert env.is_dir() and (cache.pool / "a-1-x").is_dir()

    assert pythonenvs.remove(project, env)  # no longer listed: an ordinary stale environment
    result = maintenance.prune(cache, max_age_days=30)
    assert result.environments == [env] and result.entries == ["a-1-x"]
    assert list(cache.refs.iterdir()) == []  # the stale record is gone too


def test_the_entries_of_a_live_project_venv_are_kept_while_it_exists(
    cache: Cache, tmp_path: Path
) -> None:
    """A project venv composed from the pool (refs/) keeps its entries, though no environment
    in the cache uses them; once the venv is deleted, they go."""
    venv = tmp_path / "project" / ".venv"
    venv.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    entry(cache, "a-1-x")
    entry(cache, "b-1-x")
    write_reference(cache.refs, Reference(venv, ("a-1-x",)))

    assert maintenance.prune(cache, max_age_days=30).entries == ["b-1-x"]
    assert maintenance.clean(cache).entries == []  # clean too leaves what the venv uses
    assert os.listdir(cache.pool) == ["a-1-x"]

    (venv / "pyvenv.cfg").unlink()
    assert maintenance.prune(cache, max_age_days=30).entries == ["a-1-x"]
    assert os.listdir(cache.pool) == [] and list(cache.refs.iterdir()) == []


def test_symbolic_links_out_of_the_cache_are_never_followed(
    cache: Cache, tmp_path: Path, outside: Path
) -> None:
    """Links planted in the cache (in place of an environment, of a pool entry, and inside
    both) to a directory outside: prune and clean remove the links, never what they lead to,
    and change no mode there."""
    before = tree(outside)
    entry(cache, "a-1-x")
    env = environment(cache, "stale", ["a-1-x"], days_ago=60)
    (env / "bin" / "escape").symlink_to(outside)
    site = cache.pool / "a-1-x" / "site-packages"
    os.chmod(site, 0o755)
    (site / "escape").symlink_to(outside, target_is_directory=True)
    os.chmod(site, 0o555)
    (cache.envs / "linked-env").symlink_to(outside, target_is_directory=True)
    (cache.pool / "linked-1-x").symlink_to(outside, target_is_directory=True)

    maintenance.prune(cache, max_age_days=30)
    assert tree(outside) == before
    assert not env.exists() and not (cache.pool / "a-1-x").exists()

    (cache.envs / "again").symlink_to(outside, target_is_directory=True)
    (cache.pool / "again-1-x").symlink_to(outside / "inner", target_is_directory=True)
    maintenance.clean(cache)
    assert tree(outside) == before
    assert [p for p in cache.envs.iterdir() if p.is_symlink()] == []  # the links, not more


def test_what_pyrun_did_not_make_is_left_alone(cache: Cache) -> None:
    (cache.root / "notes.txt").write_text("mine\n")
    (cache.root / "mine").mkdir()
    (cache.root / "mine" / "data.bin").write_bytes(b"\0\1")
    entry(cache, "a-1-x")
    environment(cache, "stale", ["a-1-x"], days_ago=60)
    maintenance.prune(cache, max_age_days=30)
    maintenance.clean(cache)
    assert (cache.root / "notes.txt").read_text() == "mine\n"
    assert (cache.root / "mine" / "data.bin").read_bytes() == b"\0\1"


def test_clean_removes_everything_pyrun_made_and_nothing_outside(
    cache: Cache, tmp_path: Path, outside: Path
) -> None:
    before = tree(outside)
    for key in ("a-1-x", "b-1-x", "orphan-1-x"):
        entry(cache, key)
    envs = [environment(cache, "fresh", ["a-1-x"]),
            environment(cache, "stale", ["a-1-x", "b-1-x"], days_ago=60)]
    for i, env in enumerate(envs):
        cache.record_index(f"{i}f" * 32, env, sys.executable, [str(env)])
    cache.interpreters.write_text("{}\n")
    (envs[0] / "bin" / "escape").symlink_to(outside)
    sibling = tmp_path / "cache-sibling"  # a name the cache's own starts
    sibling.mkdir()
    (sibling / "keep").write_text("x")

    result = maintenance.clean(cache)

    assert sorted(result.environments) == sorted(envs)
    assert sorted(result.entries) == ["a-1-x", "b-1-x", "orphan-1-x"]
    assert result.skipped == []
    assert os.listdir(cache.envs) == [] and os.listdir(cache.pool) == []
    assert list(cache.index.glob("??/*")) == [] and not cache.interpreters.exists()
    assert tree(outside) == before and (sibling / "keep").read_text() == "x"
    info = maintenance.info(cache)
    assert info.environments == () and info.entries == ()
