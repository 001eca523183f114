"""``pyrun wsp serve``: time to answer ``environment/list`` for a project with 20 environments.

Usage (from the repository root, after the README's install command)::

    python3 benchmarks/wsp_list.py [--requests 300] [--envs 20]

Builds a project in ``benchmarks/.work/wsp-project`` with a ``.venv`` and 19 more venvs
listed in ``.python-envs`` (all made by the standard library's ``venv``), starts one real
``pyrun wsp serve`` process, times ``initialize`` (start-up included), then sends
``environment/list`` requests one at a time over the real pipe and reports the median, 95th
percentile and worst round trip. The target is under 50 ms per request after start-up.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pyrun.wsp.client import Client

WORK = Path(__file__).resolve().parent / ".work" / "wsp-project"


def build_project(count: int) -> Path:
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    (WORK / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
    lines = []
    for i in range(count):
        path = WORK / (".venv" if i == 0 else f"envs/env{i:02d}")
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
        if i:
            lines.append(f"envs/env{i:02d}")
    (WORK / ".python-envs").write_text("".join(f"{ln}\n" for ln in lines))
    return WORK


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--envs", type=int, default=20)
    args = parser.parse_args()
    project = build_project(args.envs)
    started = time.perf_counter()
    with Client([sys.executable, "-m", "pyrun", "wsp", "serve", "--project", str(project)]) as c:
        c.initialize()
        startup = time.perf_counter() - started
        times = []
        for _ in range(args.requests):
            t = time.perf_counter()
            envs = c.request("environment/list")
            times.append(time.perf_counter() - t)
        assert len(envs) == args.envs, envs
    times.sort()
    ms = [x * 1000 for x in times]
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"pyrun wsp serve, {args.envs} environments, {args.requests} environment/list requests")
    print(f"start-up to initialize answered: {startup * 1000:.1f} ms")
    print(f"per request: median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, "
          f"worst {ms[-1]:.2f} ms (target: under 50 ms)")


if __name__ == "__main__":
    main()
