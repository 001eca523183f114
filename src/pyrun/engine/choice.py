"""Which interpreter a script runs on: uv's choice, asked of uv (``uv python find``), and
pyrun's own discovery only where uv finds none.

The request is uv's (``ScriptPython::from_request``): ``--python``, else ``UV_PYTHON``, else
the nearest Python version file, else the script's ``requires-python``. Candidates and their
answers come from :class:`pyrun.engine.interpreters.InterpreterFinder`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from pyrun.engine.interpreters import MINIMUM, VERSION_REQUEST, Interpreter, InterpreterFinder
from pyrun.errors import NoInterpreterError, UsageError
from pyrun.subprocesses import DEVNULL, PIPE, start

if TYPE_CHECKING:
    from pyrun.engine.uvpython import Asked
    from pyrun.script.uvsettings import UvSettings


def _none_matches(finder: InterpreterFinder, request: str, spec: SpecifierSet, what: str,
                  found: list[Interpreter]) -> NoInterpreterError:
    """The error for ``spec`` matching none of ``found``: the exact versions found, and
    what to do: the command that installs a matching Python, or, when one is installed
    but older than pyrun supports, that."""
    too_old = [i for i in finder.query_many(finder.candidates())
               if i.version < MINIMUM and spec.contains(i.version, prereleases=True)]
    if too_old:
        return NoInterpreterError(request, f"{what}: Python {too_old[0].version} is "
                                  f"installed ({too_old[0].executable}), but pyrun needs "
                                  f"{MINIMUM} or newer; ask for a newer Python")
    wanted = _installable(spec)
    if wanted:
        how = f"install one with `uv python install {wanted}` (or `pyenv install {wanted}`)"
    elif any(spec.contains(Version(f"3.{m}"), prereleases=True) for m in range(8)):
        how = f"pyrun runs scripts on Python {MINIMUM} or newer"
    else:
        how = "no released Python matches: check the specifier"
    return NoInterpreterError(request, f"{what}: no installed Python matches (found "
                              f"{_versions(found)}); {how}")


def choose(
    finder: InterpreterFinder, request: str | None, requires_python: SpecifierSet | None,
    script: str, *,
    uv: str | None = None, settings: UvSettings | None = None, has_block: bool = True,
    early: Asked | None = None,
) -> Interpreter:
    """Pick the interpreter for a script as ``uv run --script`` picks it.

    The request is uv's (``ScriptPython::from_request``): ``--python`` (``request``), else
    ``UV_PYTHON``, else the nearest Python version file
    (:func:`pyrun.inputs.version_file`) when it can meet ``requires_python``, else
    ``requires_python``. uv answers it (``uv python find``, never downloading): the first
    match in uv's discovery order, with its ``python-preference``. uv's warnings (a
    request that cannot meet ``requires-python``, ``==3.11`` that no patch version meets
    exactly) are passed on, and the choice stands, as in uv. Only where uv finds no
    Python (or there is no uv) does pyrun look further, among what uv cannot see (pyenv's
    versions, uv's managed Pythons), and take the highest match: the version uv would
    download.

    Args:
        request: the ``--python`` value, or None.
        requires_python: the script's ``requires-python``, or None.
        script: the script as given (a path, ``-``, a URL): where the version file is
            looked for, and what messages name.
        uv: the uv binary to ask, or None (pyrun's own discovery only).
        settings: the script's ``[tool.uv]`` (its ``python-preference``, say) and where
            uv looks for configuration (:meth:`pyrun.script.uvsettings.UvSettings.project`),
            for uv when it does not read the script itself; or None.
        has_block: whether the script has an inline script metadata block (uv's own
            reading of a script, ``--script``, needs one).
        early: uv's reading of the script, started by
            :func:`pyrun.engine.uvpython.ask_early` while the caller read the block; used
            when it is the question this choice asks.

    Raises:
        NoInterpreterError: neither uv nor pyrun finds a match, or the match is older
            than :data:`MINIMUM`; the message says what was found and what to do.
    """
    explicit = request or os.environ.get("UV_PYTHON") or None
    source = "--python" if request else "UV_PYTHON"
    where = f"{script}: " if script else ""
    regular = script not in ("", "-") and "://" not in script and os.path.isfile(script)
    # uv reading the script itself finds its version file; else pyrun finds it for uv
    if explicit is None and not (uv is not None and regular and has_block):
        explicit, source = _version_file_request(finder, script, requires_python)
    if uv is not None:
        by_script = regular and has_block and explicit is None
        found, said = _ask_uv(finder, uv, None if by_script else (
            explicit or (str(requires_python) if requires_python is not None else "default")),
            script if by_script else None, None if by_script else settings, early)
        if found is not None:
            for line in said:
                finder._reporter.warn(line)
            if not by_script and requires_python is not None and not requires_python.contains(
                    found.version, prereleases=True):
                finder._reporter.warn(_incompatible(found, requires_python, explicit, source))
            return _usable(finder, found, where)
        finder._reporter.debug(f"uv found no Python: {' '.join(said)[-400:]}")
        if by_script:  # pyrun's own search answers the request uv would have made
            explicit, source = _version_file_request(finder, script, requires_python)
    preference = _preference(settings)
    try:
        return _own_choice(finder, explicit, source, requires_python, where, preference)
    except NoInterpreterError as exc:
        if uv is not None and said and preference:
            raise NoInterpreterError(exc.request, f"{exc}; uv said: {said[-1]}") from None
        raise

def _version_file_request(finder: InterpreterFinder, script: str,
                          requires_python: SpecifierSet | None) -> tuple[str | None, str]:
    """The request of the Python version file uv reads for ``script``
    (:func:`pyrun.inputs.version_file`) and its name (``.python-version``, in
    backquotes, for messages); ``(None, "")`` when there is none, or ``requires_python``
    rules it out (uv passes it over then)."""
    from pyrun import inputs

    found = inputs.version_file(script)
    wanted = _first_request(found) if found else None
    if wanted and requires_python is not None and not _intersects(wanted, requires_python):
        finder._reporter.debug(f"ignoring {found} ({wanted}): it cannot meet "
                             f"requires-python {requires_python}")
        wanted = None
    return (wanted, f"`{os.path.basename(found or '')}`") if wanted else (None, "")

def _ask_uv(finder: InterpreterFinder, uv: str, request: str | None, script: str | None,
            settings: UvSettings | None, early: Asked | None = None,
            ) -> tuple[Interpreter | None, list[str]]:
    """``uv python find`` for ``request`` (or uv's own reading of ``script``: then the
    ``early`` one when :func:`pyrun.engine.uvpython.ask_early` started it), reading the
    configuration ``settings`` say: the interpreter uv chose, or None, and uv's warnings (or its
    error, when None)."""
    import contextlib

    from pyrun.engine.uvpython import environ as uv_environ

    if script is not None and early is not None and early.script == script:
        finder._reporter.debug(f"uv was asked early: python find --script={script}")
        try:
            code, out, err = early.answer()
        except OSError as exc:
            return None, [str(exc)]
        return _answer(finder, code, out, err)
    argv = [uv, "python", "find", "--no-python-downloads"]
    if script is not None:
        argv.append(f"--script={os.path.abspath(script)}")
    else:
        argv += ["--", request or "default"]
    finder._reporter.debug(f"asking uv: {' '.join(argv[1:])}")
    try:
        config: contextlib.AbstractContextManager[list[str]] = (
            settings.project() if settings is not None else contextlib.nullcontext([]))
        with config as project:
            proc = start([*argv[:4], *project, *(["--no-project"] if script is None
                                                  else []), *argv[4:]],
                         stdin=DEVNULL, stdout=PIPE, stderr=PIPE, text=True,
                         environ=uv_environ())
            out, err = proc.communicate()
    except (OSError, UsageError) as exc:
        return None, [str(exc)]
    return _answer(finder, proc.returncode, out, err)

def _answer(finder: InterpreterFinder, returncode: int, out: str, err: str
            ) -> tuple[Interpreter | None, list[str]]:
    """What ``uv python find`` said: the interpreter (queried) or None, and its warnings
    (or its error)."""
    said = [line.split(":", 1)[1].strip() if line.startswith("warning:") else line.strip()
            for line in err.splitlines() if line.strip()]
    path = out.strip().splitlines()[-1] if out.strip() else ""
    if returncode != 0 or not path:
        return None, said
    found = finder.query(path)
    if found is None:
        return None, [*said, f"{path} (uv's answer) does not answer as a Python"]
    return found, [line for line in said if not line.startswith("error")]

def _usable(finder: InterpreterFinder, interp: Interpreter, where: str) -> Interpreter:
    if interp.version < MINIMUM:
        raise NoInterpreterError(
            str(interp.version), f"{where}uv chose Python {interp.version} "
            f"({interp.executable}), but pyrun needs {MINIMUM} or newer; ask for a newer "
            "Python with --python")
    return interp

def _own_choice(finder: InterpreterFinder, explicit: str | None, source: str,
                requires_python: SpecifierSet | None, where: str,
                preference: str = "") -> Interpreter:
    """pyrun's own discovery, where uv finds nothing: the highest installed match, among
    uv's managed Pythons only (``only-managed``) or none of them (``only-system``), as
    the script's ``python-preference`` says."""
    if preference in ("only-managed", "only-system"):
        managed = [i for i in finder.installed() if _is_managed(i.executable)]
        allowed = managed if preference == "only-managed" else [
            i for i in finder.installed() if not _is_managed(i.executable)]
        if not allowed:
            seen = _versions(finder.installed())
            raise NoInterpreterError(explicit or str(requires_python or ""),
                                     f"{where}python-preference {preference!r}: no such "
                                     f"Python is installed (found {seen})")
        spec = _as_specifier(explicit) if explicit not in (None, "default") else None
        spec = spec if spec is not None else requires_python
        fits = [i for i in allowed if spec is None or spec.contains(i.version,
                                                                     prereleases=True)]
        if not fits:
            raise NoInterpreterError(str(spec), f"{where}python-preference {preference!r}: "
                                     f"none of {_versions(allowed)} matches {spec}")
        return _usable(finder, max(fits, key=lambda i: i.version), where)
    if explicit is not None and explicit != "default":
        interp = _requested(finder, explicit, source)
        if requires_python is not None and not requires_python.contains(
                interp.version, prereleases=True):
            finder._reporter.warn(_incompatible(interp, requires_python, explicit, source))
        return _usable(finder, interp, where)
    if requires_python is None:
        return finder.current()
    everything = [finder.current(), *finder.installed()]
    matching = [i for i in everything if requires_python.contains(i.version, prereleases=True)]
    if not matching:  # uv's reading of `==3.11`: any 3.11, with a warning
        loose = _release_level(requires_python)
        matching = [i for i in everything if loose.contains(i.version, prereleases=True)]
        if matching:
            found = max(matching, key=lambda i: i.version)
            finder._reporter.warn(_incompatible(found, requires_python, None, ""))
            return _usable(finder, found, where)
        raise _none_matches(finder, str(requires_python), requires_python,
                                 f"{where}requires-python {str(requires_python)!r}",
                                 everything)
    return max(matching, key=lambda i: i.version)

def _requested(finder: InterpreterFinder, request: str, source: str = "--python") -> Interpreter:
    looks_like_path = os.sep in request or (os.altsep is not None and os.altsep in request)
    if looks_like_path or os.path.isfile(request):
        interp = finder.query(request) if os.path.exists(request) else None
        if interp is None:
            raise NoInterpreterError(
                request,
                f"{source} {request}: not a Python interpreter that can be run; "
                "give a version such as 3.12 or the path of a python executable"
            )
        return interp
    spec = _as_specifier(request)
    if spec is None:
        import shutil

        found = shutil.which(request)
        interp = finder.query(found) if found else None
        if interp is None:
            raise NoInterpreterError(
                request,
                f"{source} {request}: not a version, a specifier, a path or a command on "
                "PATH; give a version such as 3.12"
            )
        return interp
    everything = [finder.current(), *finder.installed()]
    matching = [i for i in everything if spec.contains(i.version, prereleases=True)]
    if not matching:
        raise _none_matches(finder, request, spec, f"{source} {request}", everything)
    return max(matching, key=lambda i: i.version)


def _incompatible(found: Interpreter, requires_python: SpecifierSet, request: str | None,
                  source: str) -> str:
    """uv's warning when the requested interpreter cannot meet ``requires-python``
    (``ProjectError::*ScriptIncompatibility``, uv's ``crates/uv/src/commands/project/mod.rs``)."""
    wanted = _uv_specifiers(requires_python)
    if request is None:
        return (f"The resolved Python interpreter (Python {found.version}) is incompatible "
                f"with the script's Python requirement: `{wanted}`")
    if source.startswith("`"):
        return (f"The Python request from {source} resolved to Python {found.version}, which "
                f"is incompatible with the script's Python requirement: `{wanted}`")
    return (f"The requested interpreter resolved to Python {found.version}, which is "
            f"incompatible with the script's Python requirement: `{wanted}`")


def _preference(settings: UvSettings | None) -> str:
    """The ``python-preference`` the command line or the script's table sets, or ``""``."""
    if settings is None:
        return ""
    from pyrun.script.uvsettings import overlay

    value = overlay(settings.command_line).get("python-preference") or settings.table.get(
        "python-preference")
    return value if isinstance(value, str) else ""


def _managed_dir() -> str:
    """Where uv installs the Pythons it manages (``UV_PYTHON_INSTALL_DIR``, else
    ``$XDG_DATA_HOME/uv/python``, ``~/.local/share/uv/python``)."""
    return os.path.realpath(os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "uv", "python"))


