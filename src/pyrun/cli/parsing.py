"""The ``pyrun`` command line's shared parts: the run parser (``pyrun [run] [OPTIONS] SCRIPT``)
and the options that choose a script's environment, which ``python``, ``env``, ``lock``,
``export`` and ``tree`` take too, turned into :class:`pyrun.engine.RunOptions`; the help's
epilog, made from the command table (:data:`pyrun.cli.COMMANDS`)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from pyrun import DOCS_URL, __version__
from pyrun.cli import _TRUE, COMMANDS

if TYPE_CHECKING:
    import argparse

    from pyrun.engine import RunOptions


def _commands_text() -> str:
    """The ``subcommands:`` lines of the epilog, from :data:`pyrun.cli.COMMANDS`."""
    lines = []
    for name, _module, usage, about in COMMANDS:
        if name == "run":
            continue
        first, *more = about.split("\n")
        if len(usage) + 2 > 35:
            lines += [f"  {usage}", f"{'':37}{first}"]
        else:
            lines.append(f"  {usage:<35}{first}")
        lines += [f"{'':37}{m}" for m in more]
    return "\n".join(lines)


#: ``--composition``'s values (:data:`pyrun.engine.composition.COMPOSITIONS`, which a unit test
#: compares: the CLI does not import the composition module to build its parser).
COMPOSITIONS = ("auto", "pooled", "link-farm")


#: The deprecated ``--link-mode`` values and the ``--composition`` each means (for one release).
LINK_MODE_ALIASES = {"auto": "auto", "pth": "pooled", "farm": "link-farm"}


EPILOG = """\
subcommands:
{commands}

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


def new_parser(prog: str, description: str, **kwargs: object) -> "argparse.ArgumentParser":
    from pyrun.errors import argument_parser

    return argument_parser(prog, description=description, **kwargs)


#: uv's ``--link-mode`` values (how uv places files in an environment).
UV_LINK_MODES = ("clone", "copy", "hardlink", "symlink")


def environment_options(parser: "argparse.ArgumentParser") -> None:
    """The options that choose a script's environment, shared by run, python and env."""
    parser.add_argument("-p", "--python", metavar="PYTHON",
                        help="interpreter: a version (3.12), a specifier (>=3.11), a command or a "
                        "path")
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

    parser = new_parser(
        "pyrun",
        "Run a Python script in an environment with the dependencies its inline script "
        "metadata (PEP 723 `# /// script` block) declares. Everything after SCRIPT is passed "
        "to the script.",
        usage="pyrun [OPTIONS] SCRIPT [ARGS...]\n       pyrun run [OPTIONS] SCRIPT [ARGS...]",
        epilog=EPILOG.format(docs=DOCS_URL, commands=_commands_text()),
    )
    environment_options(parser)
    parser.add_argument("--lock", metavar="FILE", help="install exactly what the PEP 751 lock "
                        "FILE (pylock.toml, from `pyrun export`) pins; no resolution")
    parser.add_argument("--bundle", metavar="DIR", help="run from the offline bundle DIR "
                        "(`pyrun bundle`): its lock for this script, its pool entries, its "
                        "Python; no resolver, no network")
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


def run_options(ns: "argparse.Namespace") -> "tuple[RunOptions, int]":
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
                         env_files=_env_files(ns), bundle=getattr(ns, "bundle", None))
    return options, verbosity


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


