"""pyrun side by side with ``uv run --script``, in the same run, on the same machine.

Usage (from the repository root, after the README's install command)::

    python3 benchmarks/compare.py [--python 3.12] [--repeat 15] [--out docs/performance.md]

Both tools get the same interpreter, the same uv binary and one shared uv cache (so "warm cache"
means the same downloads for both), and run with ``PYTHONDONTWRITEBYTECODE`` unset, as on users'
machines. Times are wall-clock medians of real subprocess runs. Scenarios:

1. warm run of a one-dependency script (rich), against the environment's own interpreter;
2. warm run of a numpy+pandas+matplotlib script;
3. that heavy script in a fresh environment over a warm cache (uv: its script environments
   deleted; pyrun: its environments and index deleted, pool kept; and pyrun with its pool
   deleted too, uv's cache still warm);
4. a second script, elsewhere, spelling the same requirements differently;
5. disk and inodes of five heavy scripts that differ by one small extra each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from uv import find_uv_bin

from pyrun.interpreters import InterpreterFinder
from pyrun.progress import Reporter

ROOT = Path(__file__).resolve().parent
WORK = ROOT / ".work"
UV = str(find_uv_bin())

LIGHT = '# /// script\n# dependencies = ["rich"]\n# ///\nimport rich\nprint("ok")\n'
HEAVY_DEPS = '"numpy", "pandas", "matplotlib"'
HEAVY_BODY = (
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    "import numpy as np\nimport pandas as pd\n"
    "df = pd.DataFrame({'x': np.arange(10)}); df['y'] = df.x ** 2\n"
    "plt.plot(df.x, df.y)\nprint(int(df.y.sum()))\n"
)
EXTRAS = ["six", "idna", "attrs", "packaging", "certifi"]


def heavy(extra: str = "", spelling: str = HEAVY_DEPS) -> str:
    deps = spelling + (f', "{extra}"' if extra else "")
    return f"# /// script\n# dependencies = [{deps}]\n# ///\n{HEAVY_BODY}"


def env() -> dict[str, str]:
    """The environment both tools run in."""
    e = dict(os.environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    e.update(
        PYRUN_CACHE_DIR=str(WORK / "pyrun-cache"),
        UV_CACHE_DIR=str(WORK / "uv-cache"),
        UV=UV,
        UV_PYTHON_DOWNLOADS="never",
    )
    return e


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env(), check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def compilers_running() -> bool:
    """Whether a background ``pyrun.bytecode`` compiler is still at work (Linux /proc)."""
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and b"pyrun.bytecode" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def settle(timeout: float = 600) -> float:
    """Wait for pyrun's background byte-compiling to finish; returns the seconds waited."""
    start = time.perf_counter()
    while compilers_running() and time.perf_counter() - start < timeout:
        time.sleep(0.05)
    return time.perf_counter() - start


def median(argv: list[str], repeat: int) -> float:
    timed(argv)  # warm-up
    return statistics.median(timed(argv) for _ in range(repeat))


PYRUN = WORK / "pyrun-venv" / "bin" / "pyrun"


def install_pyrun() -> None:
    """pyrun in a venv of its own, as pipx or uv tool would install it (not editable)."""
    venv = PYRUN.parent.parent
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([UV, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    str(ROOT.parent)], check=True, env=env())


def pyrun_cmd(python: str, script: Path) -> list[str]:
    return [str(PYRUN), "-q", "--python", python, str(script)]


def uv_cmd(python: str, script: Path) -> list[str]:
    return [UV, "run", "-q", "--python", python, "--script", str(script)]


def env_python_of(argv: list[str], script: Path) -> str:
    """The interpreter a tool's environment runs ``script`` with (asked of the script itself)."""
    probe = script.with_name(script.stem + "_probe.py")
    probe.write_text(script.read_text().split("# ///\n", 1)[0] + "# ///\n"
                     "import sys; print(sys.executable)\n")
    argv = [*argv[:-1], str(probe)]
    return subprocess.run(argv, env=env(), check=True, capture_output=True, text=True).stdout.strip()


