"""Whether the user trusts a project's workflow server: the question, the remembered answers
(``trusted.json`` in pyrun's config directory, private), and what an answer covers
(:func:`trust_key`: every input that decides the code a yes runs).

A project's ``[workflow] wsp`` declaration is code from the repository: the first time, the
user is asked (or passes ``--trust``); the answer is remembered per declaring file,
declaration and the inputs :func:`trust_key` lists, and asked again when any changes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pyrun.script.userconfig import config_dir, foreign
from pyrun.wsp.declaration import Declaration, DeclarationError, NotTrusted, _load_toml


@dataclass(frozen=True)
class Agreed:
    """What a run of a declared server agreed to: the trust key (:func:`trust_key`) and, for a
    ``script``, the bytes it covers, read once: the engine builds the environment from them
    and the server runs them (:func:`pinned_command`), so an edit after the question changes
    nothing that runs."""

    key: str
    script: bytes | None = None


def agreed_inputs(decl: Declaration) -> Agreed:
    """Read every input that decides the code ``decl`` runs, once (see :func:`trust_key`).

    Raises:
        ScriptNotFoundError: the declared script is missing or unreadable.
    """
    script = None
    if decl.script is not None:
        from pyrun.engine import read_script

        script = read_script(decl.script)
    return Agreed(_key(decl, script), script)


def trust_key(decl: Declaration) -> str:
    """What a remembered answer is for: every input that decides the code a yes runs.

    The declaring file and the declaration; for a script, its bytes and the lock beside it
    (``x.py.lock``); the project's installer configuration, which decides where the script's
    or the ``requires``' distributions come from (the project's ``uv.toml`` and the declaring
    ``pyproject.toml``'s ``[tool.uv]``); the project's Python version file (``.python-version``,
    which can name any interpreter); for a ``cmd``, the bytes of every file its arguments
    name inside the project (``tools/server.py``). A change to any of them asks again. Files
    are read through symbolic links (as uv and Python read them), so a link's target is
    covered, and a name that is not a regular file counts as missing.
    """
    return agreed_inputs(decl).key


def _key(decl: Declaration, script: bytes | None) -> str:
    parts: dict[str, Any] = {"origin": str(decl.origin), "declaration": decl.raw,
                             "uv.toml": _digest(decl.project / "uv.toml"),
                             "tool.uv": _tool_uv(decl.origin)}
    if decl.script is not None:
        parts["script_sha256"] = None if script is None else hashlib.sha256(script).hexdigest()
        parts["script_lock"] = _digest(Path(f"{decl.script}.lock"))
    if decl.cmd:
        parts["cmd_files"] = {arg: _digest(path) for arg, path in _cmd_files(decl)}
    version = _version_file(decl)
    if version is not None:  # absent from the key when there is none: old answers still hold
        parts["python_version_file"] = [str(version), _digest(version)]
    blob = json.dumps(parts, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


#: The Python version files uv reads, in the order it looks for them in each directory (uv's
#: ``PythonVersionFile::discover``; :data:`pyrun.inputs.VERSION_FILES`).
VERSION_FILES = (".python-version", ".python-versions")


def _version_file(decl: Declaration) -> Path | None:
    """The Python version file inside the project that decides the interpreter the server
    runs on (it may name any interpreter, a path included): the first found from the script's
    directory (the project's, for a ``cmd``) up to the project's root, as uv looks for it."""
    here = decl.script.parent if decl.script is not None else decl.project
    root = Path(os.path.abspath(decl.project))
    here = Path(os.path.abspath(here))
    while True:
        for name in VERSION_FILES:
            if (here / name).is_file():
                return here / name
        if here == root or root not in here.parents:
            return None
        here = here.parent


def _digest(path: Path) -> str | None:
    """The sha256 of the regular file at ``path`` (through links), or None when there is no
    regular file there (a FIFO is never waited on)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
        return digest.hexdigest()


def recheck(decl: Declaration, agreed: Agreed) -> None:
    """Right before a declared server starts (after its environment was built, which can take
    minutes), check that what was agreed to is still what is on disk.

    Raises:
        NotTrusted: an input :func:`trust_key` covers changed since the question.
    """
    if decl.from_project and agreed.key != trust_key(decl):
        raise NotTrusted(f"what {decl.origin} declares ({decl.describe()}) or its project's "
                         "uv configuration changed while pyrun prepared it, after you agreed "
                         "to run it; run the command again to be asked about what it is now")


#: Run as ``python -c PINNED SCRIPT SHA256``: reads the script once, runs it only when its
#: bytes are the ones agreed to (else exit 77), as ``python SCRIPT`` would run it (``__main__``,
#: ``__file__``, ``sys.argv``, the script's directory first on ``sys.path``).
PINNED = """\
def _pyrun_pinned():
    import hashlib, os, sys
    path, digest = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != digest:
        sys.stderr.write("pyrun: %r changed after you agreed to run it; run pyrun again to be "
                         "asked about what it is now\\n" % path)
        raise SystemExit(77)
    real = path
    for _ in range(40):
        if not os.path.islink(real):
            break
        real = os.path.join(os.path.dirname(real), os.readlink(real))
    sys.argv[:] = [path]
    sys.path[0] = os.path.dirname(os.path.abspath(real))
    main = sys.modules["__main__"].__dict__
    del main["_pyrun_pinned"]
    main["__file__"], main["__cached__"] = path, None
    from importlib.machinery import SourceFileLoader
    main["__loader__"] = SourceFileLoader("__main__", path)
    code = compile(data, path, "exec")
    del data, digest, f, real
    exec(code, main)
_pyrun_pinned()
"""


def pinned_command(python: str, script: Path, data: bytes) -> list[str]:
    """The command line that runs ``script`` with ``python`` only if its bytes are still
    ``data`` when the interpreter reads them (:data:`PINNED`): the bytes agreed to are the
    bytes run, with no window between a check and the start."""
    return [python, "-c", PINNED, str(script), hashlib.sha256(data).hexdigest()]


def _tool_uv(origin: Path | None) -> Any:
    """The ``[tool.uv]`` table of the declaring ``pyproject.toml`` (None when there is none)."""
    if origin is None or origin.name != "pyproject.toml":
        return None
    try:
        tool = _load_toml(origin).get("tool")
    except DeclarationError:
        return None
    return tool.get("uv") if isinstance(tool, dict) else None


def _cmd_files(decl: Declaration) -> list[tuple[str, Path]]:
    """``(argument, file)`` for each argument of ``decl.cmd`` (the program included) that names
    a regular file inside the project, relative to it or absolute."""
    root = os.path.realpath(decl.project)
    found = []
    for arg in decl.cmd:
        if not arg or arg.startswith("-") or "\0" in arg:
            continue
        path = Path(arg) if os.path.isabs(arg) else decl.project / arg
        real = os.path.realpath(path)
        if real.startswith(root + os.sep) and os.path.isfile(real):
            found.append((arg, Path(real)))
    return found


def trust_covers(decl: Declaration) -> str:
    """What a yes to ``decl`` covers, said plainly (part of the question asked)."""
    config = "the project's uv configuration (uv.toml, [tool.uv], .python-version)"
    if decl.kind == "script":
        return (f"Your answer covers the declaration, this script's content, the lock beside "
                f"it and {config}: pyrun asks again when any of them changes.")
    named = [arg for arg, _path in _cmd_files(decl)]
    files = (f", the files it names in the project ({', '.join(named)})" if named else "")
    return (f"Your answer covers the declaration, this command line as written{files} and "
            f"{config}; not the programs it runs from outside the project (on PATH, in the "
            "pool): those can change without pyrun asking again.")


def _trust_file() -> Path:
    return config_dir() / "trusted.json"


def remembered(decl: Declaration, key: str | None = None) -> bool | None:
    """The remembered answer for ``decl``: True, False, or None when never asked, or when the
    answers file (or its directory) is one another user could have written (:func:`foreign`):
    a "yes" planted there is never taken."""
    path = _trust_file()
    if foreign(path.parent) or foreign(path):
        return None
    try:
        data = json.loads(_trust_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = key if key is not None else trust_key(decl)
    answer = data.get(key) if isinstance(data, dict) else None
    return answer.get("trusted") if isinstance(answer, dict) else None


def remember(decl: Declaration, trusted: bool, key: str | None = None) -> None:
    """Record the user's answer for ``decl`` (its trust key ``key``, computed when None;
    atomic replace)."""
    path = _trust_file()
    _private_dir(path.parent)
    data: dict[str, Any] = {}
    if not foreign(path):
        try:
            read = json.loads(path.read_text(encoding="utf-8"))
            data = read if isinstance(read, dict) else {}
        except (OSError, ValueError):
            pass
    key = key if key is not None else trust_key(decl)
    data[key] = {"trusted": trusted, "origin": str(decl.origin), "server": decl.describe()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        tmp.unlink()  # a leftover of a run killed here (the directory is private)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _private_dir(path: Path) -> None:
    """Make pyrun's config directory ``path`` (and missing parents) readable and writable by
    you alone, whatever the umask; an existing one must be yours and not writable by others.

    Raises:
        DeclarationError: it exists and another user could write to it (:func:`foreign`).
    """
    if not os.path.isdir(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        else:
            os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    why = foreign(path)
    if why:
        raise DeclarationError(str(path), f"{path}: {why}; pyrun keeps its trust answers only "
                               "where no other user can write: make it yours and not writable "
                               "by others (chown, chmod go-w), or set PYRUN_CONFIG_DIR")


def ensure_trusted(decl: Declaration, *, trust: bool, stdin: TextIO,
                   stderr: TextIO) -> Agreed:
    """Return what ``decl`` may run (its inputs, read once: :class:`Agreed`) if it may run; ask
    on a terminal the first time.

    ``--trust`` (``trust=True``) agrees and remembers. A user-declared or built-in server needs
    no trust.

    Raises:
        NotTrusted: the user said no (now or before), or cannot be asked (no terminal).
        ScriptNotFoundError: the declared script is missing or unreadable.
    """
    agreed = agreed_inputs(decl)
    if not decl.from_project:
        return agreed
    if trust:
        remember(decl, True, agreed.key)
        return agreed
    answer = remembered(decl, agreed.key)
    if answer is True:
        return agreed
    if answer is False:
        raise NotTrusted(f"you declined to run the workflow server {decl.origin} declares "
                         f"({decl.describe()}); pass --trust to run it anyway")
    if not stdin.isatty():
        raise NotTrusted(f"{decl.origin} declares a workflow server ({decl.describe()}), and "
                         "pyrun runs project code only once you agree: run this in a terminal "
                         "to be asked, or pass --trust")
    from pyrun.progress import escaped

    print(f"pyrun: {escaped(str(decl.origin), keep='')} declares a workflow server: "
          f"{decl.describe()}.\n"
          "It is code from this project and will run with your permissions.\n"
          f"{trust_covers(decl)}\n"
          "Run it (your answer is remembered until the declaration changes)? [y/N] ",
          end="", file=stderr, flush=True)
    reply = stdin.readline().strip().lower()
    agreed_to = reply in ("y", "yes")
    remember(decl, agreed_to, agreed.key)
    if not agreed_to:
        raise NotTrusted(f"not running the workflow server {decl.origin} declares")
    return agreed
