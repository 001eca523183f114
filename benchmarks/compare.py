"""pyrun side by side with ``uv run --script``, in one run, as users type them.

Usage (from the repository root, after the README's install command)::

    python3 benchmarks/compare.py [--repeat 30] [--cold-repeat 3] [--out FILE] [--skip-empty]

Both tools run with no options at all (``pyrun x.py``, ``uv run --script x.py``): no
``--python``, no ``-q``. pyrun is installed with pip into a venv of its own (as a user installs
it), made with the interpreter uv finds by default, so both run scripts on the same Python.
Both share one uv cache (pyrun resolves and installs with uv; on a user's machine they share
uv's default cache too), ``PYTHONDONTWRITEBYTECODE`` is unset, as on users' machines. Runs are
**paired**: pyrun, then uv, then pyrun..., and a ratio is the median of the pairs' ratios (the
machine's speed drifts less within a pair). pyrun's background byte-compiler is waited for
(:func:`settle`) after each of its runs, outside the timing. Scenarios (issue 12):

1. warm run of a one-dependency script (rich); and the environment's own interpreter alone;
2. first run of numpy+pandas+matplotlib with the download cache warm: pyrun's cache deleted
   (pool, environments), uv's script environments deleted, uv's cache kept;
3. the same from empty caches (both caches deleted before each run: downloads included);
4. twenty different small scripts run cold one after another, with uv's cache warm, and empty;
5. installing the same wheels again adds nothing to uv's cache (its size after scenario 2);
6. the machine-wide peak memory of that first run: the summed resident memory of the command's
   process tree and of pyrun's background compiler, sampled every 5 ms (:func:`peak_memory`);
7. a second script resolving to an already-built set, and the disk of five similar scripts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from uv import find_uv_bin

ROOT = Path(__file__).resolve().parent
WORK = ROOT / ".work"
UV = str(find_uv_bin())
PYRUN_CACHE, UV_CACHE = WORK / "pyrun-cache", WORK / "uv-cache"
PYRUN = WORK / "pyrun-venv" / "bin" / "pyrun"

#: What pyrun's background bytecode compiler's command line holds (``from
#: pyrun.engine.bytecode import main``; ``pyrun.bytecode`` before issue 21's folders).
COMPILER = b"bytecode import main"

LIGHT = '# /// script\n# dependencies = ["rich"]\n# ///\nimport rich\nprint("ok")\n'
HEAVY_DEPS = '"numpy", "pandas", "matplotlib"'
HEAVY_BODY = (
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    "import numpy as np\nimport pandas as pd\n"
    "df = pd.DataFrame({'x': np.arange(10)}); df['y'] = df.x ** 2\n"
    "plt.plot(df.x, df.y)\nprint(int(df.y.sum()))\n"
)
EXTRAS = ["six", "idna", "attrs", "packaging", "certifi"]
#: Twenty small distributions, one per script, each imported by its module name.
SMALL = [("six", "six"), ("idna", "idna"), ("attrs", "attr"), ("packaging", "packaging"),
         ("certifi", "certifi"), ("tomli", "tomli"), ("toml", "toml"), ("click", "click"),
         ("colorama", "colorama"), ("pyparsing", "pyparsing"), ("python-dateutil", "dateutil"),
         ("pytz", "pytz"), ("tabulate", "tabulate"), ("wcwidth", "wcwidth"),
         ("markupsafe", "markupsafe"), ("itsdangerous", "itsdangerous"), ("blinker", "blinker"),
         ("platformdirs", "platformdirs"), ("typing-extensions", "typing_extensions"),
         ("iniconfig", "iniconfig")]


def heavy(extra: str = "", spelling: str = HEAVY_DEPS) -> str:
    deps = spelling + (f', "{extra}"' if extra else "")
    return f"# /// script\n# dependencies = [{deps}]\n# ///\n{HEAVY_BODY}"


def env() -> dict[str, str]:
    """The environment both tools run in."""
    e = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYRUN_COMPILE"):
        e.pop(name, None)
    e.update(PYRUN_CACHE_DIR=str(PYRUN_CACHE), UV_CACHE_DIR=str(UV_CACHE),
             UV_PYTHON_DOWNLOADS="never")
    return e


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env(), check=True, stdout=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def compilers_running() -> bool:
    """Whether a background ``pyrun.engine.bytecode`` compiler is still at work (Linux /proc)."""
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if pid.isdigit() else b""
            if COMPILER in cmdline:
                return True
        except OSError:
            continue
    return False


def settle(timeout: float = 600) -> float:
    """Wait for pyrun's background byte-compiling to finish; returns the seconds waited."""
    start = time.perf_counter()
    time.sleep(0.05)  # the compiler may still be starting
    while compilers_running() and time.perf_counter() - start < timeout:
        time.sleep(0.05)
    return time.perf_counter() - start


