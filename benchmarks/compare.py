"""pyrun side by side with ``uv run --script``: issue 25's scenarios ("Benchmarks as users meet
them"), paired, in one run; prints a markdown table of pyrun / uv ratios.

Usage (from the repository root, after the README's install command)::

    python3 benchmarks/compare.py [--repeat 30] [--cold-repeat 5] [--heavy-repeat 3]
        [--skip-empty] [--only a,b,...] [--out FILE]

**As users run them.** Both tools run with no options (``pyrun x.py``, ``uv run --script x.py``):
no ``--python``, no ``-q``. pyrun is installed with pip (not editable) from the working tree into
a venv of its own, made with the interpreter uv finds by default (the real path of ``uv python
find --no-project``), so both run scripts on the same Python. uv is the real binary
(``uv.find_uv_bin()``), never a pyenv shim. Both tools run in one environment (:func:`environ`),
as a user without pyenv has it: ``PATH`` is that interpreter's real directory, then the pyrun
venv's ``bin``, then the rest of ``PATH`` with every entry containing "pyenv" removed (no shims
anywhere); ``PYTHONDONTWRITEBYTECODE``, ``VIRTUAL_ENV`` and ``PYRUN_COMPILE`` are unset;
``UV_PYTHON_DOWNLOADS=never``. Both share one uv cache (pyrun resolves and installs with uv; on
a user's machine they share uv's default cache too). The caches, the venv and the scripts lie in
a scratch folder under ``tempfile.gettempdir()`` (:data:`WORK`), and the commands run there:
outside the repository, whose ``pyproject.toml`` uv would read, and outside any project.

**Paired.** Runs alternate, pyrun then uv, and a ratio is the median of the pairs' ratios (the
machine's speed drifts less within a pair than across a scenario); the table also gives each
tool's median. pyrun's background byte-compiler is waited for (:func:`settle`) after each of
its runs, outside the timing. "pyrun's cache" is ``PYRUN_CACHE_DIR``; "uv's environments" is
the ``environments-v2`` folder of the shared uv cache, where ``uv run --script`` keeps its
script environments.

Scenarios (each a row; ``--only`` picks some by letter):

a. **20 different small scripts cold, uv's cache warm** (:data:`SMALL`, one distribution per
   script). Each script is run once with uv beforehand (uv's download cache is warm; pyrun never
   ran them). Each trial deletes pyrun's cache entirely and uv's environments, runs the 20 with
   pyrun (settling after each), deletes them again, runs the 20 with uv; the pair is the two
   sums. ``--heavy-repeat`` trials.
b. **a new script whose packages are pooled** (rich + requests). A seed script is run once by
   each tool. Each trial writes two new files (one for pyrun, one for uv) with a new block (the
   same dependencies and a comment line of the trial's own inside the block). Before pyrun's
   run its ``envs/`` and ``index/`` are deleted (the pool, ``pool-stamps`` and
   ``interpreters.json`` are kept): pyrun resolves from the pool and composes a new
   environment. Before uv's run nothing is deleted: uv builds a new script environment for the
   new script path from its cache. ``--cold-repeat`` trials.
c. **a second script resolving to a built set**: as b (new files, a new block each trial, with
   the requirements also spelled or ordered differently, resolving to the seed's set), but
   nothing is deleted: pyrun finds the seed's environment after resolving from the pool; uv
   builds a new script environment for the new path. Three rows: the seed's set (rich +
   requests); the heavy set (numpy+pandas+matplotlib, its own seed run once by each tool),
   with the heavy script's body (importing the three and plotting: about 1.5 s on our machine,
   the same for both tools), and with a body that only prints (what each tool itself takes).
   ``--cold-repeat`` trials each.
d. **heavy first run (numpy+pandas+matplotlib), download cache warm**: the script is run once by
   each tool; then before each run pyrun's cache is deleted entirely and uv's environments are
   deleted (uv's downloads kept). ``--heavy-repeat`` pairs.
e. **the same with empty caches**: before each run both caches are deleted entirely (downloads
   included). ``--heavy-repeat`` pairs; left out with ``--skip-empty``.
f. **warm run, default interpreter**: a script needing rich, run once by each tool, then
   ``--repeat`` pairs of warm runs.
g. **warm run, another interpreter**: the same with ``requires-python = "==3.X.*"`` in the
   block, where 3.X is another installed version (not the default's; the newest found, from
   uv's list of installed Pythons, ``/usr/bin``, ``/usr/local/bin`` or pyenv's versions), so
   each tool picks that interpreter itself, as users type it (no ``--python``); the script
   checks it runs on 3.X. Its real directory is added to ``PATH`` after the default
   interpreter's (a user with two Pythons has both on ``PATH``), for both tools. The row is
   skipped, with a note, when no other interpreter is installed.
h. **heavy first run, its entries in a pool layer** (issue 26): as d, with
   ``PYRUN_POOL_PATH`` naming a layer seeded once with ``pyrun cache seed --into`` (pyrun's
   cache deleted before each of its runs, the layer kept; uv's environments deleted, its
   downloads kept). Compare with d: the same with pyrun's pool empty.

The disk, inode and peak-memory rows of the earlier version (issue 12) are left out: each cost
several heavy cold runs.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from uv import find_uv_bin

ROOT = Path(__file__).resolve().parent.parent
#: The scratch folder: caches, pyrun's venv and the scripts (outside any project).
WORK = Path(tempfile.gettempdir()) / "pyrun-bench-compare"
SCRIPTS = WORK / "scripts"
PYRUN_CACHE, UV_CACHE = WORK / "pyrun-cache", WORK / "uv-cache"
VENV = WORK / "pyrun-venv"
PYRUN = VENV / "bin" / "pyrun"
UV = str(find_uv_bin())

#: What pyrun's background bytecode compiler's command line holds (``from
#: pyrun.engine.bytecode import main``; ``pyrun.bytecode`` before issue 21's folders).
COMPILER = b"bytecode import main"

LIGHT_BODY = "import rich\nprint('ok')\n"
POOLED = ["rich", "requests"]
POOLED_BODY = "import requests\nimport rich\nprint('ok')\n"
#: Ways of writing :data:`POOLED` that resolve to the same set (scenario c).
SPELLINGS = ['"requests", "rich"', '"Rich", "Requests"', '"rich>=10", "requests>=2"',
             '"requests", "RICH"']
HEAVY_DEPS = '"numpy", "pandas", "matplotlib"'
#: Ways of writing :data:`HEAVY_DEPS` that resolve to the same set (scenario c).
HEAVY_SPELLINGS = ['"NumPy", "matplotlib>=3", "Pandas"', '"pandas", "numpy", "matplotlib"',
                   '"matplotlib", "Numpy", "pandas>=1"']
HEAVY_BODY = (
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    "import numpy as np\nimport pandas as pd\n"
    "df = pd.DataFrame({'x': np.arange(10)}); df['y'] = df.x ** 2\n"
    "plt.plot(df.x, df.y)\nprint(int(df.y.sum()))\n"
)
#: Twenty small distributions, one per script, each imported by its module name.
SMALL = [("six", "six"), ("idna", "idna"), ("attrs", "attr"), ("packaging", "packaging"),
         ("certifi", "certifi"), ("tomli", "tomli"), ("toml", "toml"), ("click", "click"),
         ("colorama", "colorama"), ("pyparsing", "pyparsing"), ("python-dateutil", "dateutil"),
         ("pytz", "pytz"), ("tabulate", "tabulate"), ("wcwidth", "wcwidth"),
         ("markupsafe", "markupsafe"), ("itsdangerous", "itsdangerous"), ("blinker", "blinker"),
         ("platformdirs", "platformdirs"), ("typing-extensions", "typing_extensions"),
         ("iniconfig", "iniconfig")]

#: The environment both tools run in, set by :func:`main` (:func:`environ`).
ENV: dict[str, str] = {}

#: A row: (label, pyrun median ms, uv median ms, paired ratio) or (label, note).
Row = tuple[str, float, float, float] | tuple[str, str]


# -- the environment ------------------------------------------------------------------------
def default_python() -> str:
    """The interpreter uv finds by default (its real path), asked outside any project."""
    out = subprocess.run([UV, "python", "find", "--no-project"], capture_output=True,
                         text=True, check=True, cwd=WORK)
    return os.path.realpath(out.stdout.strip())


def environ(python: str, *extra_dirs: str) -> dict[str, str]:
    """The environment both tools run in: ``python``'s directory first on ``PATH`` (then
    ``extra_dirs``, then pyrun's venv), no pyenv entry, the caches in :data:`WORK`."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYRUN_COMPILE")}
    rest = [p for p in e.get("PATH", "").split(os.pathsep) if p and "pyenv" not in p]
    path = [os.path.dirname(python), *extra_dirs, str(VENV / "bin"), *rest]
    e.update(PATH=os.pathsep.join(path), PYRUN_CACHE_DIR=str(PYRUN_CACHE),
             UV_CACHE_DIR=str(UV_CACHE), UV_PYTHON_DOWNLOADS="never")
    return e


