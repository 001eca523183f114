"""The ``pyrun`` command: a thin front end over :mod:`pyrun.engine`, and the only place (with
``pyrun wsp``'s :mod:`pyrun.cli.wsp`) that prints errors and exits.

Usage::

    pyrun [OPTIONS] SCRIPT [ARGS...]
    pyrun run [OPTIONS] SCRIPT [ARGS...]     (for a script named like a subcommand)
    pyrun cache|python|env|wsp ...

Everything after SCRIPT goes to the script unchanged. A run first tries the warm path: a small
hand scan of the options (:func:`warm_options`, no ``argparse``: a warm run must start the
script within a few milliseconds and imports only :mod:`pyrun.fastpath` and
:mod:`pyrun.launch`). Anything the scan does not take as plainly warm goes to ``argparse``
(:func:`run_parser`), which parses every subcommand; every error goes through
:func:`pyrun.errors.report`.
"""

# No ``from __future__ import annotations``: importing ``__future__`` costs a warm run a module
# load. Annotations that Python 3.9 cannot evaluate are written as strings.

import os
import sys

from pyrun import DOCS_URL, __version__

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs a warm run 3 ms
if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    from pyrun.cli.completion import Command
    from pyrun.engine import RunOptions
    from pyrun.engine import Asked

SUBCOMMANDS = ("run", "cache", "wsp", "python", "env", "lock", "export", "tree", "init", "add",
               "remove", "completion")

#: ``--composition``'s values (:data:`pyrun.engine.composition.COMPOSITIONS`, which a unit test
#: compares: the CLI does not import the composition module to build its parser).
COMPOSITIONS = ("auto", "pooled", "link-farm")

#: The deprecated ``--link-mode`` values and the ``--composition`` each means (for one release).
LINK_MODE_ALIASES = {"auto": "auto", "pth": "pooled", "farm": "link-farm"}

EPILOG = """\
subcommands:
  pyrun cache dir|info|prune|clean|verify
                                     manage the cache (pyrun cache --help)
  pyrun python SCRIPT                print the interpreter of SCRIPT's environment
  pyrun env SCRIPT --record          add SCRIPT's environment to .python-envs beside it
  pyrun init SCRIPT [-d REQ]...      a new script with an inline metadata block
  pyrun add SCRIPT REQ...            add requirements to SCRIPT's block (resolved once)
  pyrun remove SCRIPT NAME...        remove requirements from SCRIPT's block
  pyrun lock SCRIPT                  write SCRIPT.lock beside it, as `uv lock --script`
  pyrun completion bash|zsh|fish     print the shell completion script
  pyrun export SCRIPT [-o FILE]      print (or write) SCRIPT's lock as PEP 751 pylock.toml
                                     (or --format requirements.txt)
  pyrun tree SCRIPT [--outdated]     print SCRIPT's dependency tree, as `uv tree --script`
  pyrun wsp ...                      the workflow server protocol (pyrun wsp --help)

environment: PYRUN_CACHE_DIR (cache location), UV (the uv binary to use; pip stands in when
there is no uv), PYRUN_COMPILE=foreground (byte-compile new pool entries before the script
starts, not in the background), PYRUN_CONFIG_DIR (pyrun wsp's settings and trust answers).
exit codes: the script's own; or pyrun's: 64 usage, 65 bad metadata, 66 no script,
67 unresolvable requirement, 68 no matching Python, 69 no network, 70 internal error,
71 install failure, 73 cache unusable, 78 bad project file, 130 interrupted; every code, and
what pyrun reads from a script: {docs}reference/
"""


