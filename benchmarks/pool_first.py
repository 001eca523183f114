"""A new script whose packages are already pooled (issue 25, point 1): pyrun against
``uv run --script``, paired, as users type the commands.

Usage (from the repository root, after the README's install command)::

    python3 benchmarks/pool_first.py [--repeat 20] [--deps rich,requests]

pyrun is installed with pip into a venv of its own from the working tree, on the interpreter uv
finds by default; ``PATH`` holds that interpreter's directory and no pyenv shims, and uv is the
real binary (``uv.find_uv_bin()``), as a user without pyenv runs both. Both share one uv cache;
the scripts lie in a scratch folder outside any project. A seed script with the dependencies is
run once by each tool (pyrun's pool and uv's cache are then warm). Then each trial is a new
script (its own file, a block of its own) with the same dependencies, paired (pyrun, then uv):

1. **pooled, new environment**: pyrun's environments and fast-path index are deleted before
   its run (the pool, its stamps and the interpreter cache are kept), so pyrun resolves from
   the pool and composes a new environment; uv builds a new script environment from its cache.
2. **a built set**: the same, with pyrun's environments kept (the block is new, the set is
   the seed's: pyrun finds the environment after resolving from the pool).
3. **the index every time** (``PYRUN_POOL_FRESHNESS=0``): scenario 1 as pyrun ran it before.

A ratio is the median of the pairs' ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from uv import find_uv_bin

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(tempfile.gettempdir()) / "pyrun-bench-pool-first"
UV = str(find_uv_bin())


def default_python() -> str:
    """The interpreter uv finds by default (its real path)."""
    out = subprocess.run([UV, "python", "find", "--no-project"], capture_output=True,
                         text=True, check=True)
    return os.path.realpath(out.stdout.strip())


def environ(python: str, **extra: str) -> dict[str, str]:
    """The environment both tools run in: no pyenv on ``PATH``, the caches in :data:`WORK`."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYRUN_COMPILE")}
    path = [p for p in e.get("PATH", "").split(os.pathsep) if "pyenv" not in p]
    e.update(PATH=os.pathsep.join([os.path.dirname(python), *path]),
             PYRUN_CACHE_DIR=str(WORK / "pyrun-cache"), UV_CACHE_DIR=str(WORK / "uv-cache"),
             UV_PYTHON_DOWNLOADS="never", **extra)
    return e


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=WORK)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{out.stderr}")
    return elapsed


def settle() -> None:
    """Wait (outside the timing) for pyrun's background byte-compiler, if one runs."""
    for _ in range(400):
        busy = False
        for pid in os.listdir("/proc"):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if pid.isdigit() else b""
            except OSError:
                continue
            busy = busy or b"bytecode import main" in cmdline
        if not busy:
            return
        time.sleep(0.05)


def script(name: str, deps: list[str], trial: int) -> Path:
    listed = ", ".join(f'"{d}"' for d in deps)
    path = WORK / "scripts" / f"{name}.py"
    path.write_text(f"# /// script\n# dependencies = [{listed}]\n# # trial {trial}\n# ///\n"
                    f"import {deps[0].split('[')[0].replace('-', '_')}\nprint('ok')\n")
    return path


def forget_environments() -> None:
    cache = WORK / "pyrun-cache"
    for name in ("envs", "index"):
        shutil.rmtree(cache / name, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="pairs per scenario")
    parser.add_argument("--deps", default="rich,requests",
                        help="the scripts' dependencies, comma-separated")
    opts = parser.parse_args()
    deps = opts.deps.split(",")
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "scripts").mkdir(parents=True)
    python = default_python()
    venv = WORK / "pyrun-venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)],
                   check=True)
    pyrun = str(venv / "bin" / "pyrun")
    env = environ(python)
    seed = script("seed", deps, 0)
    timed([pyrun, str(seed)], env)
    settle()
    timed([UV, "run", "--script", str(seed)], env)

    scenarios = [("a new script whose packages are pooled (new environment)", True, {}),
                 ("a new block resolving to a built set", False, {}),
                 ("a new script whose packages are pooled, PYRUN_POOL_FRESHNESS=0", True,
                  {"PYRUN_POOL_FRESHNESS": "0"})]
    rows = []
    trial = 0
    for label, forget, extra in scenarios:
        ps, us, ratios = [], [], []
        for _ in range(opts.repeat):
            trial += 1
            if forget:
                forget_environments()
            p = timed([pyrun, str(script(f"p{trial}", deps, trial))], environ(python, **extra))
            settle()
            u = timed([UV, "run", "--script", str(script(f"u{trial}", deps, trial))], env)
            ps.append(p)
            us.append(u)
            ratios.append(p / u)
        rows.append((label, statistics.median(ps), statistics.median(us),
                     statistics.median(ratios)))

    version = subprocess.run([UV, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"Measured with `python3 benchmarks/pool_first.py --repeat {opts.repeat} --deps "
          f"{opts.deps}` ({version}, scripts on {python}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d', time.gmtime())}).\n")
    print("| scenario | pyrun | uv run --script | pyrun / uv (paired) |")
    print("| --- | ---: | ---: | ---: |")
    for label, p, u, r in rows:
        print(f"| {label} | {p * 1000:.1f} ms | {u * 1000:.1f} ms | {r:.2f} |")


if __name__ == "__main__":
    main()
