"""The automatic upkeep (issue 24, point 1) with real runs, real packages from a loopback index
and the real background process: the size cap after builds, the daily prune a day later, what
both never remove (the environment about to run, one a running script uses, one an installed
command needs), the switches, a setting the background cannot read, and a background process
that holds nothing of the run's. The clock is faked by setting mtimes back (the stamp's, an
environment's files'). Unit tests on fabricated caches: tests/unit/test_upkeep.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pyrun.launch import UPKEEP_STAMP
from pyrun.store import upkeep
from pyrun.store.cache import Cache
from pyrun.store.markers import Reference, write_reference
from pyrun.store.sizes import Usage
from tests.helpers import Runner, wait_for_line, wait_until, write
from tests.loopback import serve_index, wheel

DAY = 86400.0

#: What the background upkeep's command line holds.
UPKEEP = b"from pyrun.store.upkeep import main"


def job(tmp_path: Path, url: str, name: str, *, until: Path | None = None) -> Path:
    """A script needing the loopback index's ``name``; with ``until``, it says ``started``
    and waits for that file to exist before it ends."""
    wait = "" if until is None else (
        "import pathlib, time\nprint('started', flush=True)\n"
        "limit = time.monotonic() + 120  # in case the test fails before it says go\n"
        f"while not pathlib.Path({str(until)!r}).exists() and time.monotonic() < limit:\n"
        "    time.sleep(0.02)\n")
    return write(tmp_path / f"run_{name}.py", f'''# /// script
# dependencies = ["{name}"]
# [tool.uv]
# index-url = "{url}"
# ///
{wait}import {name}
print("ran", {name}.__name__)
''')


def settings(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The process environment's settings for these runs: a cache of the test's own and a
    config directory without a config file (the user's own is never read)."""
    config = tmp_path / "config"
    config.mkdir(mode=0o700, exist_ok=True)
    return {"PYRUN_CACHE_DIR": str(tmp_path / "cache"), "PYRUN_CONFIG_DIR": str(config),
            **extra}


def environment_of(pyrun: Runner, script: Path, **env: str) -> Path:
    """The environment a warm run of ``script`` uses (its ``-v`` line)."""
    out = pyrun("-v", str(script), **env)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stderr.splitlines() if x.startswith("pyrun: warm: "))
    return Path(line.split(": ", 2)[2].split(" (")[0]).parent.parent


def age(top: Path, days: float) -> None:
    """Set every file and directory under ``top`` ``days`` back."""
    then = time.time() - days * DAY
    for dirpath, dirnames, filenames in os.walk(top):
        for name in (*dirnames, *filenames):
            os.utime(os.path.join(dirpath, name), (then, then), follow_symlinks=False)
    os.utime(top, (then, then))


def upkeeps(cache: Path) -> list[int]:
    """The pids of the background upkeeps running for ``cache``."""
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv[0] != b"/bin/sh" and any(UPKEEP in a for a in argv) and \
                os.fsencode(str(cache)) in argv:  # the upkeep itself, not the sh starting it
            found.append(int(pid))
    return found


