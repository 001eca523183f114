"""The ``pyrun`` command: a thin shell over :mod:`pyrun.runner`, and the only place that exits.

Usage::

    pyrun [OPTIONS] SCRIPT [ARGS...]
    pyrun run [OPTIONS] SCRIPT [ARGS...]     (for a script named like a subcommand)

Everything after SCRIPT goes to the script unchanged. The options are parsed by hand (not with
argparse) because the warm path must start the script within a few milliseconds: a warm run
imports only :mod:`pyrun.fastpath` and :mod:`pyrun.launch`.
"""

from __future__ import annotations

import os
import sys

from pyrun import __version__

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs a warm run 3 ms
if TYPE_CHECKING:
    from pyrun.cache import Cache

USAGE = """\
usage: pyrun [OPTIONS] SCRIPT [ARGS...]
       pyrun run [OPTIONS] SCRIPT [ARGS...]
       pyrun cache dir|info|prune|clean [--unused-for DAYS] [--json]
       pyrun python SCRIPT          print the interpreter of SCRIPT's environment
       pyrun env SCRIPT --record    add SCRIPT's environment to .python-envs beside it
       pyrun wsp ...                the workflow server protocol (pyrun wsp --help)

Run a Python script in an environment with the dependencies its inline script metadata
(PEP 723 `# /// script` block) declares. Everything after SCRIPT is passed to the script.

options:
  -p, --python PYTHON  interpreter: a version (3.12), a specifier (>=3.11), a command or a path
  -w, --with REQ       an extra requirement for this run (repeatable)
  -U, --upgrade        resolve the requirements again instead of reusing the environment
      --offline        never touch the network; use only what is cached
      --link-mode MODE auto (default), pth (pooled: pool directories on sys.path) or farm
                       (the pool's files hardlinked into one site-packages)
  -q, --quiet          print nothing but errors
  -v, --verbose        print each step and command, and tracebacks on errors
  -V, --version        print pyrun's version
  -h, --help           print this help

environment: PYRUN_CACHE_DIR (cache location), UV (the uv binary to use; pip stands in when
there is no uv), PYRUN_COMPILE=foreground (byte-compile new pool entries before the script
starts, not in the background), PYRUN_CONFIG_DIR (pyrun wsp's settings and trust answers).
exit codes: the script's own; or pyrun's: 64 usage, 65 bad metadata, 66 no script,
67 unresolvable requirement, 68 no matching Python, 69 no network, 70 internal error,
71 install failure, 73 cache unusable, 130 interrupted. See docs/reference.md.
"""

SUBCOMMANDS = ("run", "cache", "wsp", "python", "env")

CACHE_USAGE = """\
usage: pyrun cache dir                          print the cache directory
       pyrun cache info [--unused-for DAYS] [--json]
                                                environments, pool entries, sizes, what is unused
       pyrun cache prune [--unused-for DAYS]    remove environments unused for DAYS (default 30),
                                                then pool entries no environment uses
       pyrun cache clean                        remove every environment and pool entry
Locked (being built) and running environments are always left alone.
"""


class Args:
    """The parsed command line (a plain class: ``dataclasses`` costs a warm run 12 ms)."""

    def __init__(self) -> None:
        self.script: str | None = None
        self.script_args: list[str] = []
        self.python: str | None = None
        self.with_requirements: list[str] = []
        self.upgrade = False
        self.offline = False
        self.link_mode = "auto"
        self.verbosity = 0
        self.help = False
        self.version = False
        self.error: str | None = None


def parse_args(argv: list[str]) -> Args:
    """Parse ``argv`` (without the program name). Problems are reported in ``Args.error``."""
    args = Args()
    i = 0
    if argv and argv[0] == "run":
        i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in ("-p", "--python", "-w", "--with", "--link-mode"):
            if eq:
                value = inline
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                args.error = f"{name} needs a value"
                return args
            if name in ("-p", "--python"):
                args.python = value
            elif name == "--link-mode":
                args.link_mode = value
            else:
                args.with_requirements.append(value)
        elif eq:
            args.error = f"{name} takes no value"
            return args
        elif name in ("-U", "--upgrade"):
            args.upgrade = True
        elif name == "--offline":
            args.offline = True
        elif name in ("-q", "--quiet"):
            args.verbosity = -1
        elif name in ("-v", "--verbose"):
            args.verbosity = max(args.verbosity, 0) + 1
        elif name in ("-V", "--version"):
            args.version = True
        elif name in ("-h", "--help"):
            args.help = True
        else:
            args.error = f"unknown option {arg}"
            return args
        i += 1
    if i < len(argv):
        args.script = argv[i]
        args.script_args = argv[i + 1 :]
    elif not (args.help or args.version):
        args.error = "missing SCRIPT"
    return args


def _fast(args: Args) -> None:
    """Exec the script if its environment is recorded and whole; return otherwise."""
    from pyrun import fastpath
    from pyrun.launch import exec_script

    assert args.script is not None
    try:
        with open(args.script, "rb") as f:
            span = fastpath.block_span(f.read())
    except OSError:
        return  # the slow path explains what is wrong with the script
    key = fastpath.fast_key(
        span, args.python or "", args.with_requirements, sys.executable, args.link_mode
    )
    python = fastpath.lookup(fastpath.cache_root(), key)
    if python is not None:
        if args.verbosity > 0:
            print(f"pyrun: warm: {python}", file=sys.stderr)
        exec_script(python, args.script, args.script_args)
        sys.exit(0)  # pragma: no cover - exec_script returns only off POSIX


