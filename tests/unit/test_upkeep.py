"""The automatic upkeep (issue 24, point 1) on caches fabricated in a temporary directory: sizes
and settings as people write them, the size cap's choice (least recently used first, never
what is kept), the launcher's trigger (a day since the stamp, or a build), the detached
process it starts, and the background upkeep itself (its record, its lock, its warnings).
The same end to end, with real runs: tests/integration/test_upkeep.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyrun import launch
from pyrun.errors import ProjectFileError, UsageError
from pyrun.launch import hold, release
from pyrun.script import pythonenvs
from pyrun.store import maintenance, settings, upkeep
from pyrun.store.cache import Cache, make_readonly
from pyrun.store.markers import (
    ENV_MARKER,
    EntryMarker,
    Reference,
    write_entry_marker,
    write_reference,
)
from pyrun.store.sizes import Usage, format_size, parse_size, plan_eviction
from tests.helpers import wait_until
from tests.unit.test_maintenance import environment

DAY = 86400.0
KIB = 1024


def entry(cache: Cache, key: str, kib: int = 64) -> Path:
    """A finished, read-only pool entry ``key`` holding ``kib`` KiB of data."""
    path = cache.pool / key
    package = path / "site-packages" / key.split("-")[0]
    package.mkdir(parents=True)
    (package / "__init__.py").write_bytes(b"#" * (kib * KIB))
    name, version = key.split("-")[:2]
    write_entry_marker(path, EntryMarker(name, version, "registry", f"https://x/{key}.whl",
                                         "0" * 64))
    make_readonly(path)
    os.chmod(path, 0o555)
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cache:
    """A cache, with no setting from the caller's environment or config file."""
    for variable in settings.VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PYRUN_CONFIG_DIR", str(tmp_path / "config"))
    return Cache(tmp_path / "cache").create()


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(text)
    return path


# -- sizes and settings ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "size"), [
    ("500M", 500 * 2**20), ("2G", 2 * 2**30), ("2g", 2 * 2**30), ("1.5G", 3 * 2**29),
    ("500MB", 500 * 2**20), ("500MiB", 500 * 2**20), ("10k", 10 * 2**10), ("4096", 4096),
    (" 1T ", 2**40), ("0", None), ("none", None), ("OFF", None), ("", None),
])
def test_sizes_are_read_as_people_write_them(text: str, size: int | None) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["2X", "-1G", "G", "1e400", "nan", "1.5.2M", "5 M B"])
def test_a_size_that_is_not_one_is_refused_saying_what_is(text: str) -> None:
    with pytest.raises(ValueError, match=r"500M, 2G"):
        parse_size(text)