def _version() -> str:
    """``pyrun --version``: pyrun's version and the uv it drives (``uv --version``), or that
    none is found."""
    try:
        from pyrun.engine import find_uv
        from pyrun.subprocesses import run_captured

        uv = find_uv()
        said = run_captured([uv, "--version"], input=b"", environ=os.environ, cwd=None,
                            timeout=30).stdout.decode(errors="replace").strip()
        return f"pyrun {__version__} (drives {said or 'uv'} at {uv})"
    except Exception:  # noqa: BLE001 - no uv: pip stands in
        return f"pyrun {__version__} (uv not found: pip stands in)"


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
    short options); ``argparse`` then decides (:func:`run_parser`)."""
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


def warm_key(options: WarmOptions, data: bytes) -> str:
    """The fast key the warm scan looks up for ``options`` and the script's bytes ``data``
    (:func:`pyrun.fastpath.script_key`, the same assembly as the engine's)."""
    from pyrun import fastpath

    return fastpath.script_key(data, options.script, options.python, options.with_requirements,
                               options.composition, lock_mode=options.lock_mode)


def _warm(options: WarmOptions) -> "bytes | None":
    """Exec the script if its environment is recorded and whole; else return the script's
    bytes (None when it cannot be read: the engine explains why)."""
    from pyrun import fastpath, layout
    from pyrun.launch import exec_script

    try:
        if options.script == "-":  # the script on standard input, read once
            regular, data = False, sys.stdin.buffer.read()
        else:
            with open(options.script, "rb") as f:
                regular = os.fstat(f.fileno()).st_mode & 0o170000 == 0o100000
                data = f.read()
    except OSError:
        return None
    if options.verbosity >= 0:
        for flag in sorted(set(options.no_ops) & set(_UV_WARNS), key=_UV_WARNS.index):
            print(_NO_OP_WARNING.format(flag=flag), file=sys.stderr)
    root = layout.cache_root()
    key = warm_key(options, data)
    python = fastpath.lookup(root, key)
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
            from pyrun.errors import ToolNotFoundError
            from pyrun.engine import find_uv

            try:
                uv = find_uv()
            except ToolNotFoundError:
                pass
        options.early = ask_early(uv, options.script) if uv else None
    return data


# -- argparse ---------------------------------------------------------------------------------


def _parser(prog: str, description: str, **kwargs: object) -> "argparse.ArgumentParser":
    from pyrun.errors import argument_parser

    return argument_parser(prog, description=description, **kwargs)


#: uv's ``--link-mode`` values (how uv places files in an environment).
UV_LINK_MODES = ("clone", "copy", "hardlink", "symlink")


def _environment_options(parser: "argparse.ArgumentParser") -> None:
    """The options that choose a script's environment, shared by run, python and env."""
    parser.add_argument("-p", "--python", metavar="PYTHON",
                        help="interpreter: a version (3.12), a specifier (>=3.11), a command or a path")
    parser.add_argument("-w", "--with", dest="with_requirements", metavar="REQ", action="append",
                        default=[], help="an extra requirement for this run (repeatable)")
    parser.add_argument("--with-editable", dest="with_editables", metavar="PATH",
                        action="append", default=[],
                        help="a local project installed editable for this run (repeatable)")
    parser.add_argument("--with-requirements", dest="with_requirements_files", metavar="FILE",
                        action="append", default=[],
                        help="extra requirements for this run from a requirements FILE "
                        "(repeatable)")
    parser.add_argument("-U", "--upgrade", action="store_true",
                        help="resolve the requirements again instead of reusing the environment "
                        "(and upgrade the lock beside the script, as uv's)")
    parser.add_argument("-P", "--upgrade-package", dest="upgrade_packages", metavar="PACKAGE",
                        action="append", default=[],
                        help="resolve again, upgrading PACKAGE and keeping the other versions "
                        "(repeatable)")
    parser.add_argument("--offline", action="store_true",
                        help="never touch the network; use only what is cached")
    parser.add_argument("--composition", choices=COMPOSITIONS,
                        help="auto (default), pooled (pool directories on sys.path) or "
                        "link-farm (the pool's files hardlinked into one site-packages)")
    parser.add_argument("--link-mode", choices=(*LINK_MODE_ALIASES, *UV_LINK_MODES),
                        help="uv's link mode (clone, copy, hardlink, symlink): accepted, and "
                        "does not apply to pyrun's pool; pth and farm: deprecated spellings of "
                        "--composition pooled and link-farm")
    index = parser.add_argument_group("index options (as uv's; on top of the script's [tool.uv])")
    index.add_argument("--index", metavar="URL", action="append", default=[],
                       help="an index to use beside the default (repeatable)")
    index.add_argument("--default-index", metavar="URL", help="the default index (PyPI's place)")
    index.add_argument("--index-url", metavar="URL", help="the same, as pip calls it")
    index.add_argument("--extra-index-url", metavar="URL", action="append", default=[],
                       help="an extra index, as pip calls it (repeatable)")
    index.add_argument("-f", "--find-links", metavar="PATH", action="append", default=[],
                       help="a directory or page of distributions (repeatable)")
    index.add_argument("--no-index", action="store_true", help="use no index at all")
    index.add_argument("--index-strategy", metavar="STRATEGY",
                       help="first-index (default), unsafe-first-match or unsafe-best-match")
    uv = parser.add_argument_group(
        "resolver and installer settings",
        "uv run's options, read by uv, above the script's [tool.uv]")
    for flag in ("no-sources", "reinstall", "compile-bytecode", "no-build-isolation",
                 "no-build", "no-binary", "system-certs"):
        uv.add_argument(f"--{flag}", action="store_true", help=f"as uv's --{flag}")
    for flag, metavar in (("exclude-newer", "DATE"), ("prerelease", "MODE"),
                          ("resolution", "MODE"), ("fork-strategy", "STRATEGY"),
                          ("keyring-provider", "PROVIDER")):
        uv.add_argument(f"--{flag}", metavar=metavar, help=f"as uv's --{flag}")
    for flag, metavar in (("exclude-newer-package", "PACKAGE=DATE"),
                          ("no-sources-package", "PACKAGE"), ("reinstall-package", "PACKAGE"),
                          ("config-settings-package", "PACKAGE:KEY=VALUE"),
                          ("no-build-isolation-package", "PACKAGE"),
                          ("no-build-package", "PACKAGE"), ("no-binary-package", "PACKAGE"),
                          ("allow-insecure-host", "HOST")):
        uv.add_argument(f"--{flag}", metavar=metavar, action="append", default=[],
                        help=f"as uv's --{flag} (repeatable)")
    uv.add_argument("-C", "--config-setting", dest="config_settings", metavar="KEY=VALUE",
                    action="append", default=[], help="as uv's -C (repeatable)")
    managed = uv.add_mutually_exclusive_group()
    managed.add_argument("--managed-python", dest="python_preference", action="store_const",
                         const="only-managed", help="only uv-managed Pythons, as uv's")
    managed.add_argument("--no-managed-python", dest="python_preference",
                         action="store_const", const="only-system",
                         help="no uv-managed Pythons, as uv's")
    uv.add_argument("--no-python-downloads", action="store_true",
                    help="accepted, as uv's: pyrun never downloads a Python")
    locks = parser.add_argument_group("locks (SCRIPT.lock beside the script, as uv's)")
    mode = locks.add_mutually_exclusive_group()
    mode.add_argument("--locked", dest="lock_mode", action="store_const", const="locked",
                      default="", help="fail if SCRIPT.lock does not match the script")
    mode.add_argument("--frozen", dest="lock_mode", action="store_const", const="frozen",
                      help="use SCRIPT.lock as it is, without checking it")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="print each step and command, and tracebacks on errors")