def tree_size(path: Path) -> tuple[int, int]:
    """(bytes on disk, inodes) under ``path``, each inode counted once, as ``du`` does."""
    seen: set[tuple[int, int]] = set()
    size = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            size += st.st_blocks * 512
    return size, len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=f"{sys.version_info[0]}.{sys.version_info[1]}")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--out", type=Path, default=None)
    opts = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    scripts = WORK / "scripts"
    scripts.mkdir()
    install_pyrun()
    # An interpreter path for both tools: uv cannot use pyenv's shims for a version not selected.
    py = InterpreterFinder(WORK, Reporter(-1)).choose(opts.python, None, "benchmark").executable
    rows: list[tuple[str, float, float, str]] = []

    light = scripts / "light.py"
    light.write_text(LIGHT)
    heavy_a = scripts / "heavy.py"
    heavy_a.write_text(heavy())
    for s in (light, heavy_a):
        timed(pyrun_cmd(py, s)), timed(uv_cmd(py, s))  # cold: fill the caches
        settle()

    for label, script in (("one dependency (rich)", light), ("numpy+pandas+matplotlib", heavy_a)):
        base_p = median([env_python_of(pyrun_cmd(py, script), script), str(script)], opts.repeat)
        base_u = median([env_python_of(uv_cmd(py, script), script), str(script)], opts.repeat)
        t_p = median(pyrun_cmd(py, script), opts.repeat)
        t_u = median(uv_cmd(py, script), opts.repeat)
        over_p, over_u = (t_p - base_p) * 1000, (t_u - base_u) * 1000
        rows.append((f"warm run, {label}: total", t_p * 1000, t_u * 1000, "ms"))
        rows.append((f"warm run, {label}: overhead over the env's own python", over_p, over_u, "ms"))

    fresh_p, fresh_u, fresh_pool, fresh_pool_settled = [], [], [], []
    for _ in range(3):
        for d in ("envs", "index"):
            shutil.rmtree(WORK / "pyrun-cache" / d, ignore_errors=True)
        shutil.rmtree(WORK / "uv-cache" / "environments-v2", ignore_errors=True)
        fresh_p.append(timed(pyrun_cmd(py, heavy_a)))
        fresh_u.append(timed(uv_cmd(py, heavy_a)))
    for _ in range(3):
        shutil.rmtree(WORK / "pyrun-cache", ignore_errors=True)
        fresh_pool.append(timed(pyrun_cmd(py, heavy_a)))
        fresh_pool_settled.append(fresh_pool[-1] + settle())
    rows.append(("fresh environment over a warm cache (pyrun: pool kept)",
                 statistics.median(fresh_p) * 1000, statistics.median(fresh_u) * 1000, "ms"))
    rows.append(("fresh environment, pyrun's pool empty too (uv cache warm)",
                 statistics.median(fresh_pool) * 1000, statistics.median(fresh_u) * 1000, "ms"))
    rows.append(("the same, until pyrun's background byte-compiling has finished",
                 statistics.median(fresh_pool_settled) * 1000, statistics.median(fresh_u) * 1000,
                 "ms"))

    timed(pyrun_cmd(py, heavy_a)), timed(uv_cmd(py, heavy_a))
    settle()
    second_p, second_u = [], []
    for i in range(3):
        other = scripts / f"elsewhere{i}" / "same_set.py"
        other.parent.mkdir()
        other.write_text(heavy(spelling='"NumPy", "matplotlib>=3", "Pandas"'))
        second_p.append(timed(pyrun_cmd(py, other)))
        second_u.append(timed(uv_cmd(py, other)))
    rows.append(("second script resolving to an already-built set (first run)",
                 statistics.median(second_p) * 1000, statistics.median(second_u) * 1000, "ms"))

    shutil.rmtree(WORK / "pyrun-cache", ignore_errors=True)
    shutil.rmtree(WORK / "uv-cache" / "environments-v2", ignore_errors=True)
    for extra in EXTRAS:
        s = scripts / f"five_{extra}.py"
        s.write_text(heavy(extra))
        timed(pyrun_cmd(py, s)), timed(uv_cmd(py, s))
        settle()
    p_bytes, p_inodes = tree_size(WORK / "pyrun-cache")
    u_bytes, u_inodes = tree_size(WORK / "uv-cache" / "environments-v2")
    rows.append(("five similar heavy scripts: disk", p_bytes / 2**20, u_bytes / 2**20, "MiB"))
    rows.append(("five similar heavy scripts: inodes", p_inodes, u_inodes, "inodes"))

    uv_version = subprocess.run([UV, "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"Measured with `python3 benchmarks/compare.py --python {opts.python} --repeat {opts.repeat}`"
        f" ({uv_version}, {py}, {os.cpu_count()} cores).",
        "",
        "| scenario | pyrun | uv run --script | pyrun / uv |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, p, u, unit in rows:
        ratio = f"{p / u:.2f}x" if u > 0 and p > 0 else "n/a"
        lines.append(f"| {label} | {p:.1f} {unit} | {u:.1f} {unit} | {ratio} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if opts.out:
        opts.out.write_text(text)


if __name__ == "__main__":
    main()
