"""A bounded stress test: runs, builds, background compilers, prune and clean, and kills by
SIGKILL, SIGINT and SIGTERM, all at once against one cache. Every run that was not killed
must succeed, and the test fails unless kills demonstrably landed during builds."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.helpers import Runner, assert_no_lock_held, body, cmdline, write

#: Seconds the storm lasts (bounded: the whole test takes about twice this).
STORM_SECONDS = 25.0

SCRIPTS = {
    "a.py": ("six",),
    "b.py": ("idna",),
    "c.py": ("six", "idna"),
    "d.py": ("pygments",),  # hundreds of modules: a long background compile to land kills in
}


def test_storm(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    scripts = {name: write(tmp_path / name, body(*deps)) for name, deps in SCRIPTS.items()}
    expected = {name: sorted(deps) for name, deps in SCRIPTS.items()}
    environ = pyrun.env(PYRUN_CACHE_DIR=str(cache), PYRUN_COMPILE="background")
    failures: list[str] = []
    counts = {"runs": 0, "killed": 0, "killed_in_build": 0, "compilers_killed": 0,
              "maintenance": 0}
    lock = threading.Lock()
    stop = time.monotonic() + STORM_SECONDS
    rng = random.Random(1723)

    def run(name: str, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "pyrun", *args, str(scripts[name])], env=environ,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def runner(seed: int) -> None:
        r = random.Random(seed)
        while time.monotonic() < stop:
            name = r.choice(list(scripts))
            proc = run(name, *(["-U"] if r.random() < 0.2 else []))
            out, err = proc.communicate(timeout=300)
            with lock:
                counts["runs"] += 1
                if proc.returncode != 0 or sorted(out.split()) != expected[name]:
                    failures.append(f"{name}: exit {proc.returncode}: {out.strip()[:300]!r} "
                                    f"{err.strip()[-600:]}")

    def killer() -> None:
        while time.monotonic() < stop:
            name = rng.choice(list(scripts))
            proc = run(name, "-U")
            time.sleep(rng.uniform(0.02, 1.2))
            in_build = b"pyrun" in cmdline(proc.pid)  # not yet exec'd into the script
            sig = rng.choice([signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                in_build = False
            proc.communicate(timeout=300)
            with lock:
                counts["killed"] += 1
                counts["killed_in_build"] += int(in_build and proc.returncode != 0)
            for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
                if b"pyrun.engine.bytecode" in cmdline(pid) and str(cache).encode() in cmdline(pid):
                    if rng.random() < 0.5:
                        try:
                            os.kill(pid, signal.SIGKILL)
                            with lock:
                                counts["compilers_killed"] += 1
                        except ProcessLookupError:
                            pass

    def maintenance() -> None:
        while time.monotonic() < stop:
            command = rng.choice([["clean"], ["prune", "--unused-for", "0"]])
            out = subprocess.run([sys.executable, "-m", "pyrun", "cache", *command],
                                 env=environ, capture_output=True, text=True, timeout=300)
            with lock:
                counts["maintenance"] += 1
                if out.returncode != 0:
                    failures.append(f"cache {command[0]}: exit {out.returncode}: {out.stderr}")
            time.sleep(rng.uniform(0.0, 0.5))

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(3)]
    threads += [threading.Thread(target=killer), threading.Thread(target=maintenance)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=STORM_SECONDS + 600)
    print(counts)
    assert failures == [], f"{len(failures)} of {counts['runs']} runs failed: {failures[:3]}"
    assert counts["killed_in_build"] > 0, counts  # the kills did land during builds
    assert counts["runs"] > 10 and counts["maintenance"] > 3, counts
    for name in scripts:  # afterwards every script runs, and nothing is left over
        final = subprocess.run([sys.executable, "-m", "pyrun", str(scripts[name])], env=environ,
                               capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
        assert sorted(final.stdout.split()) == expected[name], final.stderr
    # the background compilers those runs started hold their entries' locks until they end:
    # wait for them to end (a fixed sleep was too short on a loaded machine)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and any(
            b"pyrun.engine.bytecode" in cmdline(pid) and str(cache).encode() in cmdline(pid)
            for pid in (int(p) for p in os.listdir("/proc") if p.isdigit())):
        time.sleep(0.05)
    for d in ("pool", "envs"):
        dead = [p for p in (cache / d).glob(".tmp-*")
                if not os.path.exists(f"/proc/{p.name.split('-')[1]}")]
        assert dead == [], dead
    assert_no_lock_held(cache)