def run_parser() -> "argparse.ArgumentParser":
    """The parser of ``pyrun [run] [OPTIONS] SCRIPT [ARGS...]``."""
    import argparse

    parser = _parser(
        "pyrun",
        "Run a Python script in an environment with the dependencies its inline script "
        "metadata (PEP 723 `# /// script` block) declares. Everything after SCRIPT is passed "
        "to the script.",
        usage="pyrun [OPTIONS] SCRIPT [ARGS...]\n       pyrun run [OPTIONS] SCRIPT [ARGS...]",
        epilog=EPILOG.format(docs=DOCS_URL),
    )
    _environment_options(parser)
    parser.add_argument("--lock", metavar="FILE", help="install exactly what the PEP 751 lock "
                        "FILE (pylock.toml, from `pyrun export`) pins; no resolution")
    parser.add_argument("--refresh", action="store_true",
                        help="resolve again, and have uv revalidate what it cached")
    parser.add_argument("--no-cache", action="store_true",
                        help="use an environment for this run only: built in a temporary "
                        "cache, removed afterwards (nothing added to the pool)")
    parser.add_argument("--env-file", metavar="FILE", action="append", default=[],
                        help="load the script's environment variables from a dotenv FILE "
                        "(repeatable; a later file wins; variables already set win; default: "
                        "$UV_ENV_FILE, space-separated, as uv's)")
    parser.add_argument("--no-env-file", action="store_true",
                        help="load no dotenv file, not even $UV_ENV_FILE (also: UV_NO_ENV_FILE=1)")
    parser.add_argument("-m", "--module", action="store_true",
                        help="run the module named SCRIPT (python -m) in the environment the "
                        "--with requirements make, as `uv run --with REQ -m MODULE`")
    for flag, why in (("isolated", "every environment is composed read-only from the pool"),
                      ("exact", "an environment holds exactly what the script resolves to"),
                      ("no-project", "a script is never part of a project"),
                      ("no-sync", "pyrun builds what a script needs, and nothing more")):
        parser.add_argument(f"--{flag}", action="store_true",
                            help=f"accepted, as uv's; no effect: {why}")
    class Version(argparse.Action):  # the uv found only when asked (a cold run never asks)
        def __call__(self, parser: "argparse.ArgumentParser", *_: object) -> None:
            print(_version())
            parser.exit()

    parser.add_argument("-V", "--version", action=Version, nargs=0, default=argparse.SUPPRESS,
                        help="print pyrun's version and the uv it drives")
    parser.add_argument("script", metavar="SCRIPT", help="the script (use -- before a name "
                        "that starts with -)")
    parser.add_argument("args", metavar="ARGS", nargs=argparse.REMAINDER,
                        help="passed to the script unchanged")
    return parser


def _run_options(ns: "argparse.Namespace") -> "tuple[RunOptions, int]":
    """``(RunOptions, verbosity)`` from parsed environment options; warns about
    ``--link-mode``."""
    from pyrun.engine import RunOptions

    verbosity = -1 if ns.quiet else ns.verbose
    composition = ns.composition or "auto"
    if ns.link_mode in UV_LINK_MODES:
        if verbosity >= 0:
            from pyrun.script.uvsettings import NOT_APPLIED

            print(f"pyrun: warning: --link-mode {ns.link_mode} does not apply: "
                  f"{NOT_APPLIED['link-mode']}", file=sys.stderr)
    elif ns.link_mode is not None:
        if verbosity >= 0:
            print("pyrun: warning: --link-mode is deprecated and will be removed in the next "
                  "release; use --composition " + LINK_MODE_ALIASES[ns.link_mode],
                  file=sys.stderr)
        if ns.composition is None:
            composition = LINK_MODE_ALIASES[ns.link_mode]
    from pyrun.script.requirementsfile import read_requirements

    files = [r for f in ns.with_requirements_files for r in read_requirements(f)]
    options = RunOptions(python=ns.python, with_requirements=(*ns.with_requirements, *files),
                         upgrade=ns.upgrade, upgrade_packages=tuple(ns.upgrade_packages),
                         with_editables=tuple(os.path.abspath(p) for p in ns.with_editables),
                         offline=ns.offline, composition=composition,
                         index=_index_options(ns), lock_mode=ns.lock_mode,
                         lock=getattr(ns, "lock", None), refresh=getattr(ns, "refresh", False),
                         no_cache=getattr(ns, "no_cache", False),
                         env_files=_env_files(ns))
    return options, verbosity


