"""The ``pyrun`` command: a thin front end over :mod:`pyrun.engine`, and the only place (with
``pyrun wsp``'s :mod:`pyrun.cli.wsp`) that prints errors and exits.

Usage::

    pyrun [OPTIONS] SCRIPT [ARGS...]
    pyrun run [OPTIONS] SCRIPT [ARGS...]     (for a script named like a subcommand)
    pyrun cache|python|env|wsp ...

Everything after SCRIPT goes to the script unchanged. A run first tries the warm path: a small
hand scan of the options (:func:`warm_options`, no ``argparse``: a warm run must start the
script within a few milliseconds and imports only :mod:`pyrun.fastpath`, :mod:`pyrun.layout`,
:mod:`pyrun.launch` and :mod:`pyrun.inprocess`). Anything the scan does not take as plainly
warm goes to ``argparse`` (:func:`pyrun.cli.parsing.run_parser`); a subcommand goes to its
module, as the command table (:data:`COMMANDS`) says. Every error goes through
:func:`pyrun.errors.report`, here.

The modules: :mod:`pyrun.cli.parsing` (the run parser and the options shared by commands),
one module per command (:mod:`~pyrun.cli.run`, :mod:`~pyrun.cli.cache`,
:mod:`~pyrun.cli.envs`, :mod:`~pyrun.cli.edit`, :mod:`~pyrun.cli.lock`,
:mod:`~pyrun.cli.completion`, :mod:`~pyrun.cli.wsp`), each with ``parser(command)`` and
``main(command, argv, edge)`` (:mod:`~pyrun.cli.run`'s ``main`` takes the warm scan's
options and the script's bytes too: ``main(argv, edge, data, warm)``).
"""

# No ``from __future__ import annotations``: importing ``__future__`` costs a warm run a module
# load. Annotations that Python 3.9 cannot evaluate are written as strings.

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs a warm run 3 ms
if TYPE_CHECKING:
    from types import ModuleType

    from pyrun.engine import Asked

#: The command table, which the parser's help (:data:`pyrun.cli.parsing.EPILOG`), :func:`main`
#: and shell completion (:func:`pyrun.cli.completion.table`) all read: each subcommand's name,
#: the module that parses and runs it (its ``parser(command)`` and ``main(command, argv,
#: edge)``), its usage and what it does, as ``pyrun --help`` lists them. Plain tuples: the
#: warm path reads the names.
COMMANDS = (
    ("run", "pyrun.cli.run", "pyrun run [OPTIONS] SCRIPT [ARGS...]",
     "run SCRIPT (for a script named like a subcommand)"),
    ("cache", "pyrun.cli.cache", "pyrun cache dir|info|prune|clean|verify|seed",
     "manage the cache (pyrun cache --help)"),
    ("python", "pyrun.cli.envs", "pyrun python SCRIPT",
     "print the interpreter of SCRIPT's environment"),
    ("env", "pyrun.cli.envs", "pyrun env SCRIPT --record",
     "add SCRIPT's environment to .python-envs beside it"),
    ("init", "pyrun.cli.edit", "pyrun init SCRIPT [-d REQ]...",
     "a new script with an inline metadata block"),
    ("add", "pyrun.cli.edit", "pyrun add SCRIPT REQ...",
     "add requirements to SCRIPT's block (resolved once)"),
    ("remove", "pyrun.cli.edit", "pyrun remove SCRIPT NAME...",
     "remove requirements from SCRIPT's block"),
    ("lock", "pyrun.cli.lock", "pyrun lock SCRIPT",
     "write SCRIPT.lock beside it, as `uv lock --script`"),
    ("completion", "pyrun.cli.completion", "pyrun completion bash|zsh|fish",
     "print the shell completion script"),
    ("export", "pyrun.cli.lock", "pyrun export SCRIPT [-o FILE]",
     "print (or write) SCRIPT's lock as PEP 751 pylock.toml\n(or --format requirements.txt)"),
    ("tree", "pyrun.cli.lock", "pyrun tree SCRIPT [--outdated]",
     "print SCRIPT's dependency tree, as `uv tree --script`"),
    ("outdated", "pyrun.cli.outdated", "pyrun outdated [PATH...] [-r]",
     "scripts' requirements with newer releases, one table"),
    ("upgrade", "pyrun.cli.outdated", "pyrun upgrade SCRIPT [PACKAGE...]",
     "raise SCRIPT's lower bounds (and update its lock)"),
    ("install", "pyrun.cli.install", "pyrun install SCRIPT [--name NAME]",
     "make SCRIPT a command in ~/.local/bin (kept from prune)"),
    ("uninstall", "pyrun.cli.install", "pyrun uninstall NAME",
     "remove a command `pyrun install` made"),
    ("list", "pyrun.cli.listing", "pyrun list [--json]",
     "environments: scripts, Python, size, last use; commands"),
    ("bundle", "pyrun.cli.bundle", "pyrun bundle SCRIPT... -o DIR [--tar FILE]",
     "what SCRIPTs need to run offline (pyrun --bundle DIR)"),
    ("wsp", "pyrun.cli.wsp", "pyrun wsp ...",
     "the workflow server protocol (pyrun wsp --help)"),
)

