"""Bytecode for pool entries: compiled once per interpreter version, after the first run.

A new pool entry is placed without ``.pyc`` files. Once the environment is ready, pyrun spawns
one detached, low-priority process (``python -c "... from pyrun.engine.bytecode import main;
main()" --after=PID ...``: :func:`schedule`, :func:`main`) and execs the script; that process
waits until the script (PID, pyrun's own process after the exec) has exited, then compiles the
entries that lack this interpreter's ``.pyc`` (``compileall``, unchecked-hash ``.pyc``: the
pool never changes, so no source is ever stat'ed, and ``PYTHONDONTWRITEBYTECODE`` does not
matter), under each entry's lock, and records the interpreter's cache tag in the entry's marker
(:class:`pyrun.store.markers.EntryMarker`). The first run imports from source, compiling in
memory as any interpreter does without bytecode; it writes nothing (the activation turns
bytecode writes off). So a cold run neither waits for compiling modules it never imports nor
shares the cores with a compiler, and every later run, in every environment that shares the
entry, gets them.

``PYRUN_COMPILE=foreground`` compiles before the script starts instead (for building images, or
tests that look at the ``.pyc`` files at once); so does every platform but POSIX.

This is the one write into a finished entry: new ``.pyc`` files (written atomically by
``compileall``) and an atomically replaced marker, under the entry's lock, so a run using the
entry meanwhile sees either no ``.pyc`` for this interpreter or a whole one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pyrun.engine.interpreters import Interpreter
from pyrun.engine.pool import PoolEntry, entry_from_key
from pyrun.errors import CommandError
from pyrun.faults import point
from pyrun.progress import Reporter
from pyrun.store.cache import Cache, make_readonly, make_writable
from pyrun.store.manifest import hashes
from pyrun.store.markers import write_entry_marker
from pyrun.subprocesses import run_command, spawn_detached, wait_for_exit

#: Files not byte-compiled into the pool: the test suites packages ship inside themselves
#: (``pandas/tests``, ``numpy/_core/tests``, ...). Scripts almost never import them, and they
#: are about half the files and the ``.pyc`` bytes of a numpy+pandas+matplotlib set; an import
#: of one still works, compiling in memory.
SKIP_COMPILE = r"site-packages/(?:[^/]+/)+tests?/"


def stale(entries: Sequence[PoolEntry], interpreter: Interpreter) -> list[PoolEntry]:
    """The entries of your own pool without ``interpreter``'s ``.pyc`` files (a pool layer's
    are never compiled by a run: ``pyrun cache seed`` compiles them)."""
    return [e for e in entries if not e.layer and interpreter.cache_tag not in e.compiled_for()]


#: The longest a background compiler waits for the script it was started for to exit, in
#: seconds: a long-running script should not leave its entries without bytecode for long.
WAIT_LIMIT = 20.0


#: The directory that holds the ``pyrun`` package, put first on the detached compiler's
#: ``sys.path`` (pyrun may run from a bare ``sys.path``, not an installed distribution).
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def schedule(
    cache: Cache, entries: Sequence[PoolEntry], interpreter: Interpreter, reporter: Reporter,
    *, after_exit: bool = False,
) -> None:
    """Make sure ``entries`` get ``interpreter``'s bytecode: now (``PYRUN_COMPILE=foreground``,
    or off POSIX) or in a detached, low-priority process that outlives this one.

    With ``after_exit`` (this process is about to exec the script), the compiler starts its
    work only once this process (the script, after the exec) has exited, or after
    :data:`WAIT_LIMIT` seconds: compiling during the script's first run would compete with
    its imports for the cores (issue 12 measured 1.60 -> 1.19 of uv's first run from this).
    """
    todo = stale(entries, interpreter)
    if not todo:
        return
    if os.environ.get("PYRUN_COMPILE") == "foreground" or os.name != "posix":
        compile_entries(cache, todo, interpreter, reporter)
        return
    code = (f"import os, sys; os.nice(10); sys.path.insert(0, {str(SOURCE_ROOT)!r}); "
            "from pyrun.engine.bytecode import main; main()")
    wait = [f"--after={os.getpid()}"] if after_exit else []
    argv = [sys.executable, "-c", code, *wait, str(cache.root), interpreter.executable,
            *(e.key for e in todo)]
    reporter.debug(f"byte-compiling {len(todo)} pool entries in the background"
                   + (" once the script has exited" if after_exit else ""))
    spawn_detached(argv, cwd=str(cache.root))  # a stable directory: the script's may go


def before_link_farm(
    cache: Cache, entries: Sequence[PoolEntry], interpreter: Interpreter, reporter: Reporter
) -> None:
    """Compile ``entries`` now, before a link farm is built from them: a farm hardlinks the
    files an entry has at that moment, so ``.pyc`` files added later would never reach it.
    Call it without holding the entries' locks (it takes them)."""
    compile_entries(cache, stale(entries, interpreter), interpreter, reporter)


def compile_entries(
    cache: Cache, entries: Sequence[PoolEntry], interpreter: Interpreter, reporter: Reporter
) -> None:
    """Compile the ``entries`` that still lack ``interpreter``'s bytecode, under their locks,
    and record it in their markers."""
    with cache.locked([e.key for e in entries]):
        todo = [e for e in stale(entries, interpreter) if e.is_complete()]
        if not todo:
            return
        names = ", ".join(e.distribution.name for e in todo)
        reporter.step(f"byte-compiling {names} for Python {interpreter.short_version}")
        for e in todo:
            make_writable(e.path)
        point("compiling")
        try:
            compile_dirs([e.site_packages for e in todo], interpreter, reporter)
            for e in todo:
                if not has_bytecode(e.site_packages, interpreter.cache_tag):
                    reporter.debug(f"{e.key}: no bytecode was written; not marked compiled")
                    continue  # a later run tries again
                e.compiled_flag(interpreter.cache_tag).touch()
                marker = e.marker()
                if marker is not None:  # the files are final now: their hashes too
                    write_entry_marker(e.path, marker.compiled(interpreter.cache_tag,
                                                               hashes(e.path)))
        finally:
            for e in todo:
                make_readonly(e.path)
                os.chmod(e.path, 0o555)


def has_bytecode(site: Path, cache_tag: str) -> bool:
    """Whether the compiler wrote ``cache_tag``'s ``.pyc`` files under ``site``: True when
    one exists, or when there is no module to compile at all (only test suites,
    :data:`SKIP_COMPILE`, or no ``.py``). An entry is marked compiled only when this holds,
    never on a compiler's word alone (a compiler that failed wholesale writes none; one file
    with a syntax error does not count against the rest)."""
    import re

    skip = re.compile(SKIP_COMPILE)
    suffix = f".{cache_tag}.pyc"
    modules = False
    for dirpath, _dirnames, filenames in os.walk(site):
        if os.path.basename(dirpath) == "__pycache__":
            if any(name.endswith(suffix) for name in filenames):
                return True
            continue
        modules = modules or any(
            name.endswith(".py") and not skip.search(os.path.join(dirpath, name).replace(
                os.sep, "/")) for name in filenames)
    return not modules


#: Up to this many modules, and for pyrun's own interpreter, the compiler compiles them in its
#: own process, one after the other: no second interpreter and no worker processes beside
#: the next run (a small set compiles in a few tens of milliseconds).
IN_PROCESS_MODULES = 400


def compile_dirs(dirs: Sequence[Path], interpreter: Interpreter, reporter: Reporter) -> None:
    """Byte-compile ``dirs`` with ``interpreter`` (failures in odd files are not fatal): in
    this process when ``interpreter`` is the one running it and the set is small
    (:data:`IN_PROCESS_MODULES`), else ``interpreter -m compileall -j 0``. The same files
    either way: ``unchecked-hash`` ``.pyc`` beside the sources, :data:`SKIP_COMPILE` left out."""
    own = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    if interpreter.executable == own and sys.pycache_prefix is None \
            and _modules(dirs, IN_PROCESS_MODULES + 1) <= IN_PROCESS_MODULES:
        import compileall
        import py_compile
        import re

        skip = re.compile(SKIP_COMPILE)
        for d in dirs:
            compileall.compile_dir(str(d), quiet=2, rx=skip, workers=1,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        return
    argv = [
        interpreter.executable, "-m", "compileall", "-q", "-j", "0",
        "--invalidation-mode", "unchecked-hash", "-x", SKIP_COMPILE, *map(str, dirs),
    ]
    try:
        run_command(argv, reporter, what="byte-compiling")
    except CommandError as exc:  # compileall exits 1 when some file has a syntax error
        reporter.debug(f"byte-compiling reported problems: {exc}")


def _modules(dirs: Sequence[Path], limit: int) -> int:
    """How many ``.py`` files ``dirs`` hold, counted up to ``limit``."""
    count = 0
    for d in dirs:
        for _, _, names in os.walk(d):
            count += sum(1 for n in names if n.endswith(".py"))
            if count >= limit:
                return count
    return count


def main(argv: list[str] | None = None) -> int:
    """The detached compiler: ``[--after=PID] CACHE_ROOT INTERPRETER KEY...`` (with
    ``--after``, it first waits for PID to exit: :func:`pyrun.subprocesses.wait_for_exit`)."""
    from pyrun.engine.interpreters import InterpreterFinder

    args = sys.argv[1:] if argv is None else argv
    if args and args[0].startswith("--after="):
        wait_for_exit(int(args[0].partition("=")[2]), WAIT_LIMIT)
        args = args[1:]
    root, executable, keys = Path(args[0]), args[1], args[2:]
    reporter = Reporter(-1)
    cache = Cache(root)
    interpreter = InterpreterFinder(root, reporter).query(executable)
    if interpreter is None:
        return 1
    entries = [e for e in (entry_from_key(cache, k) for k in keys) if e is not None]
    compile_entries(cache, entries, interpreter, reporter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