#: clap's boolean values, as uv reads ``UV_NO_ENV_FILE`` (any case).
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"", "0", "false", "f", "no", "n", "off"})


def _env_files(ns: "argparse.Namespace") -> "tuple[str, ...]":
    """The dotenv files a run loads, as ``uv run`` chooses them: none with ``--no-env-file``
    or ``UV_NO_ENV_FILE`` set true; else the ``--env-file`` files, or the space-separated
    ``UV_ENV_FILE``.

    Raises:
        UsageError: there are files to load and ``UV_NO_ENV_FILE`` is not a boolean.
    """
    if not hasattr(ns, "env_file") or ns.no_env_file:
        return ()
    files = tuple(ns.env_file) or tuple(os.environ.get("UV_ENV_FILE", "").split())
    return () if files and _no_env_file() else files


def _no_env_file() -> bool:
    """``UV_NO_ENV_FILE`` set to a true value, as uv reads it (:data:`_TRUE`, :data:`_FALSE`).

    Raises:
        UsageError: another value (uv refuses it too).
    """
    value = os.environ.get("UV_NO_ENV_FILE", "")
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    from pyrun.errors import UsageError

    raise UsageError(f"UV_NO_ENV_FILE={value!r}: not a boolean; use 1 or 0 (as uv)")


def _index_options(ns: "argparse.Namespace") -> "tuple[tuple[str, object], ...]":
    """The index options given, as ``(uvsettings key, value)`` pairs, each value checked: one
    line that cannot be taken for an option.

    Raises:
        UsageError: a value holds a control character or starts with ``-``.
    """
    from pyrun.errors import UsageError

    given: dict[str, object] = {
        "index": tuple(ns.index), "default-index": ns.default_index,
        "index-url": ns.index_url, "extra-index-url": tuple(ns.extra_index_url),
        "find-links": tuple(ns.find_links), "no-index": ns.no_index,
        "index-strategy": ns.index_strategy,
    }
    from pyrun.script.uvsettings import SETTINGS

    for key in SETTINGS:
        dest = "config_settings" if key == "config-settings" else key.replace("-", "_")
        value = getattr(ns, dest, None)
        given[key] = tuple(value) if isinstance(value, list) else value
    out = []
    for key, value in given.items():
        if value in (None, (), False):
            continue
        for text in value if isinstance(value, tuple) else [value]:
            if isinstance(text, str) and (text.startswith("-") or any(c < " " for c in text)):
                raise UsageError(f"--{key} {text!r}: a value is one line, not starting "
                                 "with -")
        out.append((key, value))
    try:
        from pyrun.script.uvsettings import overlay

        overlay(dict(out))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return tuple(out)


class Edge:
    """What the one error edge (:func:`main`) needs to know of a command: its verbosity, once
    its options are parsed."""

    def __init__(self) -> None:
        self.verbosity = 0


def run_main(argv: list[str], edge: Edge, data: "bytes | None" = None,
             warm: "WarmOptions | None" = None) -> int:
    """``pyrun [run] [OPTIONS] SCRIPT [ARGS...]`` on the slow path: :func:`pyrun.engine.run`
    with the options ``warm`` (the warm scan's, which found no environment; ``data``: the
    script's bytes it read) when it understood the whole command line, else as ``argparse``
    parses them (building the parser costs a cold run about 8 ms)."""
    from pyrun.engine import Reporter, RunOptions, run, run_module
    from pyrun.errors import ScriptNotFoundError

    if warm is not None and warm.composition in COMPOSITIONS:
        script, args = warm.script, warm.script_args
        edge.verbosity = warm.verbosity
        options = RunOptions(python=warm.python or None,
                             with_requirements=tuple(warm.with_requirements),
                             offline=warm.offline, composition=warm.composition,
                             lock_mode=warm.lock_mode)
    else:
        ns = run_parser().parse_args(argv[1:] if argv[:1] == ["run"] else argv)
        options, edge.verbosity = _run_options(ns)
        if warm is None and edge.verbosity >= 0:  # else the warm scan said it
            for flag in _UV_WARNS:
                if getattr(ns, flag[2:].replace("-", "_")):
                    print(_NO_OP_WARNING.format(flag=flag), file=sys.stderr)
        script, args = ns.script, script_args(argv, ns.script, ns.args)
        data = data if warm is not None and ns.script == warm.script else None
        if ns.module:
            return run_module(script, args, options, Reporter(edge.verbosity))
    try:
        return run(script, args, options, Reporter(edge.verbosity), data=data,
                   early=warm.early if warm is not None else None)
    except ScriptNotFoundError as exc:
        hint = _subcommand_hint(script, argv)
        if hint:
            raise ScriptNotFoundError(exc.path, f"{exc}; {hint}") from None
        raise