SUBCOMMANDS = tuple(c[0] for c in COMMANDS)


def command_module(name: str) -> "ModuleType":
    """The module of subcommand ``name`` (:data:`COMMANDS`), imported. The package reaches its
    command modules only through the table (they build on this module: :class:`Edge`,
    :class:`WarmOptions`), so the import graph has no cycle."""
    import importlib

    return importlib.import_module(next(c[1] for c in COMMANDS if c[0] == name))


class WarmOptions:
    """What the warm path needs from the command line, and all a cold run needs of a command
    line the warm scan understood (a plain class: ``dataclasses`` costs a warm run 12 ms)."""

    def __init__(self) -> None:
        self.script = ""
        self.script_args: list[str] = []
        self.python = ""
        self.with_requirements: list[str] = []
        self.composition = "auto"
        self.lock_mode = ""
        self.verbosity = 0  # -1 with -q (whatever -v says, as argparse), else the number of -v
        self.offline = False
        self.no_ops: list[str] = []
        self.early: "Asked | None" = None  # uv asked which Python, after a miss


#: uv's flags that mean nothing for pyrun, accepted on the warm path too.
_NO_OPS = ("--isolated", "--exact", "--no-project", "--no-sync", "--no-python-downloads")

#: The no-op flags uv itself warns of for a script, and its words.
_UV_WARNS = ("--no-sync", "--isolated")
_NO_OP_WARNING = ("pyrun: warning: `{flag}` is a no-op for Python scripts with inline metadata, "
                  "which always run in isolation")


def warm_options(argv: list[str]) -> "WarmOptions | None":
    """The options of a run that may take the warm path, or None when it may not: it asks for
    ``--upgrade``, help or the version, uses the deprecated ``--link-mode`` (the slow path
    warns), ``UV_ENV_FILE`` is set, or it holds anything this scan does not know (combined
    short options); ``argparse`` then decides (:func:`pyrun.cli.parsing.run_parser`)."""
    if (os.environ.get("UV_ENV_FILE", "").strip()
            and os.environ.get("UV_NO_ENV_FILE", "").lower() not in _TRUE):
        return None  # the engine reads the dotenv files (and says what is wrong with them)
    found = WarmOptions()
    i = 1 if argv[:1] == ["run"] else 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if len(arg) > 2 and arg[1] != "-" and not arg[1:].strip("vq"):  # -vv, -qv: one by one
            argv = [*argv[:i], *(f"-{c}" for c in arg[1:]), *argv[i + 1:]]
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in ("-p", "--python", "-w", "--with", "--composition"):
            if not eq:
                if i + 1 >= len(argv):
                    return None
                i += 1
                value = argv[i]
            if name in ("-p", "--python"):
                found.python = value
            elif name in ("-w", "--with"):
                found.with_requirements.append(value)
            else:
                found.composition = value
        elif eq or name not in ("--offline", "-q", "--quiet", "-v", "--verbose", "--locked",
                                "--frozen", *_NO_OPS):
            return None
        elif name in _NO_OPS:
            found.no_ops.append(name)
        elif name in ("-v", "--verbose"):
            found.verbosity += found.verbosity >= 0
        elif name in ("-q", "--quiet"):
            found.verbosity = -1
        elif name == "--offline":
            found.offline = True
        elif name in ("--locked", "--frozen"):
            if found.lock_mode and found.lock_mode != name[2:]:
                return None  # both: argparse says so
            found.lock_mode = name[2:]
        i += 1
    if i >= len(argv):
        return None
    found.script = argv[i]
    found.script_args = argv[i + 1 :]
    return found


def warm_key(options: WarmOptions, data: bytes, block: bool = False) -> str:
    """The fast key the warm scan looks up for ``options`` and the script's bytes ``data``
    (:func:`pyrun.fastpath.script_key`, the same assembly as the engine's); with ``block``,
    the block key."""
    from pyrun import fastpath

    return fastpath.script_key(data, options.script, options.python, options.with_requirements,
                               options.composition, lock_mode=options.lock_mode, block=block)