def _slow(args: Args) -> int:
    from pyrun.errors import ExitCode, PyrunError
    from pyrun.progress import Reporter

    reporter = Reporter(args.verbosity)
    try:
        from pyrun.runner import RunOptions, run

        assert args.script is not None
        options = RunOptions(
            python=args.python,
            with_requirements=tuple(args.with_requirements),
            upgrade=args.upgrade,
            offline=args.offline,
            link_mode=args.link_mode,
        )
        return run(args.script, args.script_args, options, reporter)
    except PyrunError as exc:
        if args.verbosity > 0:
            import traceback

            traceback.print_exc()
        print(f"pyrun: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pyrun: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: say so, with the traceback
        import traceback

        traceback.print_exc()
        print(f"pyrun: internal error (please report it): {exc!r}", file=sys.stderr)
        return ExitCode.INTERNAL


def cache_main(argv: list[str]) -> int:
    """``pyrun cache ...``: see :data:`CACHE_USAGE` and :mod:`pyrun.maintenance`."""
    from pyrun import maintenance
    from pyrun.cache import Cache

    if not argv or argv[0] in ("-h", "--help") or argv[0] not in ("dir", "info", "prune", "clean"):
        stream = sys.stdout if argv and argv[0] in ("-h", "--help") else sys.stderr
        print(CACHE_USAGE, end="", file=stream)
        return 0 if stream is sys.stdout else 64
    command, rest = argv[0], argv[1:]
    days, as_json = maintenance.DEFAULT_MAX_AGE_DAYS, False
    while rest:
        opt = rest.pop(0)
        name, eq, value = opt.partition("=")
        if name == "--unused-for" and command in ("info", "prune"):
            value = value if eq else (rest.pop(0) if rest else "")
            try:
                days = float(value)
            except ValueError:
                print(f"pyrun: error: --unused-for needs a number of days, not {value!r}",
                      file=sys.stderr)
                return 64
        elif opt == "--json" and command == "info":
            as_json = True
        else:
            print(f"pyrun: error: unknown option {opt} for cache {command}\n\n{CACHE_USAGE}",
                  end="", file=sys.stderr)
            return 64
    cache = Cache()
    if command == "dir":
        print(cache.root)
        return 0
    try:
        return _cache_command(command, cache, days, as_json)
    except OSError as exc:
        print(f"pyrun: error: cannot {command} the cache at {cache.root}: {exc}", file=sys.stderr)
        return 73


def _cache_command(command: str, cache: Cache, days: float, as_json: bool) -> int:
    import json

    from pyrun import maintenance

    if command == "info":
        found = maintenance.info(cache, days)
        if as_json:
            print(json.dumps({
                "root": str(found.root),
                "size_bytes": found.size_bytes,
                "environments": [{"path": str(e.path), "last_used": e.last_used,
                                  "entries": list(e.entries)} for e in found.environments],
                "entries": list(found.entries),
                "unused_environments": [str(e.path) for e in found.unused],
                "unreferenced_entries": list(found.unreferenced),
                "unused_for_days": days,
            }, indent=1))
        else:
            print(f"cache: {found.root} ({found.size_bytes / 2**20:.1f} MiB)")
            print(f"environments: {len(found.environments)} "
                  f"({len(found.unused)} unused for {days:g} days)")
            print(f"pool entries: {len(found.entries)} "
                  f"({len(found.unreferenced)} used by no environment)")
        return 0
    result = maintenance.prune(cache, days) if command == "prune" else maintenance.clean(cache)
    print(f"removed {len(result.environments)} environment(s) and "
          f"{len(result.entries)} pool entr{'y' if len(result.entries) == 1 else 'ies'}")
    for path, why in result.skipped:
        print(f"skipped {path}: {why}")
    return 0


def editor_main(command: str, argv: list[str]) -> int:
    """``pyrun python SCRIPT`` (print the environment's interpreter, building it if needed) and
    ``pyrun env SCRIPT --record`` (append the environment to ``.python-envs`` beside SCRIPT):
    how an editor finds the interpreter of a script with inline metadata."""
    record = "--record" in argv
    rest = [a for a in argv if a != "--record"]
    if len(rest) != 1 or (record and command != "env") or (command == "env" and not record):
        usage = "pyrun python SCRIPT" if command == "python" else "pyrun env SCRIPT --record"
        print(f"pyrun: error: usage: {usage}", file=sys.stderr)
        return 64
    from pyrun.errors import PyrunError
    from pyrun.progress import Reporter
    from pyrun.runner import prepare

    script = rest[0]
    try:
        env = prepare(script, reporter=Reporter(0))
    except PyrunError as exc:
        print(f"pyrun: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if command == "python":
        print(env.python)
        return 0
    from pathlib import Path

    from pyrun.wsp import pythonenvs

    directory = os.path.dirname(os.path.abspath(script))
    try:
        pythonenvs.append(Path(directory), env.path)
        from pyrun.cache import Cache

        listing = Path(directory) / pythonenvs.FILE_NAME
        Cache().record_reference(env.path, [], listed_in=listing)  # a prune keeps it
    except (pythonenvs.PythonEnvsError, OSError) as exc:
        print(f"pyrun: error: cannot record the environment: {exc}", file=sys.stderr)
        return 73
    print(env.path)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pyrun`` command. Returns the exit code (the script's, or pyrun's)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "cache":
        return cache_main(argv[1:])
    if argv and argv[0] == "wsp":
        from pyrun.wsp.cli import main as wsp_main

        return wsp_main(argv[1:])
    if argv and argv[0] in ("python", "env"):
        return editor_main(argv[0], argv[1:])
    args = parse_args(argv)
    if args.help:
        print(USAGE, end="")
        return 0
    if args.version:
        print(f"pyrun {__version__}")
        return 0
    if args.error:
        print(f"pyrun: error: {args.error}\n\n{USAGE}", end="", file=sys.stderr)
        return 64
    if not args.upgrade and os.name == "posix":
        _fast(args)
    return _slow(args)
