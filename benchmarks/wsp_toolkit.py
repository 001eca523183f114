"""How soon a workflow server written with pyrun's toolkit answers ``initialize``: the example
``scripts-examples/workflow/workflow.py`` started as a project's declared server starts it
(``pyrun workflow.py``, its environment warm), from the process's start to the answer.

Usage: ``python3 benchmarks/wsp_toolkit.py [--repeat 20]`` (after the README's install).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pyrun.wsp.client import Client

SCRIPT = Path(__file__).resolve().parents[1] / "scripts-examples" / "workflow" / "workflow.py"


def command() -> list[str]:
    """The installed ``pyrun`` command beside this interpreter, as users run it (else
    ``python -m pyrun``, which never runs a script in its own process)."""
    installed = Path(sys.executable).parent / "pyrun"
    return [str(installed)] if installed.is_file() else [sys.executable, "-m", "pyrun"]


def once() -> float:
    start = time.perf_counter()
    with Client([*command(), str(SCRIPT)], stderr=subprocess.DEVNULL) as c:
        c.initialize(timeout=300)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    opts = parser.parse_args()
    once()  # the first run builds the environment
    times = sorted(once() * 1000 for _ in range(opts.repeat))
    print(f"initialize answered after {statistics.median(times):.1f} ms (median of "
          f"{opts.repeat}; best {times[0]:.1f}, worst {times[-1]:.1f}); target: under 100 ms")


if __name__ == "__main__":
    main()