def _subcommand_hint(script: str, argv: list[str]) -> str:
    """``did you mean `pyrun add`?`` when a missing SCRIPT looks like a mistyped
    subcommand (a bare word close to one), else ``""``."""
    import difflib

    from pyrun.errors import CLOSE

    if os.sep in script or "." in script or argv[:1] == ["run"]:
        return ""
    close = difflib.get_close_matches(script, SUBCOMMANDS[1:], n=1, cutoff=CLOSE)
    return f"did you mean `pyrun {close[0]}`?" if close else ""


def script_args(argv: list[str], script: str, parsed: list[str]) -> list[str]:
    """The arguments after SCRIPT exactly as given: ``argparse`` drops a ``--`` that follows
    SCRIPT (``pyrun x.py -- a``), which belongs to the script."""
    for i, arg in enumerate(argv):
        if arg == script and argv[i + 1:] in (parsed, ["--", *parsed]):
            return argv[i + 1:]
    return parsed  # pragma: no cover - argparse took SCRIPT from argv


# -- pyrun cache ------------------------------------------------------------------------------


def cache_parser() -> "argparse.ArgumentParser":
    """The parser of ``pyrun cache dir|info|prune|clean``."""
    parser = _parser("pyrun cache", "Manage pyrun's cache. Locked (being built) and running "
                     "environments are always left alone.", usage=(
                         "pyrun cache dir | info [--unused-for DAYS] [--json] | "
                         "prune [--unused-for DAYS] | clean | verify"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     prog="pyrun cache",
                                     parser_class=type(parser))
    commands.add_parser("dir", help="print the cache directory",
                        description="Print the cache directory.")
    for name, text in (
        ("info", "environments, pool entries, sizes, and what is unused"),
        ("prune", "remove environments unused for DAYS (default 30), then pool entries no "
                  "environment uses"),
    ):
        sub = commands.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")
        sub.add_argument("--unused-for", metavar="DAYS", type=_days, default=30.0,
                         help="the age in days after which an environment is unused (default 30)")
        if name == "info":
            sub.add_argument("--json", action="store_true", help="print JSON")
    commands.add_parser("clean", help="remove every environment and pool entry",
                        description="Remove every environment and pool entry.")
    commands.add_parser(
        "verify", help="check every pool file against its wheel's RECORD hash",
        description="Check every file of every pool entry against the sha256 its wheel's "
        "RECORD gives (reads every file; a build only compares sizes and mtimes). A damaged "
        "entry is removed with the environments that use it; the next run reinstalls it.")
    return parser


def _days(text: str) -> float:
    """``--unused-for``'s value: a number of days, 0 or more."""
    import argparse

    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"needs a number of days, not {text!r}")
    return days


def cache_main(argv: list[str]) -> int:
    """``pyrun cache ...``: see :func:`cache_parser` and :mod:`pyrun.store.maintenance`.

    Raises:
        UsageError: a bad command line. CacheError: the cache cannot be read or changed.
    """
    import json

    from pyrun.store import maintenance
    from pyrun.store.cache import Cache
    from pyrun.errors import CacheError

    ns = cache_parser().parse_args(argv)
    cache = Cache()
    if ns.command == "dir":
        print(cache.root)
        return 0
    cache.check()
    try:
        if ns.command == "info":
            found = maintenance.info(cache, ns.unused_for)
            for warning in maintenance.warnings(cache):
                print(f"pyrun: warning: {warning}", file=sys.stderr)
            if ns.json:
                print(json.dumps({
                    "root": str(found.root),
                    "size_bytes": found.size_bytes,
                    "environments": [{"path": str(e.path), "last_used": e.last_used,
                                      "entries": list(e.entries)} for e in found.environments],
                    "entries": list(found.entries),
                    "unused_environments": [str(e.path) for e in found.unused],
                    "unreferenced_entries": list(found.unreferenced),
                    "unused_for_days": ns.unused_for,
                }, indent=1))
            else:
                print(f"cache: {found.root} ({found.size_bytes / 2**20:.1f} MiB)")
                print(f"environments: {len(found.environments)} "
                      f"({len(found.unused)} unused for {ns.unused_for:g} days)")
                print(f"pool entries: {len(found.entries)} "
                      f"({len(found.unreferenced)} used by no environment)")
            return 0
        if ns.command == "verify":
            checked = maintenance.verify(cache)
            for key, why in checked.damaged:
                print(f"damaged: {key}: {why}")
            for path in checked.removed:
                print(f"removed {path}")
            for path, why in checked.skipped:
                print(f"skipped {path}: {why}")
            print(f"verified {checked.entries} pool entr"
                  f"{'y' if checked.entries == 1 else 'ies'}: {len(checked.damaged)} damaged")
            return 0
        if ns.command == "prune":
            result = maintenance.prune(cache, ns.unused_for)
        else:
            result = maintenance.clean(cache)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise CacheError(str(exc.filename or cache.root), f"cannot {ns.command} the cache at "
                         f"{cache.root}: {exc.strerror or exc}{where}") from exc
    print(f"removed {len(result.environments)} environment(s) and "
          f"{len(result.entries)} pool entr{'y' if len(result.entries) == 1 else 'ies'}")
    for path, why in result.skipped:
        print(f"skipped {path}: {why}")
    return 0