def install_pyrun(python: str) -> None:
    """pyrun in a venv of its own, installed with pip from the working tree (not editable)."""
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)],
                   check=True, env=ENV, cwd=WORK)


def minor_of(python: str) -> tuple[int, int]:
    """``python``'s (major, minor) version, asked of it."""
    out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)
    major, minor = out.stdout.split()
    return int(major), int(minor)


def other_python(default: str) -> str | None:
    """The newest installed CPython 3.8+ whose minor version is not ``default``'s (its real
    path), from uv's list of installed Pythons (searched without pyenv on ``PATH``),
    ``/usr/bin``, ``/usr/local/bin`` and pyenv's versions; ``None`` when there is none."""
    found: list[str] = []
    out = subprocess.run([UV, "python", "list", "--only-installed", "--output-format", "json"],
                         capture_output=True, text=True, env=ENV, cwd=WORK)
    if out.returncode == 0:
        found += [p["path"] for p in json.loads(out.stdout or "[]") if p.get("path")]
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for pattern in ("/usr/bin/python3.*", "/usr/local/bin/python3.*",
                    os.path.join(pyenv_root, "versions", "*", "bin", "python3.*")):
        found += glob.glob(pattern)
    best: tuple[tuple[int, int], str] | None = None
    default_version = minor_of(default)
    for path in sorted(set(found)):
        real = os.path.realpath(path)
        if ("shims" in Path(real).parts or not re.fullmatch(r"python3\.\d+", Path(path).name)
                or not os.access(real, os.X_OK)):
            continue
        try:
            version = minor_of(real)
        except (OSError, subprocess.CalledProcessError, ValueError):
            continue
        if version >= (3, 8) and version != default_version and (best is None
                                                                   or version > best[0]):
            best = (version, real)
    return best[1] if best else None