def test_sizes_are_shown_in_binary_units() -> None:
    assert [format_size(n) for n in (0, 1023, 1024, 3 * 2**29)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 GiB"]


def test_the_variables_win_over_the_config_file(cache: Cache, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.read() == settings.CacheSettings(
        None, 30.0, True, {"max-size": "default", "unused-for": "default",
                           "auto-prune": "default"})
    path = config(tmp_path, '[workflow]\nwsp = "builtin"\n[cache]\nmax-size = "2G"\n'
                            'unused-for = "2w"\nauto-prune = false\n')
    chosen = settings.read()
    assert (chosen.max_size, chosen.unused_for, chosen.auto_prune) == (2 * 2**30, 14.0, False)
    assert set(chosen.origin.values()) == {str(path)}
    monkeypatch.setenv("PYRUN_CACHE_MAX_SIZE", "none")
    monkeypatch.setenv("PYRUN_CACHE_UNUSED_FOR", "36h")
    monkeypatch.setenv("PYRUN_CACHE_AUTO_PRUNE", "yes")
    chosen = settings.read()
    assert (chosen.max_size, chosen.unused_for, chosen.auto_prune) == (None, 1.5, True)
    assert chosen.origin["max-size"] == "PYRUN_CACHE_MAX_SIZE"
    config(tmp_path, "[cache]\nmax-size = 1048576\nunused-for = 7\n")  # TOML numbers
    monkeypatch.delenv("PYRUN_CACHE_MAX_SIZE")
    monkeypatch.delenv("PYRUN_CACHE_UNUSED_FOR")
    assert (settings.read().max_size, settings.read().unused_for) == (2**20, 7.0)


@pytest.mark.parametrize(("variable", "value"), [
    ("PYRUN_CACHE_MAX_SIZE", "2X"), ("PYRUN_CACHE_UNUSED_FOR", "soon"),
    ("PYRUN_CACHE_UNUSED_FOR", "-3"), ("PYRUN_CACHE_AUTO_PRUNE", "maybe"),
])
def test_a_bad_variable_is_a_usage_error_naming_it(cache: Cache, monkeypatch: pytest.MonkeyPatch,
                                                   variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(UsageError, match=f"^{variable}: needs .*, not {value!r}$") as caught:
        settings.read()
    assert caught.value.exit_code == 64 and "\n" not in str(caught.value)


@pytest.mark.parametrize(("text", "message"), [
    ('[cache]\nmax-size = "lots"\n', r"\[cache\] max-size: needs a size"),
    ("[cache]\nmax-size = true\n", r"\[cache\] max-size: needs a size"),
    ('[cache]\nauto-prune = "sometimes"\n', r"\[cache\] auto-prune: needs true or false"),
    ("[cache]\nunused-for = [30]\n", r"\[cache\] unused-for: needs a period"),
    ('[cache]\nmax_size = "1G"\n', r"has no key 'max_size' \(did you mean 'max-size'\?"),
    ('cache = "big"\n', r"\[cache\] must be a table"),
    ("[cache\n", r"invalid TOML"),
])
def test_a_bad_config_file_is_a_config_error_naming_it(cache: Cache, tmp_path: Path,
                                                       text: str, message: str) -> None:
    path = config(tmp_path, text)
    with pytest.raises(ProjectFileError, match=message) as caught:
        settings.read()
    assert caught.value.exit_code == 78 and str(caught.value).startswith(f"{path}: ")


def test_a_config_file_another_user_could_have_written_is_refused(cache: Cache,
                                                                  tmp_path: Path) -> None:
    path = config(tmp_path, '[cache]\nmax-size = "1G"\n')
    os.chmod(path, 0o666)
    with pytest.raises(ProjectFileError, match="every user can write to it"):
        settings.read()
    os.chmod(path, 0o600)
    os.chmod(path.parent, 0o777)
    with pytest.raises(ProjectFileError, match="every user can write to it"):
        settings.read()


# -- what the cap evicts -----------------------------------------------------------------------


def test_an_inode_several_parts_hold_is_counted_once_and_freed_with_the_last(
        cache: Cache) -> None:
    entry(cache, "a-1-x", kib=256)
    farm = environment(cache, "farm", ["a-1-x"])  # a link farm: hardlinks into the pool
    os.link(cache.pool / "a-1-x" / "site-packages" / "a" / "__init__.py", farm / "bin" / "a.py")
    usage = Usage(cache.root)
    assert usage.total == maintenance.info(cache).size_bytes
    assert usage.parts("pool") == ["a-1-x"] and usage.parts("envs") == ["farm"]
    assert usage.drop("envs/farm") < 256 * KIB  # the data is still the pool's
    assert usage.drop("pool/a-1-x") >= 256 * KIB  # now its last holder is gone
    assert usage.drop("pool/a-1-x") == 0


def test_the_cap_evicts_the_least_recently_used_first_and_never_what_is_kept(
        cache: Cache) -> None:
    entry(cache, "shared-1-x")
    entry(cache, "orphan-1-x")  # no environment uses it: it goes first
    envs = {}
    for i in range(5):
        entry(cache, f"own{i}-1-x", kib=128)
        envs[i] = environment(cache, f"e{i}", ["shared-1-x", f"own{i}-1-x"], days_ago=5 - i)
    usage = Usage(cache.root)
    whole, orphan = usage.total, usage.drop("pool/orphan-1-x")
    one = usage.drop("envs/e1") + usage.drop("pool/own1-1-x")  # what each environment frees
    cap = whole - orphan - 2 * one - 1  # the orphan and two are not enough: three go
    result = maintenance.PruneResult()
    size = upkeep.shrink(cache, cap, keep=[envs[0]], result=result)  # e0: the oldest, about to run
    assert size <= cap
    assert sorted(p.name for p in result.environments) == ["e1", "e2", "e3"]
    assert sorted(result.entries) == ["orphan-1-x", "own1-1-x", "own2-1-x", "own3-1-x"]
    assert sorted(os.listdir(cache.envs)) == ["e0", "e4"]
    assert sorted(os.listdir(cache.pool)) == ["own0-1-x", "own4-1-x", "shared-1-x"]
    assert upkeep.shrink(cache, cap) == size  # it fits: nothing more goes


def test_the_plan_never_frees_what_a_reference_or_a_protected_environment_uses(
        cache: Cache) -> None:
    for key in ("a-1-x", "b-1-x", "c-1-x"):
        entry(cache, key)
    old = environment(cache, "old", ["a-1-x"], days_ago=3)
    mid = environment(cache, "mid", ["b-1-x"], days_ago=2)
    usage = Usage(cache.root)
    plan = plan_eviction(usage, [(old, time.time() - 3 * DAY, ["a-1-x"]),
                                 (mid, time.time() - 2 * DAY, ["b-1-x"])],
                         outside=["c-1-x"], protected=[old], max_bytes=0)
    assert plan == [mid]
    assert usage.parts("pool") == ["a-1-x", "c-1-x"]  # kept by "old" and by the reference


def test_the_cap_honours_running_scripts_and_every_live_reference(
        cache: Cache, tmp_path: Path) -> None:
    """A running script's environment, one a .python-envs file lists, one an installed
    command needs (a reference whose holder is the command's file), and a project venv's
    entries: none goes, however far over the cap; the command's once its file is gone."""
    for key in ("run-1-x", "listed-1-x", "cmd-1-x", "venv-1-x", "free-1-x"):
        entry(cache, key)
    running = environment(cache, "running", ["run-1-x"], days_ago=90)
    listed = environment(cache, "listed", ["listed-1-x"], days_ago=90)
    needed = environment(cache, "needed", ["cmd-1-x"], days_ago=90)
    free = environment(cache, "free", ["free-1-x"], days_ago=1)
    project = tmp_path / "project"
    project.mkdir()
    assert pythonenvs.append(project, listed)
    cache.record_reference(listed, [], listed_in=project / pythonenvs.FILE_NAME)
    command = tmp_path / "bin" / "report"
    command.parent.mkdir()
    command.write_text("#!/bin/sh\n")
    write_reference(cache.refs, Reference(needed, (), command))
    venv = project / ".venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    write_reference(cache.refs, Reference(venv, ("venv-1-x",)))

    fd = hold(str(running / ENV_MARKER))
    try:
        result = maintenance.PruneResult()
        upkeep.shrink(cache, 1, result=result)
        assert result.environments == [free] and result.entries == ["free-1-x"]
        assert sorted(os.listdir(cache.envs)) == ["listed", "needed", "running"]
        assert sorted(os.listdir(cache.pool)) == ["cmd-1-x", "listed-1-x", "run-1-x",
                                                  "venv-1-x"]
        command.unlink()  # pyrun uninstall: the reference's holder is gone
        result = maintenance.PruneResult()
        upkeep.shrink(cache, 1, result=result)
        assert result.environments == [needed] and result.entries == ["cmd-1-x"]
    finally:
        release(fd)


def test_prune_keeps_an_environment_each_of_its_commands_needs(cache: Cache,
                                                               tmp_path: Path) -> None:
    """Two commands (or a command and a .python-envs file) needing one environment hold it
    each on their own: uninstalling one leaves it to the other."""
    entry(cache, "a-1-x")
    env = environment(cache, "shared", ["a-1-x"], days_ago=60)
    first, second = tmp_path / "first", tmp_path / "second"
    for command in (first, second):
        command.write_text("#!/bin/sh\n")
        write_reference(cache.refs, Reference(env, (), command))
    assert len(os.listdir(cache.refs)) == 2
    result = maintenance.prune(cache, max_age_days=30)
    assert result.environments == [] and result.skipped == [(env, f"{first} needs it")]
    first.unlink()
    assert maintenance.prune(cache, max_age_days=30).environments == []
    assert len(os.listdir(cache.refs)) == 1  # the first command's record is dropped
    second.unlink()
    assert maintenance.prune(cache, max_age_days=30).environments == [env]
    assert os.listdir(cache.refs) == []


# -- the launcher's trigger --------------------------------------------------------------------


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """What :func:`pyrun.launch.upkeep` starts (the command lines), started for real by no
    one."""
    found: list[list[str]] = []
    monkeypatch.setattr(launch, "_detach", found.append)
    return found


def test_the_daily_upkeep_starts_once_a_day_from_the_stamp(
        cache: Cache, started: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(cache, "e", [])
    stamp = cache.root / launch.UPKEEP_STAMP
    now = time.time()
    launch.upkeep(str(env), now, built=False)  # a cache's first run: the stamp, no upkeep
    assert stamp.is_file() and started == []
    launch.upkeep(str(env), now + DAY - 60, built=False)
    assert started == []
    launch.upkeep(str(env), now + DAY + 60, built=False)  # a day later
    (argv,) = started
    assert argv[:2] == [sys.executable, "-c"] and "from pyrun.store.upkeep import main" in argv[2]
    assert argv[2].startswith(f"import os, sys; os.chdir({str(cache.root)!r}); os.nice(10); ")
    assert argv[3:] == [f"--after={os.getpid()}", "--keep=e", "--daily", str(cache.root)]
    assert abs(stamp.stat().st_mtime - time.time()) < 60  # claimed: the day's other runs
    launch.upkeep(str(env), time.time() + 60, built=False)  # start none
    assert len(started) == 1
    os.utime(stamp, (now - 2 * DAY, now - 2 * DAY))
    monkeypatch.setenv("PYRUN_CACHE_AUTO_PRUNE", "0")  # turned off
    launch.upkeep(str(env), now, built=False)
    assert len(started) == 1 and stamp.stat().st_mtime == now - 2 * DAY
    monkeypatch.setenv("PYRUN_CACHE_AUTO_PRUNE", "false")
    launch.upkeep(str(env), now - 4 * DAY, built=False)  # the clock went back: due too
    assert len(started) == 1
    monkeypatch.delenv("PYRUN_CACHE_AUTO_PRUNE")
    launch.upkeep(str(env), now - 4 * DAY, built=False)
    assert len(started) == 2


def test_a_build_starts_the_size_cap_unless_it_is_off(
        cache: Cache, started: list[list[str]], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    env = environment(cache, "new", [])
    now = time.time()
    monkeypatch.setenv("PYRUN_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("PYRUN_CACHE_MAX_SIZE", raising=False)
    launch.upkeep(str(env), now, built=False)  # the stamp
    launch.upkeep(str(env), now, built=False)  # a warm run: no build, nothing
    assert started == []
    launch.upkeep(str(env), now, built=True)  # no cap can be set: no config file, no variable
    assert started == []
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text("[cache]\n")  # the upkeep reads it
    launch.upkeep(str(env), now, built=True)
    assert [a[3:] for a in started] == [[f"--after={os.getpid()}", "--keep=new",
                                         str(cache.root)]]
    launch.upkeep(str(env), now + launch.BUILT_WITHIN + 1, built=True)  # placed long ago
    assert len(started) == 1
    monkeypatch.setenv("PYRUN_CACHE_MAX_SIZE", "none")
    launch.upkeep(str(env), now, built=True)
    assert len(started) == 1
    monkeypatch.setenv("PYRUN_CACHE_MAX_SIZE", "1G")  # or the config file's: the upkeep reads it
    launch.upkeep(str(env), now, built=True)
    assert len(started) == 2


def test_no_upkeep_for_an_environment_outside_a_cache(tmp_path: Path,
                                                    started: list[list[str]]) -> None:
    venv = tmp_path / "project" / ".venv"  # a project venv: the WSP server's, say
    venv.mkdir(parents=True)
    launch.upkeep(str(venv), time.time(), built=True)
    assert started == [] and not (tmp_path / "project" / launch.UPKEEP_STAMP).exists()


#: Arguments a shell would read as code, or split.
WORDS = ["$(touch PWNED)", "a b", "*", ";touch PWNED", "`touch PWNED`", "'\"", "\n", ""]


def test_the_upkeep_process_is_detached_from_the_run(tmp_path: Path) -> None:
    """A grandchild that init adopts: nothing for the script's process to reap, another
    session (no terminal, no Ctrl-C of the script's), /dev/null for stdio and no descriptor
    of the run's (the script's lock, a pipe a caller waits on); its arguments reach it as
    they are, never read by the shell that starts it."""
    report = tmp_path / "report"
    child = (
        "import os, sys\n"
        f"report = {str(report)!r}\n"
        "fds = sorted(int(f) for f in os.listdir('/proc/self/fd'))\n"
        "targets = [os.readlink(f'/proc/self/fd/{f}') for f in (0, 1, 2)]\n"
        "line = repr((os.getppid(), os.getsid(0), os.nice(0), fds, targets, os.getcwd(),\n"
        "             sys.argv[1:]))\n"
        "with open(report + '.tmp', 'w') as f:\n"
        "    f.write(line)\n"
        "os.rename(report + '.tmp', report)\n"
    )
    parent = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(launch.__file__).parents[1])!r})\n"
        "from pyrun import launch\n"
        "r, w = os.pipe()\n"
        "os.set_inheritable(w, True)\n"
        f"launch._detach([sys.executable, '-c', {child!r}, *{WORDS!r}])\n"
        "try:\n"
        "    os.waitpid(-1, os.WNOHANG)\n"
        "    print('a child is left to reap')\n"
        "except ChildProcessError:\n"
        "    print('nothing to reap', os.getpid(), os.getsid(0), os.nice(0))\n"
    )
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True,
                         timeout=60, check=True, cwd=tmp_path)
    words = out.stdout.split()
    assert words[:3] == ["nothing", "to", "reap"], out.stdout + out.stderr
    pid, sid, nice = map(int, words[3:])
    wait_until(report.exists, "the detached process's report")
    ppid, child_sid, child_nice, fds, targets, cwd, words = eval(report.read_text())  # noqa: S307
    assert words == WORDS and not (tmp_path / "PWNED").exists()
    assert ppid != pid and child_sid not in (sid, pid) and child_nice == nice
    assert targets == ["/dev/null"] * 3 and fds[:3] == [0, 1, 2] and len(fds) <= 4
    assert cwd == str(tmp_path)  # the upkeep's own code moves to the cache


# -- the background upkeep ---------------------------------------------------------------------


def test_the_daily_upkeep_prunes_and_records_it_once(cache: Cache) -> None:
    entry(cache, "old-1-x")
    old = environment(cache, "old", ["old-1-x"], days_ago=40)
    fresh = environment(cache, "fresh", [], days_ago=1)
    asked = time.time()
    record = upkeep.upkeep(cache, daily=True, keep=[fresh], asked=asked)
    assert not old.exists() and fresh.exists() and os.listdir(cache.pool) == []
    assert record == upkeep.last(cache)
    assert record["removed_environments"] == 1 and record["removed_entries"] == 1
    assert record["pruned"] >= asked and record["max_size"] is None and record["warnings"] == []
    again = environment(cache, "old", [], days_ago=40)
    record = upkeep.upkeep(cache, daily=True, asked=asked)  # asked before that prune started
    assert again.exists() and record["removed_environments"] == 0
    assert upkeep.upkeep(cache, daily=True)["removed_environments"] == 1  # asked now


def test_the_threshold_and_the_switch_come_from_the_settings(cache: Cache, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             ) -> None:
    env = environment(cache, "weekold", [], days_ago=8)
    config(tmp_path, "[cache]\nunused-for = \"2w\"\n")
    upkeep.upkeep(cache, daily=True)
    assert env.exists()
    monkeypatch.setenv("PYRUN_CACHE_UNUSED_FOR", "7d")
    config(tmp_path, "[cache]\nauto-prune = false\n")
    assert upkeep.upkeep(cache, daily=True) == {} and env.exists()  # off: nothing at all
    config(tmp_path, '[cache]\nauto-prune = false\nmax-size = "1K"\n')
    upkeep.upkeep(cache, daily=True)  # the cap still applies
    assert not env.exists() and upkeep.last(cache)["size_bytes"] > 1024


def test_a_setting_the_background_cannot_read_is_recorded_and_nothing_done(
        cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(cache, "old", [], days_ago=90)
    monkeypatch.setenv("PYRUN_CACHE_MAX_SIZE", "2X")
    assert upkeep.main(["--daily", str(cache.root)]) == 1
    assert env.exists()
    (warning,) = upkeep.last(cache)["warnings"]
    assert warning.startswith("PYRUN_CACHE_MAX_SIZE: needs a size") and "'2X'" in warning


def test_a_killed_upkeep_leaves_nothing_trusted(cache: Cache) -> None:
    """Its half-written record (a temporary file beside it) is removed by the next upkeep,
    which holds the lock only upkeeps take; a damaged record reads as none."""
    dead = cache.root / ".tmp-12-0a0b0c0d-upkeep.json"
    dead.write_text('{"started": ')
    (cache.root / upkeep.RECORD).write_text('{"finished": ')
    assert upkeep.last(cache) is None
    upkeep.upkeep(cache, daily=True)
    assert not dead.exists() and upkeep.last(cache) is not None


def test_the_upkeep_never_runs_on_a_cache_it_may_not_trust(cache: Cache) -> None:
    env = environment(cache, "old", [], days_ago=90)
    os.chmod(cache.root, 0o777)
    try:
        assert upkeep.main(["--daily", str(cache.root)]) == 1
    finally:
        os.chmod(cache.root, 0o700)
    assert env.exists() and upkeep.last(cache) is None


@pytest.mark.parametrize("variables", [{}, {"XDG_CONFIG_HOME": "/tmp/xdg"},
                                       {"PYRUN_CONFIG_DIR": "~/elsewhere"}])
def test_the_run_looks_for_the_config_file_where_pyrun_reads_it(
        monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    """The run decides whether a size cap could be set without platformdirs; the file it
    looks at is the one the settings are read from."""
    from pyrun import launch
    from pyrun.script.userconfig import config_file

    for name in ("PYRUN_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert launch.config_file() == str(config_file())


def test_the_pool_path_of_the_config_file(tmp_path: Path) -> None:
    """``[cache] pool-path``: a list, or one string separated as PYRUN_POOL_PATH is; a config
    file without it has none (a bad value is the file's error)."""
    from pyrun.errors import ProjectFileError
    from pyrun.store.settings import pool_path

    config = tmp_path / "config.toml"
    config.write_text("[cache]\nmax-size = \"1G\"\n")
    assert pool_path(config) == ()
    config.write_text('[cache]\npool-path = ["/a", "/b"]\n')
    assert pool_path(config) == ("/a", "/b")
    config.write_text(f'[cache]\npool-path = "/a{os.pathsep}/b"\n')
    assert pool_path(config) == ("/a", "/b")
    config.write_text("[cache]\npool-path = 3\n")
    with pytest.raises(ProjectFileError, match="pool-path"):
        pool_path(config)