def _rss_and_parents() -> dict[int, tuple[int, int, bytes]]:
    """``{pid: (parent pid, resident bytes, command line)}`` of every process (Linux /proc)."""
    found = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        found[int(name)] = (int(fields[1]), int(fields[21]) * page, cmd)
    return found


def peak_memory(argv: list[str]) -> float:
    """Run ``argv``; the largest sum, over 5 ms samples, of the resident memory of its process
    tree and of any pyrun bytecode compiler (:data:`COMPILER`: it runs detached, in a session of
    its own), until all of them have ended. Returns MiB."""
    proc = subprocess.Popen(argv, env=env(), stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    tracked = {proc.pid}
    peak = 0
    while True:
        procs = _rss_and_parents()
        for pid, (parent, _rss, cmd) in procs.items():
            if parent in tracked or b"pyrun.engine.bytecode" in cmd:
                tracked.add(pid)
        alive = [pid for pid in tracked if pid in procs]
        peak = max(peak, sum(procs[pid][1] for pid in alive))
        if proc.poll() is not None and not any(COMPILER in procs[p][2] for p in alive
                                               if p != proc.pid):
            break
        time.sleep(0.005)
    return peak / 2**20


def paired(
    run_p: Callable[[], float], run_u: Callable[[], float], repeat: int,
    before: Callable[[], None] = lambda: None,
) -> tuple[float, float, float]:
    """``(pyrun median s, uv median s, median of the pairs' pyrun/uv ratios)``; ``before``
    runs ahead of every single run, untimed (deleting caches, say)."""
    ps, us, ratios = [], [], []
    for _ in range(repeat):
        before()
        p = run_p()
        settle()
        before()
        u = run_u()
        ps.append(p)
        us.append(u)
        ratios.append(p / u)
    return statistics.median(ps), statistics.median(us), statistics.median(ratios)


def pyrun_cmd(script: Path) -> list[str]:
    return [str(PYRUN), str(script)]


def uv_cmd(script: Path) -> list[str]:
    return [UV, "run", "--script", str(script)]


def install_pyrun() -> str:
    """pyrun in a venv of its own, installed with pip (not editable), on the interpreter uv
    finds by default; returns that interpreter."""
    python = subprocess.run([UV, "python", "find"], capture_output=True, text=True, env=env(),
                            check=True).stdout.strip()
    venv = PYRUN.parent.parent
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                    str(ROOT.parent)], check=True, env=env())
    return python


def env_python_of(argv: list[str], script: Path) -> str:
    """The interpreter a tool's environment runs ``script`` with (asked of the script itself)."""
    probe = script.with_name(script.stem + "_probe.py")
    probe.write_text(script.read_text().split("# ///\n", 1)[0] + "# ///\n"
                     "import sys; print(sys.executable)\n")
    argv = [*argv[:-1], str(probe)]
    done = subprocess.run(argv, env=env(), check=True, capture_output=True, text=True)
    return done.stdout.strip()


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


def forget_environments() -> None:
    """Cold for both, downloads kept: pyrun's cache gone, uv's script environments gone."""
    shutil.rmtree(PYRUN_CACHE, ignore_errors=True)
    shutil.rmtree(UV_CACHE / "environments-v2", ignore_errors=True)