# -- running and timing ---------------------------------------------------------------------
def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Run ``argv`` in :data:`WORK`; its wall time in seconds (it must succeed)."""
    start = time.perf_counter()
    out = subprocess.run(argv, env=env or ENV, capture_output=True, text=True, cwd=WORK,
                         stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{out.stdout}\n{out.stderr}")
    return elapsed


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


def pyrun_cmd(script: Path) -> list[str]:
    """How a user runs ``script`` with pyrun."""
    return [str(PYRUN), str(script)]


def uv_cmd(script: Path) -> list[str]:
    """How a user runs ``script`` with uv."""
    return [UV, "run", "--script", str(script)]


def both_once(script: Path, env: dict[str, str] | None = None) -> None:
    """Run ``script`` once with each tool (untimed: it fills the caches)."""
    timed(pyrun_cmd(script), env)
    settle()
    timed(uv_cmd(script), env)


def paired(
    run_p: Callable[[int], float], run_u: Callable[[int], float], repeat: int,
    before_p: Callable[[], None] = lambda: None, before_u: Callable[[], None] = lambda: None,
) -> tuple[float, float, float]:
    """``(pyrun median ms, uv median ms, median of the pairs' pyrun/uv ratios)``. Each pair
    runs ``before_p()`` (untimed), ``run_p(trial)``, :func:`settle`, ``before_u()``,
    ``run_u(trial)``; the ``run_*`` return seconds."""
    ps, us, ratios = [], [], []
    for trial in range(1, repeat + 1):
        before_p()
        p = run_p(trial)
        settle()
        before_u()
        u = run_u(trial)
        ps.append(p)
        us.append(u)
        ratios.append(p / u)
    return statistics.median(ps) * 1000, statistics.median(us) * 1000, statistics.median(ratios)


# -- what is deleted ------------------------------------------------------------------------
def forget_environments() -> None:
    """Cold for both, downloads kept: pyrun's cache gone, uv's script environments gone."""
    shutil.rmtree(PYRUN_CACHE, ignore_errors=True)
    shutil.rmtree(UV_CACHE / "environments-v2", ignore_errors=True)


def forget_everything() -> None:
    """Both caches gone, downloads included."""
    shutil.rmtree(PYRUN_CACHE, ignore_errors=True)
    shutil.rmtree(UV_CACHE, ignore_errors=True)


def forget_pyrun_environments() -> None:
    """pyrun's environments and fast-path index gone; its pool, pool stamps and interpreter
    cache kept."""
    for name in ("envs", "index"):
        shutil.rmtree(PYRUN_CACHE / name, ignore_errors=True)


# -- the scripts ----------------------------------------------------------------------------
def write(name: str, deps: str, body: str, extra: str = "") -> Path:
    """A script in :data:`SCRIPTS` with ``dependencies = [deps]`` and ``extra`` block lines."""
    path = SCRIPTS / f"{name}.py"
    path.write_text(f"# /// script\n{extra}# dependencies = [{deps}]\n# ///\n{body}")
    return path


def quoted(names: list[str]) -> str:
    """``["a", "b"]`` as ``'"a", "b"'``."""
    return ", ".join(f'"{n}"' for n in names)


# -- the scenarios --------------------------------------------------------------------------
def small_scripts_cold(opts: argparse.Namespace) -> list[Row]:
    """a. The 20 small scripts, cold one after another, uv's download cache warm."""
    small = [write(f"small_{module}", f'"{dist}"', f"import {module}\n") for dist, module in SMALL]
    for s in small:  # uv's downloads; pyrun never runs them warm
        timed(uv_cmd(s))

    def pyrun_all(_trial: int) -> float:
        total = 0.0
        for s in small:
            total += timed(pyrun_cmd(s))
            settle()
        return total

    def uv_all(_trial: int) -> float:
        return sum(timed(uv_cmd(s)) for s in small)

    p, u, r = paired(pyrun_all, uv_all, opts.heavy_repeat, forget_environments,
                     forget_environments)
    return [("a. 20 different small scripts cold, uv's cache warm (sum of 20)", p, u, r)]


def seed() -> None:
    """The seed of scenarios b and c: a script with :data:`POOLED`, run once by each tool."""
    both_once(write("seed", quoted(POOLED), POOLED_BODY))


def pooled_new_script(opts: argparse.Namespace) -> list[Row]:
    """b. A new script whose packages are pooled; pyrun's environments and index deleted."""
    seed()

    def block(trial: int) -> str:
        return f"# # trial b{trial}\n"

    p, u, r = paired(
        lambda t: timed(pyrun_cmd(write(f"b_p{t}", quoted(POOLED), POOLED_BODY, block(t)))),
        lambda t: timed(uv_cmd(write(f"b_u{t}", quoted(POOLED), POOLED_BODY, block(t)))),
        opts.cold_repeat, before_p=forget_pyrun_environments)
    return [("b. a new script whose packages are pooled (rich+requests)", p, u, r)]


def built_set(opts: argparse.Namespace) -> list[Row]:
    """c. A second script (a new block) resolving to a set built before: the seed's (rich +
    requests), and the heavy script's (numpy+pandas+matplotlib, whose environment uv builds in
    seconds); pyrun's environments kept."""
    seed()
    heavy_seed = write("heavy_seed", HEAVY_DEPS, HEAVY_BODY)
    both_once(heavy_seed)
    rows: list[Row] = []
    for name, spellings, body in (
            ("rich+requests", SPELLINGS, POOLED_BODY),
            ("numpy+pandas+matplotlib", HEAVY_SPELLINGS, HEAVY_BODY),
            ("numpy+pandas+matplotlib, a script that only prints", HEAVY_SPELLINGS,
             "print('ok')\n")):
        def script(tool: str, trial: int, spellings: list[str] = spellings, body: str = body,
                   name: str = name) -> Path:
            deps = spellings[(trial - 1) % len(spellings)]
            return write(f"c_{len(name)}_{tool}{trial}", deps, body,
                         f"# # trial c{trial}, {len(name)}\n")  # a block of its own

        def run_p(trial: int, f: Callable[[str, int], Path] = script) -> float:
            return timed(pyrun_cmd(f("p", trial)))

        def run_u(trial: int, f: Callable[[str, int], Path] = script) -> float:
            return timed(uv_cmd(f("u", trial)))

        p, u, r = paired(run_p, run_u, opts.cold_repeat)
        rows.append((f"c. a second script resolving to a built set ({name})", p, u, r))
    return rows


def heavy(forget: Callable[[], None], label: str, opts: argparse.Namespace) -> list[Row]:
    """d, e. The first run of numpy+pandas+matplotlib, ``forget`` called before each run."""
    script = write("heavy", HEAVY_DEPS, HEAVY_BODY)
    both_once(script)
    p, u, r = paired(lambda _t: timed(pyrun_cmd(script)), lambda _t: timed(uv_cmd(script)),
                     opts.heavy_repeat, forget, forget)
    return [(label, p, u, r)]


def heavy_in_a_layer(opts: argparse.Namespace) -> list[Row]:
    """h. The heavy first run with its entries in a pool layer (issue 26), seeded once with
    ``pyrun cache seed --into``; before each run pyrun's cache is deleted (the layer kept) and
    uv's environments (its downloads kept), as in d."""
    script = write("heavy", HEAVY_DEPS, HEAVY_BODY)
    layer = WORK / "layer"
    timed([str(PYRUN), "cache", "seed", "--into", str(layer), str(script)])
    env = {**ENV, "PYRUN_POOL_PATH": str(layer)}
    both_once(script, env)
    p, u, r = paired(lambda _t: timed(pyrun_cmd(script), env),
                     lambda _t: timed(uv_cmd(script), env), opts.heavy_repeat,
                     forget_environments, forget_environments)
    return [("h. heavy first run, its entries in a pool layer (pyrun cache seed), "
             "uv's download cache warm", p, u, r)]


def warm(script: Path, env: dict[str, str], label: str, opts: argparse.Namespace) -> list[Row]:
    """f, g. Warm runs of ``script`` in ``env``, after one run by each tool."""
    both_once(script, env)
    p, u, r = paired(lambda _t: timed(pyrun_cmd(script), env),
                     lambda _t: timed(uv_cmd(script), env), opts.repeat)
    return [(label, p, u, r)]


def warm_other(python: str, opts: argparse.Namespace) -> list[Row]:
    """g. Warm runs of a script whose ``requires-python`` only another interpreter meets."""
    label = "g. warm run, another interpreter"
    other = other_python(python)
    if other is None:
        return [(label, "skipped: no other interpreter installed")]
    major, minor = minor_of(other)
    body = f"import sys\nassert sys.version_info[:2] == ({major}, {minor}), sys.version\n"
    script = write(f"other_{major}_{minor}", '"rich"', body + LIGHT_BODY,
                   f'# requires-python = "=={major}.{minor}.*"\n')
    env = environ(python, os.path.dirname(other))
    return warm(script, env, f"{label} ({major}.{minor}: {other})", opts)


# -- the table ------------------------------------------------------------------------------
def table(rows: list[Row], python: str) -> str:
    """The markdown table, with the line saying how it was measured."""
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
    for row in rows:
        if len(row) == 2:
            lines.append(f"| {row[0]} | | | {row[1]} |")
        else:
            label, p, u, r = row
            lines.append(f"| {label} | {p:.1f} ms | {u:.1f} ms | {r:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse the options, prepare :data:`WORK`, run the scenarios asked for, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="pairs of warm runs (f, g)")
    parser.add_argument("--cold-repeat", type=int, default=5,
                        help="pairs of new scripts (b, c)")
    parser.add_argument("--heavy-repeat", type=int, default=3,
                        help="cold trials of the 20 small scripts and the heavy script (a, d, e)")
    parser.add_argument("--skip-empty", action="store_true",
                        help="leave out e (empty caches: it downloads everything)")
    parser.add_argument("--only", default="abcdefgh",
                        help="the scenarios to run, by letter (e.g. b,c,f)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table there")
    opts = parser.parse_args()
    only = set(opts.only.replace(",", "").replace(" ", ""))
    if not only <= set("abcdefgh"):
        parser.error(f"--only: unknown scenario(s) {', '.join(sorted(only - set('abcdefgh')))}")

    shutil.rmtree(WORK, ignore_errors=True)
    SCRIPTS.mkdir(parents=True)
    python = default_python()
    ENV.update(environ(python))
    install_pyrun(python)

    rows: list[Row] = []
    if "a" in only:
        rows += small_scripts_cold(opts)
    if "b" in only:
        rows += pooled_new_script(opts)
    if "c" in only:
        rows += built_set(opts)
    if "d" in only:
        rows += heavy(forget_environments,
                      "d. heavy first run (numpy+pandas+matplotlib), download cache warm", opts)
    if "e" in only:
        rows += ([("e. heavy first run, empty caches", "skipped (--skip-empty)")]
                 if opts.skip_empty else
                 heavy(forget_everything, "e. heavy first run, empty caches", opts))
    if "f" in only:
        rows += warm(write("light", '"rich"', LIGHT_BODY), ENV,
                     "f. warm run, default interpreter (rich)", opts)
    if "g" in only:
        rows += warm_other(python, opts)
    if "h" in only:
        rows += heavy_in_a_layer(opts)

    text = table(rows, python)
    print(text)
    if opts.out:
        opts.out.write_text(text)


if __name__ == "__main__":
    main()