def _warm(options: WarmOptions) -> "bytes | None":
    """Exec the script if its environment is recorded and whole; else return the script's
    bytes (None when it cannot be read: the engine explains why)."""
    from pyrun import fastpath, layout
    from pyrun.launch import exec_script

    limit = 10 * 2**20  # pyrun.script.metadata.MAX_PIPED_BYTES (a test holds them equal)
    try:
        if options.script == "-":  # the script on standard input, read once
            regular, data = False, sys.stdin.buffer.read(limit + 1)
        else:
            with open(options.script, "rb") as f:
                regular = os.fstat(f.fileno()).st_mode & 0o170000 == 0o100000
                data = f.read() if regular else f.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit and not regular:  # read once: said here, as the engine says it
        from pyrun.errors import report
        from pyrun.script.metadata import piped_too_large

        sys.exit(report(piped_too_large(options.script), options.verbosity))
    if options.verbosity >= 0:
        for flag in sorted(set(options.no_ops) & set(_UV_WARNS), key=_UV_WARNS.index):
            print(_NO_OP_WARNING.format(flag=flag), file=sys.stderr)
    root = layout.cache_root()
    key = warm_key(options, data)
    python = fastpath.lookup(root, key)
    if python is None:  # the same block, under settings its installer never reads (cron)?
        block = warm_key(options, data, block=True)
        python = fastpath.lookup_block(root, block, options.script)
        if python is not None:
            fastpath.adopt(root, key, block)
    if python is not None:
        line = fastpath.unclosed(data) if options.verbosity >= 0 else 0
        if line:  # said on every run, as the engine says it
            print("pyrun: " + fastpath.UNCLOSED.format(path=options.script, line=line),
                  file=sys.stderr)
        if options.verbosity > 0:
            from pyrun.inprocess import eligible

            how = " (in this process)" if eligible(python) else ""
            print(f"pyrun: warm: {python}{how}", file=sys.stderr)
        try:  # a pipe or FIFO was read here: the interpreter gets the bytes from a copy
            script = options.script if regular else layout.runnable_copy(root, data)
            code = exec_script(python, script, options.script_args, in_process=True)
        except OSError:  # removed by a clean meanwhile, say: the engine builds it again
            return data
        sys.exit(code)  # the script ran in this process, or (off POSIX) as a child
    if regular and not options.python and fastpath.block_span(data):
        # a cold run: uv's choice of the interpreter runs while the engine is imported
        # (its answer is taken, or the process stopped, by pyrun.engine.preparing)
        from pyrun.engine import ask_early, uv_binary

        uv = uv_binary()  # without importing the installers: uv starts sooner
        if uv is None:
            from pyrun.engine import find_uv
            from pyrun.errors import ToolNotFoundError

            try:
                uv = find_uv()
            except ToolNotFoundError:
                pass
        options.early = ask_early(uv, options.script) if uv else None
        if options.early is not None and not (options.with_requirements or options.lock_mode
                                              or options.offline):
            options.early.resolve_ahead(uv, data, options.verbosity)  # type: ignore[arg-type]
    return data


# -- argparse ---------------------------------------------------------------------------------


#: clap's boolean values, as uv reads ``UV_NO_ENV_FILE`` (any case).
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})


class Edge:
    """What the one error edge (:func:`main`) needs to know of a command: its verbosity, once
    its options are parsed."""

    def __init__(self) -> None:
        self.verbosity = 0


def die_by_sigint() -> None:
    """End this process by SIGINT, as the shell's own commands do after Ctrl-C (once the
    cleanup has run), so that a shell loop or ``make`` around pyrun stops too; 130 where
    there are no signals. Does not return on POSIX."""
    import signal

    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


def main(argv: "list[str] | None" = None) -> int:
    """Entry point of the ``pyrun`` command. Returns the exit code (the script's, or pyrun's).

    The warm path first; else the subcommand, inside the one error edge: whatever any
    subcommand raises becomes one message and an exit code here (:func:`pyrun.errors.report`).
    """
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # a newcomer typing `pyrun`: what it does and its commands, not an error
        command_module("run").parser("run").print_help()
        return 0
    first = argv[0]
    data, warm = None, None
    if first not in SUBCOMMANDS[1:] and os.name == "posix":
        warm = warm_options(argv)
        if warm is not None:
            data = _warm(warm)
    edge = Edge()
    try:
        if first in SUBCOMMANDS[1:]:
            code: int = command_module(first).main(first, argv[1:], edge)
        else:
            code = command_module("run").main(argv, edge, data, warm)
        return code
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # `pyrun wsp environment/list | head`: the reader left; say nothing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's final flush of stdout must not fail
        return 141  # 128 + SIGPIPE, as a shell reports a command a pipe's end closed on
    except BaseException as exc:
        from pyrun.errors import report

        code = report(exc, edge.verbosity)
        if isinstance(exc, KeyboardInterrupt):
            die_by_sigint()
        return code