# -- pyrun python, pyrun env ------------------------------------------------------------------


def editor_parser(command: str) -> "argparse.ArgumentParser":
    """The parser of ``pyrun python SCRIPT`` or ``pyrun env SCRIPT --record``."""
    if command == "python":
        parser = _parser("pyrun python", "Print the interpreter of SCRIPT's environment "
                         "(building the environment if needed): for an editor.")
    else:
        parser = _parser("pyrun env", "Append SCRIPT's environment (built if needed) to the "
                         ".python-envs file beside SCRIPT, so that editors find it; a "
                         "prune keeps it while the file lists it.")
        parser.add_argument("--record", action="store_true", required=True,
                            help="append the environment to .python-envs")
    _environment_options(parser)
    parser.add_argument("script", metavar="SCRIPT")
    return parser


def editor_main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun python SCRIPT`` (print the environment's interpreter, building it if needed) and
    ``pyrun env SCRIPT --record`` (append the environment to ``.python-envs`` beside SCRIPT):
    how an editor finds the interpreter of a script with inline metadata.

    Raises:
        The errors of :func:`pyrun.engine.preparing`, and of :func:`_record`.
    """
    from pyrun.engine import Reporter, prepare

    ns = editor_parser(command).parse_args(argv)
    options, edge.verbosity = _run_options(ns)
    env = prepare(ns.script, options, Reporter(edge.verbosity))
    if command == "python":
        print(env.python)
        return 0
    _record(ns.script, env.path)
    print(env.path)
    return 0


def edit_parser(command: str) -> "argparse.ArgumentParser":
    """The parser of ``pyrun init``, ``pyrun add`` or ``pyrun remove``."""
    from pyrun.engine import BOUNDS

    if command == "init":
        parser = _parser("pyrun init", "Make a new script with an inline metadata block "
                         "(PEP 723), as `uv init --script` does.")
        parser.add_argument("script", metavar="SCRIPT")
        parser.add_argument("-p", "--python", metavar="PYTHON",
                            help="its requires-python: at least this interpreter's version")
        parser.add_argument("-d", "--dependency", dest="values", metavar="REQ",
                            action="append", default=[], help="a requirement (repeatable)")
    elif command == "add":
        parser = _parser("pyrun add", "Add requirements to SCRIPT's inline metadata block "
                         "(made where there is none), as `uv add --script` does: each is "
                         "resolved once, so it is known to exist. The rest of the file is kept "
                         "byte for byte.")
        parser.add_argument("-p", "--python", metavar="PYTHON",
                            help="the interpreter to resolve for (default: as pyrun chooses)")
        parser.add_argument("--bounds", choices=BOUNDS,
                            help="the version bound each gets (uv's --bounds; default lower)")
        parser.add_argument("-r", "--requirements", metavar="FILE", action="append",
                            default=[], help="add the requirements of FILE too (repeatable)")
        parser.add_argument("--index", metavar="URL", action="append", default=[],
                            help="an index to resolve from, recorded in the block as uv's "
                            "--index records it (repeatable)")
        parser.add_argument("--raw", action="store_true",
                            help="add each requirement as written, with no bound (uv's --raw)")
        parser.add_argument("--frozen", action="store_true",
                            help="add without resolving (uv's --frozen)")
        parser.add_argument("script", metavar="SCRIPT")
        parser.add_argument("values", metavar="REQ", nargs="*")
    else:
        parser = _parser("pyrun remove", "Remove requirements from SCRIPT's inline metadata "
                         "block, as `uv remove --script` does.")
        parser.add_argument("script", metavar="SCRIPT")
        parser.add_argument("values", metavar="NAME", nargs="+")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="print each command, and tracebacks on errors")
    return parser


def edit_main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun init|add|remove SCRIPT ...`` (:func:`pyrun.engine.init_script`,
    :func:`~pyrun.engine.add_requirements`, :func:`~pyrun.engine.remove_requirements`)."""
    from pyrun import engine

    parser = edit_parser(command)
    if command == "add":  # options after the requirements too (`add x.py six --frozen`)
        ns, rest = parser.parse_known_args(argv)
        if any(word.startswith("-") for word in rest):
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        ns.values += rest
    else:
        ns = parser.parse_args(argv)
    edge.verbosity = -1 if ns.quiet else ns.verbose
    reporter = engine.Reporter(edge.verbosity)
    options = engine.RunOptions(python=getattr(ns, "python", None))
    if command == "init":
        engine.init_script(ns.script, options, ns.values, reporter)
    elif command == "add":
        from pyrun.errors import UsageError
        from pyrun.script.requirementsfile import read_requirements

        wanted = [*ns.values, *(r for f in ns.requirements for r in read_requirements(f))]
        if not wanted:
            raise UsageError("pyrun add: give at least one requirement, or -r FILE")
        engine.add_requirements(ns.script, wanted, options, ns.bounds, reporter, raw=ns.raw,
                                frozen=ns.frozen, indexes=ns.index)
    else:
        engine.remove_requirements(ns.script, ns.values, reporter)
    if edge.verbosity >= 0:
        print(f"pyrun: updated {ns.script}" if command != "init" else
              f"pyrun: wrote {ns.script}", file=sys.stderr)
    return 0


def completion_parser() -> "argparse.ArgumentParser":
    """The parser of ``pyrun completion SHELL``."""
    parser = _parser("pyrun completion", "Print the completion script for SHELL, generated "
                     "from pyrun's own parsers. Load it from your shell's start-up file: "
                     "bash: eval \"$(pyrun completion bash)\" in ~/.bashrc; zsh: eval "
                     "\"$(pyrun completion zsh)\" in ~/.zshrc, after compinit; fish: pyrun "
                     "completion fish | source in ~/.config/fish/config.fish.")
    from pyrun.cli.completion import SHELLS

    parser.add_argument("shell", metavar="SHELL", choices=SHELLS)
    return parser


def completion_table() -> "dict[str, Command]":
    """``{subcommand: what completes after it}`` from every parser (``""``: a run), for
    :mod:`pyrun.cli.completion`."""
    from pyrun.cli.completion import command_of
    from pyrun.cli.wsp import parser as wsp_parser

    parsers = {
        "": run_parser, "run": run_parser, "cache": cache_parser,
        "python": lambda: editor_parser("python"), "env": lambda: editor_parser("env"),
        "lock": lambda: lock_parser("lock"), "export": lambda: lock_parser("export"),
        "tree": tree_parser, "init": lambda: edit_parser("init"), "add": lambda: edit_parser("add"),
        "remove": lambda: edit_parser("remove"), "wsp": wsp_parser,
        "completion": completion_parser,
    }
    return {name: command_of(make()) for name, make in parsers.items()}


def lock_parser(command: str) -> "argparse.ArgumentParser":
    """The parser of ``pyrun lock SCRIPT`` or ``pyrun export SCRIPT [-o FILE]``."""
    if command == "lock":
        parser = _parser("pyrun lock", "Write or update SCRIPT.lock beside SCRIPT, the lock "
                         "`uv lock --script` writes: pyrun and `uv run --script` then both run "
                         "the versions it pins.")
    else:
        parser = _parser("pyrun export", "Print SCRIPT's requirements locked as a PEP 751 "
                         "pylock.toml (universal: every platform and Python the script "
                         "allows), from SCRIPT.lock when there is one; `pyrun --lock FILE "
                         "SCRIPT` runs from it.")
        parser.add_argument("-o", "--output-file", metavar="FILE",
                            help="write it to FILE (pylock.toml, or pylock.NAME.toml, for "
                            "that format)")
        parser.add_argument("--format", choices=EXPORT_FORMATS, default=EXPORT_FORMATS[0],
                            help="pylock.toml (PEP 751, the default) or requirements.txt (with "
                            "hashes), as uv export writes them")
    _environment_options(parser)
    parser.add_argument("script", metavar="SCRIPT")
    return parser


#: ``pyrun export --format``'s values, as ``uv export --script`` writes them.
EXPORT_FORMATS = ("pylock.toml", "requirements.txt")


def tree_parser() -> "argparse.ArgumentParser":
    """The parser of ``pyrun tree SCRIPT``."""
    parser = _parser("pyrun tree", "Print SCRIPT's dependency tree, as `uv tree --script` "
                     "prints it (uv reads the script, its [tool.uv] and its lock).")
    parser.add_argument("--outdated", action="store_true",
                        help="show the latest release of each package beside its version")
    parser.add_argument("-d", "--depth", type=int, metavar="N", help="at most N levels")
    parser.add_argument("--invert", action="store_true",
                        help="show what depends on each package instead")
    parser.add_argument("--package", metavar="PACKAGE", action="append", default=[],
                        help="only the tree under PACKAGE (repeatable)")
    parser.add_argument("--prune", metavar="PACKAGE", action="append", default=[],
                        help="leave PACKAGE and what only it needs out (repeatable)")
    parser.add_argument("--no-dedupe", action="store_true",
                        help="repeat a package's dependencies wherever it appears")
    parser.add_argument("--universal", action="store_true",
                        help="every platform and Python the script allows, not this one's")
    parser.add_argument("--show-sizes", action="store_true", help="show each package's size")
    _environment_options(parser)
    parser.add_argument("script", metavar="SCRIPT")
    return parser


def tree_main(argv: list[str], edge: Edge) -> int:
    """``pyrun tree SCRIPT`` (:func:`pyrun.engine.tree`).

    Raises:
        UsageError: a package name that is not one; and the errors of that function.
    """
    import re

    from pyrun import engine
    from pyrun.errors import UsageError

    ns = tree_parser().parse_args(argv)
    options, edge.verbosity = _run_options(ns)
    flags = [f"--{f.replace('_', '-')}" for f in ("outdated", "invert", "no_dedupe",
                                                     "universal", "show_sizes") if getattr(ns, f)]
    if ns.depth is not None:
        flags.append(f"--depth={ns.depth}")
    for option in ("package", "prune"):
        for name in getattr(ns, option):
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
                raise UsageError(f"--{option} {name!r}: not a package name")
            flags.append(f"--{option}={name}")
    sys.stdout.write(engine.tree(ns.script, options, flags, engine.Reporter(edge.verbosity)))
    return 0


def lock_main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun lock SCRIPT`` (:func:`pyrun.engine.lock`) and ``pyrun export SCRIPT``
    (:func:`pyrun.engine.export`).

    Raises:
        UsageError: ``-o`` names a file that is not ``pylock.toml`` or ``pylock.NAME.toml``;
        and the errors of those functions.
    """
    from pyrun import engine
    from pyrun.errors import UsageError

    ns = lock_parser(command).parse_args(argv)
    options, edge.verbosity = _run_options(ns)
    if command == "lock":
        path = engine.lock(ns.script, options, engine.Reporter(edge.verbosity))
        if edge.verbosity >= 0:
            print(f"pyrun: wrote {path}", file=sys.stderr)
        return 0
    output = ns.output_file
    if output is not None and ns.format == "pylock.toml" \
            and not _pylock_name(os.path.basename(output)):
        raise UsageError(f"-o {output}: a PEP 751 lock is named pylock.toml or "
                         "pylock.NAME.toml (or give --format requirements.txt)")
    text = engine.export(ns.script, options, engine.Reporter(edge.verbosity), ns.format)
    if output is None:
        sys.stdout.write(text)
        return 0
    from pyrun.errors import OutputError
    from pyrun.layout import write_atomic

    try:
        write_atomic(output, text, mode=0o644)
    except OSError as exc:
        raise OutputError(output, f"-o {output}: cannot be written ({exc.strerror})") from None
    if edge.verbosity >= 0:
        print(f"pyrun: wrote {output}", file=sys.stderr)
    return 0


def _pylock_name(name: str) -> bool:
    """PEP 751's file names: ``pylock.toml``, or ``pylock.NAME.toml`` with no dot in NAME."""
    if name == "pylock.toml":
        return True
    middle = name[len("pylock."):-len(".toml")]
    return name.startswith("pylock.") and name.endswith(".toml") and bool(middle) and (
        "." not in middle)


def _record(script: str, env_path: "Path") -> None:
    """Append ``env_path`` to ``.python-envs`` beside ``script`` and tell the cache, so that a
    prune keeps the environment while the file lists it.

    Raises:
        PythonEnvsError: the file cannot be read or written (exit 78).
        CacheError: the cache cannot record it.
    """
    from pathlib import Path

    from pyrun.script import pythonenvs
    from pyrun.store.cache import Cache
    from pyrun.errors import CacheError

    directory = Path(os.path.dirname(os.path.abspath(script)))
    pythonenvs.append(directory, env_path)
    try:
        Cache().record_reference(env_path, [], listed_in=directory / pythonenvs.FILE_NAME)
    except OSError as exc:
        raise CacheError(str(env_path), f"cannot record {env_path} in pyrun's cache: "
                         f"{exc.strerror}") from exc


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
        run_parser().print_help()
        return 0
    first = argv[0]
    data, warm = None, None
    if first not in SUBCOMMANDS[1:] and os.name == "posix":
        warm = warm_options(argv)
        if warm is not None:
            data = _warm(warm)
    edge = Edge()
    try:
        if first == "cache":
            return cache_main(argv[1:])
        if first == "wsp":
            from pyrun.cli.wsp import main as wsp_main

            return wsp_main(argv[1:])
        if first in ("python", "env"):
            return editor_main(first, argv[1:], edge)
        if first in ("lock", "export"):
            return lock_main(first, argv[1:], edge)
        if first == "tree":
            return tree_main(argv[1:], edge)
        if first in ("init", "add", "remove"):
            return edit_main(first, argv[1:], edge)
        if first == "completion":
            from pyrun.cli.completion import script

            shell = completion_parser().parse_args(argv[1:]).shell
            sys.stdout.write(script(shell, completion_table()))
            return 0
        return run_main(argv, edge, data, warm)
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
