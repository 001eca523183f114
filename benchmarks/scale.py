"""How pyrun scales with the number of environments in its cache (issue 24, point 5): a warm run
stays constant from 1 to 10,000 environments; ``pyrun list``, ``pyrun cache info``, ``pyrun
cache prune`` and the size cap stay linear.

Usage (from the repository root, after the README's install command)::

    python3 benchmarks/scale.py [--sizes 1,10,100,1000,10000] [--repeat 20] [--out FILE]

pyrun is installed with pip into a venv of its own (as users install it). One real environment
is built for a small script (one dependency); the cache is then grown to N environments by
copying that environment under new keys, each with its own index entry and a marker whose
last use is spread over the past 20 days (a cache after months of scratch scripts: each copy
is a whole environment as pyrun wrote it, sharing the one pool entry). For each N:

* a warm run of the script (the median of ``--repeat`` runs), and ``python -c pass`` on the
  environment's interpreter as the floor;
* ``pyrun list --json``, ``pyrun cache info``, ``pyrun cache prune --unused-for 36500`` (scans
  everything, removes nothing) and ``pyrun cache prune --max-size`` with a cap above the cache's
  size (scans and sums everything, removes nothing): the median of three runs, and the time per
  environment.

The figures go to docs/performance.md ("Scale").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from uv import find_uv_bin

ROOT = Path(__file__).resolve().parent
WORK = ROOT / ".work" / "scale"
UV = str(find_uv_bin())
SCRIPT = '# /// script\n# dependencies = ["six"]\n# ///\nimport six\nprint("ok")\n'


def default_python() -> str:
    out = subprocess.run([UV, "python", "find", "--no-project"], capture_output=True,
                         text=True, check=True)
    return os.path.realpath(out.stdout.strip())


def install(python: str) -> Path:
    venv = WORK / "pyrun-venv"
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                    str(ROOT.parent)], check=True)
    return venv / "bin" / "pyrun"


def environ(python: str, cache: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items()
         if k not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYRUN_COMPILE")}
    path = [p for p in e.get("PATH", "").split(os.pathsep) if "pyenv" not in p]
    e.update(PATH=os.pathsep.join([os.path.dirname(python), *path]),
             PYRUN_CACHE_DIR=str(cache), UV_CACHE_DIR=str(WORK / "uv-cache"),
             PYRUN_CACHE_AUTO_PRUNE="0")  # the benchmark's copies must stay
    return e


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({out.returncode}):\n{out.stderr}")
    return elapsed


def grow(cache: Path, target: int) -> None:
    """Copy the cache's first environment (and its index entry) until there are ``target``."""
    envs = sorted(p for p in (cache / "envs").iterdir() if not p.name.startswith("."))
    original = envs[0]
    entry = next(p for p in (cache / "index").rglob("*") if p.is_file()
                 and p.read_text().splitlines()[0] == str(original))
    text = entry.read_text()
    now = time.time()
    for _ in range(target - len(envs)):
        key = os.urandom(16).hex()
        copy = cache / "envs" / key
        shutil.copytree(original, copy, symlinks=True)
        # the copy's files name their own directory, as pyrun writes them
        for path in copy.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_size < 65536:
                try:
                    data = path.read_text()
                except UnicodeDecodeError:
                    continue
                if str(original) in data:
                    path.write_text(data.replace(str(original), str(copy)))
        when = now - random.uniform(0, 20 * 86400)
        os.utime(copy / "pyrun-env.json", (when, when))
        index = cache / "index" / key[:2] / key
        index.parent.mkdir(mode=0o700, exist_ok=True)
        index.write_text(text.replace(str(original), str(copy)))


def median_of(argv: list[str], env: dict[str, str], repeat: int) -> float:
    return statistics.median(timed(argv, env) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,100,1000,10000")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    python = default_python()
    WORK.mkdir(parents=True, exist_ok=True)
    pyrun = str(install(python))
    cache = WORK / "cache"
    if cache.exists():
        shutil.rmtree(cache)
    script = WORK / "small.py"
    script.write_text(SCRIPT)
    env = environ(python, cache)
    timed([pyrun, str(script)], env)  # build it
    out = subprocess.run([pyrun, "python", str(script)], env=env, capture_output=True,
                         text=True, check=True)
    env_python = out.stdout.strip()
    rows = []
    for n in sizes:
        grow(cache, n)
        timed([pyrun, str(script)], env)
        warm = median_of([pyrun, str(script)], env, args.repeat)
        floor = median_of([env_python, "-c", "pass"], env, args.repeat)
        commands = {
            "list": [pyrun, "list", "--json"],
            "cache info": [pyrun, "cache", "info"],
            "prune (nothing old)": [pyrun, "cache", "prune", "--unused-for", "36500"],
            "size cap (above the size)": [pyrun, "cache", "prune", "--max-size", "1000G"],
        }
        row = {"environments": n, "warm run (ms)": warm * 1000,
               "python -c pass (ms)": floor * 1000}
        for label, argv in commands.items():
            seconds = median_of(argv, env, 3)
            row[f"{label} (ms)"] = seconds * 1000
            row[f"{label} per environment (us)"] = seconds * 1e6 / n
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "| " + " | ".join("---:" for _ in keys) + " |"]
    lines += ["| " + " | ".join(f"{r[k]:.1f}" if isinstance(r[k], float) else str(r[k])
                                for k in keys) + " |" for r in rows]
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