def _is_managed(executable: str) -> bool:
    return os.path.realpath(executable).startswith(_managed_dir() + os.sep)


def _release_level(spec: SpecifierSet) -> SpecifierSet:
    """``spec`` with each ``==X.Y`` (no patch, no wildcard) read as ``==X.Y.*``: how uv's
    discovery matches such a request against installed patch versions.

    >>> str(_release_level(SpecifierSet("==3.11")))
    '==3.11.*'
    """
    return SpecifierSet(",".join(
        f"=={s.version}.*" if s.operator == "==" and "*" not in s.version
        and s.version.count(".") == 1 else str(s) for s in spec))


def _uv_specifiers(spec: SpecifierSet) -> str:
    return ", ".join(str(s) for s in sorted(spec, key=str))


def _first_request(path: str) -> str | None:
    """A version file's request: its first line that is neither empty nor a ``#`` comment
    (uv's ``PythonVersionFile::try_from_path``); None when it has none or cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                text = line.strip()
                if text and not text.startswith("#"):
                    return text
    except OSError:
        return None
    return None


def _intersects(request: str, requires_python: SpecifierSet) -> bool:
    """Whether a version request can meet ``requires_python`` (uv's
    ``PythonRequest::intersects_requires_python``): a request with no version (a path, an
    implementation) always can; a version request when some release it admits also satisfies
    ``requires_python``, checked at the ends of each minor version up to 3.40 and at each
    version either side names, and the patch versions beside those.

    >>> _intersects("3.12", SpecifierSet(">=3.12")), _intersects("3.11", SpecifierSet(">=3.12"))
    (True, False)
    >>> _intersects(">=3.10,<3.12", SpecifierSet(">=3.11.4"))
    True
    >>> _intersects("pypy", SpecifierSet("<3"))
    True
    """
    spec = _as_specifier(request.split("@", 1)[-1])
    if spec is None:
        return True
    # the ends of every release range either side names, and the versions they name
    from packaging.version import InvalidVersion

    candidates: set[Version] = set()
    for s in (*spec, *requires_python):
        try:
            candidates.add(Version(s.version.rstrip(".*")))
        except InvalidVersion:  # `===anything`
            continue
    for minor in range(41):
        candidates |= {Version(f"3.{minor}.0"), Version(f"3.{minor}.999")}
    candidates |= {Version("2.7.0"), Version("2.7.999")}
    for v in list(candidates):  # just above and below each named version too
        candidates |= {Version(f"{v.major}.{v.minor}.{v.micro + 1}")}
        if v.micro:
            candidates.add(Version(f"{v.major}.{v.minor}.{v.micro - 1}"))
    return any(spec.contains(v, prereleases=True) and requires_python.contains(
        v, prereleases=True) for v in candidates)


def _as_specifier(request: str) -> SpecifierSet | None:
    """``3.12`` -> ``==3.12.*``; ``3.12.1`` -> ``==3.12.1``; ``>=3.11`` as is; else None."""
    m = VERSION_REQUEST.fullmatch(request)
    if m:
        version = m.group(1)
        return SpecifierSet(f"=={version}" if version.count(".") == 2 else f"=={version}.*")
    try:
        return SpecifierSet(request) if request[:1] in "<>=!~" else None
    except InvalidSpecifier:
        return None


#: The minor versions a suggestion may name (released or in beta as of 2026-11).
_KNOWN_MINORS = tuple(f"3.{m}" for m in range(8, 16))


def _installable(spec: SpecifierSet) -> str | None:
    """The newest known ``3.X`` (or the exact version asked for) that ``spec`` admits, for
    ``uv python install``; None when none does (``>=4.1``)."""
    exact = [s.version for s in spec if s.operator == "==" and "*" not in s.version]
    if exact:
        return exact[0]
    for minor in reversed(_KNOWN_MINORS):
        if spec.contains(Version(f"{minor}.0"), prereleases=True) or any(
                spec.contains(Version(f"{minor}.{patch}"), prereleases=True)
                for patch in range(1, 20)):
            return minor
    return None


def _versions(interpreters: Iterable[Interpreter]) -> str:
    versions = sorted({i.version for i in interpreters})
    return ", ".join(str(v) for v in versions) or "none"