def forget_everything() -> None:
    shutil.rmtree(PYRUN_CACHE, ignore_errors=True)
    shutil.rmtree(UV_CACHE, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="pairs of warm runs")
    parser.add_argument("--cold-repeat", type=int, default=3, help="pairs of cold runs")
    parser.add_argument("--skip-empty", action="store_true",
                        help="leave out the scenarios from empty caches (they download)")
    parser.add_argument("--out", type=Path, default=None)
    opts = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    scripts = WORK / "scripts"
    scripts.mkdir(parents=True)
    python = install_pyrun()
    rows: list[tuple[str, float, float, float | None, str]] = []

    light = scripts / "light.py"
    light.write_text(LIGHT)
    heavy_a = scripts / "heavy.py"
    heavy_a.write_text(heavy())
    for s in (light, heavy_a):
        timed(pyrun_cmd(s)), settle(), timed(uv_cmd(s))  # cold: fill the caches

    p, u, r = paired(lambda: timed(pyrun_cmd(light)), lambda: timed(uv_cmd(light)), opts.repeat)
    rows.append(("warm run, one dependency (rich)", p * 1000, u * 1000, r, "ms"))
    own = env_python_of(pyrun_cmd(light), light)
    base, _, rb = paired(lambda: timed([own, str(light)]), lambda: timed(uv_cmd(light)),
                         opts.repeat)
    rows.append(("the environment's own interpreter alone (the limit)", base * 1000, u * 1000,
                 rb, "ms"))

    p, u, r = paired(lambda: timed(pyrun_cmd(heavy_a)), lambda: timed(uv_cmd(heavy_a)),
                     opts.cold_repeat, before=forget_environments)
    rows.append(("first run, numpy+pandas+matplotlib, download cache warm", p * 1000, u * 1000,
                 r, "ms"))
    size_before, _ = tree_size(UV_CACHE)
    for _ in range(2):  # pyrun alone installs the same wheels again twice
        shutil.rmtree(PYRUN_CACHE, ignore_errors=True)
        timed(pyrun_cmd(heavy_a))
        settle()
    size_after, _ = tree_size(UV_CACHE)
    rows.append(("uv's cache grown by pyrun installing the same wheels twice more",
                 (size_after - size_before) / 2**20, 0.0, None, "MiB"))

    mem_p, mem_u = [], []
    for _ in range(opts.cold_repeat):
        forget_environments()
        mem_p.append(peak_memory(pyrun_cmd(heavy_a)))
        forget_environments()
        mem_u.append(peak_memory(uv_cmd(heavy_a)))
    rows.append(("peak memory of that first run, background included",
                 statistics.median(mem_p), statistics.median(mem_u), None, "MiB"))

    if not opts.skip_empty:
        p, u, r = paired(lambda: timed(pyrun_cmd(heavy_a)), lambda: timed(uv_cmd(heavy_a)),
                         opts.cold_repeat, before=forget_everything)
        rows.append(("first run, numpy+pandas+matplotlib, empty caches", p * 1000, u * 1000, r,
                     "ms"))

    small = []
    for dist, module in SMALL:
        s = scripts / f"small_{module}.py"
        s.write_text(f'# /// script\n# dependencies = ["{dist}"]\n# ///\nimport {module}\n')
        small.append(s)

    def in_a_row(cmd: Callable[[Path], list[str]]) -> Callable[[], float]:
        return lambda: sum(timed(cmd(s)) for s in small)

    for s in small:  # the downloads, for the warm-cache variant
        timed(uv_cmd(s))
    p, u, r = paired(in_a_row(pyrun_cmd), in_a_row(uv_cmd), 1, before=forget_environments)
    rows.append(("20 small scripts cold in a row, uv's cache warm", p * 1000, u * 1000, r, "ms"))
    if not opts.skip_empty:
        p, u, r = paired(in_a_row(pyrun_cmd), in_a_row(uv_cmd), 1, before=forget_everything)
        rows.append(("20 small scripts cold in a row, empty caches", p * 1000, u * 1000, r,
                     "ms"))

    forget_environments()
    timed(pyrun_cmd(heavy_a)), settle(), timed(uv_cmd(heavy_a))
    second_p, second_u = [], []
    for i in range(3):
        other = scripts / f"elsewhere{i}" / "same_set.py"
        other.parent.mkdir()
        other.write_text(heavy(spelling='"NumPy", "matplotlib>=3", "Pandas"'))
        second_p.append(timed(pyrun_cmd(other)))
        settle()
        second_u.append(timed(uv_cmd(other)))
    rows.append(("second script resolving to an already-built set (first run)",
                 statistics.median(second_p) * 1000, statistics.median(second_u) * 1000, None,
                 "ms"))

    forget_environments()
    for extra in EXTRAS:
        s = scripts / f"five_{extra}.py"
        s.write_text(heavy(extra))
        timed(pyrun_cmd(s)), settle(), timed(uv_cmd(s))
    p_bytes, p_inodes = tree_size(PYRUN_CACHE)
    u_bytes, u_inodes = tree_size(UV_CACHE / "environments-v2")
    rows.append(("five similar heavy scripts: disk", p_bytes / 2**20, u_bytes / 2**20, None,
                 "MiB"))
    rows.append(("five similar heavy scripts: inodes", p_inodes, u_inodes, None, "inodes"))

    uv_version = subprocess.run([UV, "--version"], capture_output=True, text=True).stdout.strip()
    args = " ".join(sys.argv[1:])
    lines = [
        f"Measured with `python3 benchmarks/compare.py{' ' + args if args else ''}` "
        f"({uv_version}, scripts on {python}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}).",
        "",
        "| scenario | pyrun | uv run --script | pyrun / uv (paired) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, p_, u_, ratio, unit in rows:
        shown = f"{ratio:.2f}" if ratio is not None else (
            f"{p_ / u_:.2f} (unpaired)" if u_ > 0 and p_ > 0 else "n/a")
        lines.append(f"| {label} | {p_:.1f} {unit} | {u_:.1f} {unit} | {shown} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if opts.out:
        opts.out.write_text(text)


if __name__ == "__main__":
    main()