def niceness(pid: int) -> int | None:
    """The nice value of process ``pid`` (None once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
    except OSError:
        return None


def upkept(cache: Path, since: float, what: str = "pruned") -> bool:
    """Whether an upkeep that started after ``since`` has done ``what`` (``pruned``,
    ``sized``) and finished, and none runs now."""
    record = upkeep.last(Cache(cache)) or {}
    done = record.get(what)
    return isinstance(done, float) and done >= since and not upkeeps(cache) and \
        record.get("finished", 0) >= done


def test_a_cap_far_below_ten_scripts_keeps_the_cache_within_it(pyrun: Runner,
                                                              tmp_path: Path) -> None:
    """Ten scripts, each with a distribution of 256 KiB, under a cap that holds about two of
    them: all ten run, and once the last one's upkeep is done the cache fits, holding the
    newest environment."""
    names = [f"capped{i}" for i in range(10)]
    projects = {n: [wheel(n, "1.0", files={f"{n}_data.py": b"#" * 256 * 1024})] for n in names}
    cache = tmp_path / "cache"
    with serve_index(projects) as url:
        scripts = [job(tmp_path, url, n) for n in names]
        first = pyrun(str(scripts[0]), **settings(tmp_path))
        assert first.returncode == 0, first.stderr
        cap = 2 * Usage(cache).total + 256 * 1024  # one script's worth: ten need about ten
        env = settings(tmp_path, PYRUN_CACHE_MAX_SIZE=str(cap))
        for script, name in zip(scripts[1:], names[1:]):
            since = time.time()
            out = pyrun(str(script), **env)
            assert out.returncode == 0 and out.stdout == f"ran {name}\n", out.stderr
    wait_until(lambda: upkept(cache, since, "sized"), "the last run's size cap")
    assert Usage(cache).total <= cap
    newest = environment_of(pyrun, scripts[-1], **env)  # warm: it was kept
    assert newest.is_dir() and len(os.listdir(cache / "envs")) < 5
    record = upkeep.last(Cache(cache)) or {}
    assert record["max_size"] == cap and record["size_bytes"] <= cap


def test_a_run_a_day_later_prunes_the_old_and_keeps_what_is_needed(pyrun: Runner,
                                                                   tmp_path: Path) -> None:
    """Environments whose files are 40 days old: an ordinary run of another script, a day
    after the last upkeep, removes the one nothing needs, and keeps the one a running script
    uses and the one an installed command needs (a reference held by the command's file);
    once the command is gone, the next day's upkeep takes its environment too."""
    go = tmp_path / "go"
    env = settings(tmp_path)
    cache = tmp_path / "cache"
    with serve_index({n: [wheel(n, "1.0")] for n in ("old", "busy", "tool", "other")}) as url:
        old, tool, other = (job(tmp_path, url, n) for n in ("old", "tool", "other"))
        busy = job(tmp_path, url, "busy", until=go)
        for script in (old, tool, other):
            assert pyrun(str(script), **env).returncode == 0
        running = subprocess.Popen([sys.executable, "-m", "pyrun", str(busy)], text=True,
                                   stdout=subprocess.PIPE, env=pyrun.env(**env))
        assert running.stdout is not None
        wait_for_line(running.stdout, "started")  # it runs in its environment now
    try:
        env_old, env_tool, env_other = (environment_of(pyrun, s, **env)
                                        for s in (old, tool, other))
        (env_busy,) = [p for p in (cache / "envs").iterdir()
                       if p not in (env_old, env_tool, env_other) and not p.name.startswith(".")]
        command = tmp_path / "bin" / "tool"  # what pyrun install writes, and its reference
        command.parent.mkdir()
        command.write_text(f"#!/bin/sh\nexec pyrun {tool}\n")
        write_reference(cache / "refs", Reference(env_tool, (), command))
        for env_dir in (env_old, env_busy, env_tool):
            age(env_dir, 40)
        stamp = cache / UPKEEP_STAMP
        os.utime(stamp, (time.time() - 2 * DAY,) * 2)  # the last upkeep: two days ago

        since = time.time()
        out = pyrun(str(other), **env)
        assert out.returncode == 0 and out.stdout == "ran other\n", out.stderr
        wait_until(lambda: upkept(cache, since), "the daily upkeep")
        assert not env_old.exists()
        assert env_busy.is_dir() and env_tool.is_dir() and env_other.is_dir()
        assert stamp.stat().st_mtime >= since - 1
        record = upkeep.last(Cache(cache)) or {}
        assert record["removed_environments"] == 1 and record["warnings"] == []
        assert any(line.startswith(f"{env_busy}: ") for line in record["skipped"])
    finally:
        go.touch()
        assert running.communicate(timeout=120)[0].endswith("ran busy\n")

    command.unlink()  # pyrun uninstall
    os.utime(stamp, (time.time() - 2 * DAY,) * 2)
    since = time.time()
    assert pyrun(str(other), **env).returncode == 0
    wait_until(lambda: upkept(cache, since), "the next day's upkeep")
    assert not env_tool.exists() and not env_busy.exists() and env_other.is_dir()
    assert list((cache / "refs").iterdir()) == []


def test_both_can_be_turned_off(pyrun: Runner, tmp_path: Path) -> None:
    """``PYRUN_CACHE_AUTO_PRUNE=0``: no run starts an upkeep (the stamp stays as it was);
    ``auto-prune = false`` in the config file: the upkeep starts and prunes nothing;
    ``PYRUN_CACHE_MAX_SIZE=none`` overrides a cap in the file."""
    env = settings(tmp_path)
    cache = tmp_path / "cache"
    with serve_index({n: [wheel(n, "1.0")] for n in ("kept", "runner", "more")}) as url:
        kept, runner, more = (job(tmp_path, url, n) for n in ("kept", "runner", "more"))
        assert pyrun(str(kept), **env).returncode == 0
        assert pyrun(str(runner), **env).returncode == 0
        env_kept = environment_of(pyrun, kept, **env)
        age(env_kept, 40)
        stamp = cache / UPKEEP_STAMP
        then = time.time() - 2 * DAY
        os.utime(stamp, (then, then))
        assert pyrun(str(runner), **env, PYRUN_CACHE_AUTO_PRUNE="0").returncode == 0
        assert stamp.stat().st_mtime == then and upkeep.last(Cache(cache)) is None

        (tmp_path / "config" / "config.toml").write_text(
            '[cache]\nauto-prune = false\nmax-size = "1K"\n')
        assert pyrun(str(runner), **env, PYRUN_CACHE_MAX_SIZE="none").returncode == 0
        assert stamp.stat().st_mtime > then  # started, and found nothing to do
        wait_until(lambda: not upkeeps(cache), "the upkeep's end")
        assert env_kept.is_dir() and upkeep.last(Cache(cache)) is None
        since = time.time()
        assert pyrun(str(more), **env).returncode == 0  # a build: the file's cap applies
    wait_until(lambda: upkept(cache, since, "sized"), "the size cap")
    assert not env_kept.exists() and environment_of(pyrun, more, **env).is_dir()


def test_a_setting_the_background_cannot_read_never_fails_the_script(pyrun: Runner,
                                                                      tmp_path: Path) -> None:
    """The script runs; the upkeep records a warning and does nothing; ``pyrun cache info``
    shows the warning, and refuses the value itself (one line naming the variable, exit 64);
    a bad config file is exit 78, naming it."""
    env = settings(tmp_path, PYRUN_CACHE_MAX_SIZE="lots")
    cache = tmp_path / "cache"
    with serve_index({"pkg": [wheel("pkg", "1.0")]}) as url:
        out = pyrun(str(job(tmp_path, url, "pkg")), **env)
    assert out.returncode == 0 and out.stdout == "ran pkg\n" and out.stderr == ""
    wait_until(lambda: bool((upkeep.last(Cache(cache)) or {}).get("warnings")),
               "the upkeep's warning")
    info = pyrun("cache", "info", **env)  # the value itself: an error, one line
    assert info.returncode == 64 and info.stderr.count("\n") == 1, info.stderr
    assert info.stderr.startswith("pyrun: error: PYRUN_CACHE_MAX_SIZE: needs a size")
    info = pyrun("cache", "info", **settings(tmp_path))  # fixed: what the upkeep met
    assert info.returncode == 0, info.stderr
    assert info.stderr == ("pyrun: warning: the last background upkeep did nothing: "
                           "PYRUN_CACHE_MAX_SIZE: needs a size: a number of bytes, or with K, M, "
                           "G or T (500M, 2G), or none, not 'lots'\n")
    (tmp_path / "config" / "config.toml").write_text("[cache]\nunused-for = \"a while\"\n")
    bad = pyrun("cache", "prune", **settings(tmp_path))
    assert bad.returncode == 78 and "config.toml: [cache] unused-for: needs a period" in bad.stderr


def test_the_upkeep_holds_nothing_of_the_run(pyrun: Runner, tmp_path: Path) -> None:
    """While the script runs, its upkeep waits for it in a session of its own, adopted by
    init (never a child of the script's process, so never a zombie there), with /dev/null for
    stdio: not the pipe a caller reads the script's output from, nor the script's lock."""
    go = tmp_path / "go"
    env = settings(tmp_path)
    cache = tmp_path / "cache"
    with serve_index({"slow": [wheel("slow", "1.0")]}) as url:
        script = job(tmp_path, url, "slow", until=go)
        go.touch()
        assert pyrun(str(script), **env).returncode == 0
    go.unlink()
    os.utime(cache / UPKEEP_STAMP, (time.time() - 2 * DAY,) * 2)
    proc = subprocess.Popen([sys.executable, "-m", "pyrun", str(script)], text=True,
                            stdout=subprocess.PIPE, env=pyrun.env(**env))
    try:
        assert proc.stdout is not None
        wait_for_line(proc.stdout, "started")
        wait_until(lambda: any(niceness(p) == min(os.nice(0) + 10, 19) for p in upkeeps(cache)),
                   "the upkeep, at low priority, waiting for the script")
        (worker,) = upkeeps(cache)
        status = Path(f"/proc/{worker}/status").read_text().splitlines()
        (ppid,) = [int(line.split()[1]) for line in status if line.startswith("PPid:")]
        assert ppid != proc.pid
        assert os.getsid(worker) not in (os.getsid(proc.pid), os.getsid(0))
        fds = {int(fd): os.readlink(f"/proc/{worker}/fd/{fd}")
               for fd in os.listdir(f"/proc/{worker}/fd")}
        assert [fds[fd] for fd in (0, 1, 2)] == ["/dev/null"] * 3
        assert not any("pipe:" in t or t.endswith("pyrun-env.json") for t in fds.values())
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert children == []  # nothing for the script to reap, ever
    finally:
        go.touch()
        out, _ = proc.communicate(timeout=120)
    assert out.endswith("ran slow\n") and proc.returncode == 0
    wait_until(lambda: upkept(cache, 0), "the upkeep after the script")


def test_prune_and_info_show_and_apply_the_cap(pyrun: Runner, tmp_path: Path) -> None:
    env = settings(tmp_path)
    cache = tmp_path / "cache"
    with serve_index({n: [wheel(n, "1.0", files={f"{n}_data.py": b"#" * 128 * 1024})]
                      for n in ("first", "second")}) as url:
        first, second = job(tmp_path, url, "first"), job(tmp_path, url, "second")
        assert pyrun(str(first), **env).returncode == 0
        assert pyrun(str(second), **env).returncode == 0
    env_first, env_second = (environment_of(pyrun, s, **env) for s in (first, second))
    os.utime(env_first / "pyrun-env.json", (time.time() - 60,) * 2)  # the older one
    (tmp_path / "config" / "config.toml").write_text('[cache]\nmax-size = "2G"\n')
    info = pyrun("cache", "info", **env)
    assert info.returncode == 0, info.stderr
    assert "size cap: 2.0 GiB (from " in info.stdout and "last upkeep: none yet" in info.stdout
    cap = Usage(cache).total - 64 * 1024
    out = pyrun("cache", "prune", "--max-size", str(cap), **env)
    assert out.returncode == 0, out.stderr
    assert "removed 1 environment(s) and 1 pool entry" in out.stdout
    assert "the cache takes " in out.stdout
    assert not env_first.exists() and env_second.is_dir() and Usage(cache).total <= cap
    bad = pyrun("cache", "prune", "--max-size", "huge", **env)
    assert bad.returncode == 64 and "argument --max-size: needs a size" in bad.stderr
