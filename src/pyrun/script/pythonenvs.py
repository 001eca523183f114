"""The ``.python-envs`` file (PEP 832 draft): which environments a project has, and its default.

Rules (docs/wsp.md, "The .python-envs file"): UTF-8, one path per line, ``\\n`` or ``\\r\\n``
line ends, a trailing newline ignored; relative paths are relative to the file's directory; a
virtual environment is recorded as the directory holding ``pyvenv.cfg``; lines a tool does not
understand are kept and skipped; duplicates are allowed; the last line is the default, and a
``.venv`` beside the file is an implicit last line. Writers take ``.python-envs.lock``, write a
temporary file and rename it, never add ``.venv``, refuse a symlinked ``.python-envs`` and
reject paths that contain a line break.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyrun import layout
from pyrun.errors import ProjectFileError

FILE_NAME = ".python-envs"
LOCK_NAME = ".python-envs.lock"
VENV = ".venv"


class PythonEnvsError(ProjectFileError):
    """A ``.python-envs`` file cannot be read (not UTF-8) or written as asked (symlinked, a path
    with a line break). Attributes: ``path``, the file."""


@dataclass(frozen=True)
class EnvLine:
    """One line of the file.

    Attributes:
        text: the line as written (without its line end).
        path: the absolute path it names (relative lines resolved against the file's directory).
        number: 1-based line number; 0 for the implicit ``.venv``.
    """

    text: str
    path: Path
    number: int


@dataclass(frozen=True)
class PythonEnvs:
    """A project directory's environments as ``.python-envs`` and ``.venv`` declare them.

    Attributes:
        directory: the directory holding the file.
        lines: every usable non-blank line, in file order (duplicates and unknown kinds
            included).
        venv: the ``.venv`` beside the file, when it exists.
        problems: one message per line that cannot name a path (a control character in it),
            ``".python-envs:LINE: ..."``; such a line is skipped, the others still count.
    """

    directory: Path
    lines: tuple[EnvLine, ...]
    venv: Path | None
    problems: tuple[str, ...] = ()

    @property
    def default(self) -> EnvLine | None:
        """The default: ``.venv`` when it exists (the implicit last line), else the last line."""
        if self.venv is not None:
            return EnvLine(VENV, self.venv, 0)
        return self.lines[-1] if self.lines else None

    def unique(self) -> list[EnvLine]:
        """Each path once (its last occurrence, so the default stays the same), in file order,
        then ``.venv``."""
        last = {ln.path: ln for ln in self.lines}
        out = [ln for ln in self.lines if last[ln.path] is ln]
        if self.venv is not None and self.venv not in last:
            out.append(EnvLine(VENV, self.venv, 0))
        return out


def split_lines(text: str) -> list[str]:
    """Lines split on ``\\n`` with a ``\\r`` before it removed; a final line end adds no line.
    (Not ``str.splitlines``: that also splits on form feeds and other characters.)"""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return [p.removesuffix("\r") for p in parts]


def read(directory: Path) -> PythonEnvs:
    """Read ``directory/.python-envs`` (absent is empty) and look for ``directory/.venv``.

    Raises:
        PythonEnvsError: the file is not UTF-8, or cannot be read.
    """
    directory = Path(os.path.abspath(directory))
    lines, problems = [], []
    text = _read_text(directory / FILE_NAME)
    for number, line in enumerate(split_lines(text.removeprefix("\ufeff")), 1):
        if not line.strip():
            continue
        bad = next((c for c in line if c < " " and c != "\t"), None)
        if bad is not None:
            problems.append(f"{directory / FILE_NAME}:{number}: skipped: the line holds a control "
                            f"character ({bad!r}), so it names no path")
            continue
        too_long = _too_long(line)
        if too_long:
            problems.append(f"{directory / FILE_NAME}:{number}: skipped: {too_long}, so it "
                            "names no path this system can open")
            continue
        path = Path(os.path.normpath(directory / line))  # relative to the file; no ~ (PEP 832)
        lines.append(EnvLine(line, path, number))
    venv = directory / VENV
    return PythonEnvs(directory, tuple(lines), venv if (venv / "pyvenv.cfg").is_file() else None,
                      tuple(problems))


#: The longest path and path component POSIX systems open (Linux's PATH_MAX and NAME_MAX).
_PATH_MAX, _NAME_MAX = 4096, 255


def _too_long(line: str) -> str:
    """Why ``line`` cannot name a path (a path or one of its names too long), or ``""``."""
    if len(line.encode("utf-8", "surrogateescape")) >= _PATH_MAX:
        return f"the line is longer than a path can be ({_PATH_MAX} bytes)"
    if any(len(part.encode("utf-8", "surrogateescape")) > _NAME_MAX for part in line.split("/")):
        return f"a name in it is longer than a file name can be ({_NAME_MAX} bytes)"
    return ""


def _read_text(path: Path) -> str:
    """The file's text (``""`` when absent).

    Raises:
        PythonEnvsError: it is not UTF-8, or cannot be read.
    """
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return ""
    except UnicodeDecodeError as exc:
        raise PythonEnvsError(str(path), f"{path} is not UTF-8 (byte {exc.start}); save it as "
                              "UTF-8 (one environment path per line)") from None
    except OSError as exc:
        raise PythonEnvsError(str(path), f"cannot read {path}: {exc.strerror}") from None


def record_text(directory: Path, env: Path) -> str:
    """How ``env`` is written in ``directory``'s file: relative when it is inside the
    directory, else absolute.

    Raises:
        PythonEnvsError: the path contains a line break.
    """
    env = Path(os.path.abspath(env))
    text = str(env)
    if "\n" in text or "\r" in text:
        raise PythonEnvsError(str(Path(directory) / FILE_NAME),
                              f"a path with a line break cannot be recorded: {text!r}")
    try:
        return env.relative_to(Path(os.path.abspath(directory))).as_posix()
    except ValueError:
        return text


def append(directory: Path, env: Path) -> bool:
    """Append ``env`` to ``directory/.python-envs`` as its new last line (the default).

    Returns False (and writes nothing) when ``env`` is the ``.venv`` beside the file (never
    written: it is implicit) or already the last line.

    Raises:
        PythonEnvsError: the file is a symlink, or the path has a line break.
    """
    line = record_text(directory, env)
    if os.path.abspath(env) == os.path.abspath(Path(directory) / VENV):
        return False

    def change(lines: list[str]) -> list[str] | None:
        return None if lines and lines[-1] == line else [*lines, line]

    return _rewrite(Path(directory), change)


def remove(directory: Path, env: Path) -> bool:
    """Remove every line naming ``env``. Returns whether the file changed.

    Raises:
        PythonEnvsError: the file is a symlink.
    """
    target = os.path.normpath(os.path.abspath(env))

    def change(lines: list[str]) -> list[str] | None:
        kept = [ln for ln in lines if not ln.strip() or os.path.normpath(
            Path(directory) / ln) != target]
        return None if kept == lines else kept

    return _rewrite(Path(directory), change)


def check_writable(directory: Path) -> None:
    """Check, before anything is created, that ``directory``'s file can be rewritten.

    Raises:
        PythonEnvsError: it is a symbolic link, not UTF-8, or unreadable.
    """
    path = Path(directory) / FILE_NAME
    if path.is_symlink():
        raise PythonEnvsError(str(path), f"{path} is a symbolic link; pyrun does not write "
                              "through it")
    _read_text(path)


def _rewrite(directory: Path, change: Callable[[list[str]], list[str] | None]) -> bool:
    """Apply ``change(lines) -> new lines | None`` under the lock, writing atomically and
    keeping the file's line ends (``\\r\\n`` when its first line end is one)."""
    from filelock import FileLock

    path = directory / FILE_NAME
    check_writable(directory)
    try:
        with FileLock(str(directory / LOCK_NAME)):
            text = _read_text(path)
            first, has_end, _ = text.partition("\n")
            newline = "\r\n" if has_end and first.endswith("\r") else "\n"
            new = change(split_lines(text))
            if new is None:
                return False
            layout.write_atomic(str(path), "".join(f"{ln}{newline}" for ln in new), 0o644)
    except OSError as exc:
        raise PythonEnvsError(str(path), f"cannot write {path}: {exc.strerror or exc}") from None
    return True
