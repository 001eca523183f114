"""Launchers: what makes a distribution's commands run in an environment.

* entry-point wrappers (``console_scripts``, ``gui_scripts``) as pip and uv write them;
* the wheel's own ``.data/scripts``, ``#!python`` rewritten to the environment's interpreter
  (and, in the pool, uv's rewrite undone so an entry stays neutral);
* the shebang line itself, or a ``/bin/sh`` trampoline where the kernel cannot take it.

Sources: the entry points specification (PyPA); the binary distribution format,
"Recommended installer features"; pypa/installer's ``scripts.py``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pyrun.errors import InstallError

#: Longest shebang line the kernel passes whole (Linux BINPRM_BUF_SIZE is 256 since 5.1, 128
#: before; macOS allows 512). Longer interpreter paths get a /bin/sh trampoline.
SHEBANG_LIMIT = 127


def shebang(python: str) -> str:
    """A shebang for ``python``, or a ``/bin/sh`` trampoline when the path is too long or
    holds a space: a line that ``/bin/sh`` runs (``exec`` of the interpreter, its path quoted
    with :func:`shlex.quote`, so a ``'`` in it, as in ``/home/o'brien``, is quoted too) and
    that Python reads as a string. Source: pypa/installer's ``scripts.py``
    (``_build_shebang``).

    >>> shebang("/usr/bin/python3")
    '#!/usr/bin/python3\\n'
    >>> print(shebang("/home/o'brien/my env/bin/python"), end="")
    #!/bin/sh
    '''exec' '/home/o'"'"'brien/my env/bin/python' "$0" "$@"
    ' '''
    """
    import shlex

    line = f"#!{python}\n"
    if len(line.encode()) <= SHEBANG_LIMIT and " " not in python:
        return line
    return f"#!/bin/sh\n'''exec' {shlex.quote(python)} \"$0\" \"$@\"\n' '''\n"


def write_wrapper(path: Path, python: str, target: str) -> None:
    """An entry-point wrapper as pip and uv write it (entry points specification).

    ``target`` is ``module`` or ``module:attr[.attr...]``, optionally followed by extras.
    """
    target = target.split("[")[0].strip()
    module, _, attr = target.partition(":")
    module, attr = module.strip(), attr.strip()
    if attr:
        obj = attr.split(".")[0]
        imports, call = f"from {module} import {obj}", f"{attr}()"
    else:  # a module-only entry point: importing it is the program
        imports, call = f"import {module}", "0"
    body = (
        f"{shebang(python)}# -*- coding: utf-8 -*-\n"
        "import sys\n"
        f"{imports}\n"
        "if __name__ == '__main__':\n"
        "    if sys.argv[0].endswith('.exe'):\n"
        "        sys.argv[0] = sys.argv[0][:-4]\n"
        f"    sys.exit({call})\n"
    )
    path.write_text(body, encoding="utf-8")
    path.chmod(0o755)


def write_entry_scripts(entry_dir: Path, bin_dir: Path, python: str) -> None:
    """Console and GUI entry-point wrappers, and the wheel's own scripts, of the pool entry
    at ``entry_dir`` into ``bin_dir``.

    A ``.data/scripts`` file that starts with ``#!python`` gets this environment's interpreter
    in its shebang (binary distribution format, "Recommended installer features"); any other
    file (a shell script, a binary) is linked as it is, executable.
    """
    for dist_info in (entry_dir / "site-packages").glob("*.dist-info"):
        for name, target in script_entry_points(dist_info).items():
            if not os.path.lexists(bin_dir / name):  # a link too: never written through
                write_wrapper(bin_dir / name, python, target)
    shipped = entry_dir / "bin"
    if not shipped.is_dir():
        return
    for script in shipped.iterdir():
        dest = bin_dir / script.name
        if os.path.lexists(dest):
            continue
        with open(script, "rb") as f:
            head = f.read(len(b"#!python") + 1)
        if head.startswith(b"#!python") and head[8:9] in (b"\n", b"\r", b"w", b" "):
            data = script.read_bytes()
            body = data.split(b"\n", 1)[1] if b"\n" in data else b""
            dest.write_bytes(shebang(python).encode() + body)
            dest.chmod(0o755)
        else:
            link_file(script, dest)


def neutral_script(src: Path, dest: Path, executable: str) -> None:
    """Move a ``.data/scripts`` file into an entry, undoing uv's shebang rewrite.

    uv replaces a script's ``#!python`` with the installing interpreter (or a ``/bin/sh``
    trampoline naming it when the path is long). The entry keeps ``#!python`` instead, as the
    wheel had it (binary distribution format, "Recommended installer features"); each
    environment writes its own interpreter in. Other files (shell scripts, binaries) are moved
    as they are.
    """
    data = src.read_bytes()
    exe = executable.encode()
    first, _, rest = data.partition(b"\n")
    body: bytes | None = None
    if first.rstrip(b"\r") == b"#!" + exe:
        body = rest
    elif first == b"#!/bin/sh":
        lines = data.split(b"\n", 3)
        if len(lines) == 4 and exe in lines[1] and lines[1].startswith(b"'''exec'"):
            body = lines[3]
    if body is None:
        os.rename(src, dest)
        return
    dest.write_bytes(b"#!python\n" + body)  # a new file: src is a hardlink into uv's cache
    dest.chmod(0o755)
    src.unlink()


def script_entry_points(dist_info: Path) -> dict[str, str]:
    """The ``console_scripts`` and ``gui_scripts`` of a ``.dist-info`` directory.

    Returns ``{name: "module:attr"}``, each name the file the script is in the ``bin``
    directory (:func:`script_file_name`: ``a/../b`` is ``b``, as uv places it); empty when
    there is no (readable) ``entry_points.txt``. Source: the entry points specification
    (PyPA), file format section.

    Raises:
        InstallError: a name is no file of the ``bin`` directory (uv refuses the wheel).
    """
    import configparser

    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read(dist_info / "entry_points.txt", encoding="utf-8")
    except configparser.Error:
        return {}
    found: dict[str, str] = {}
    for section in ("console_scripts", "gui_scripts"):
        if not parser.has_section(section):
            continue
        for name, target in parser.items(section):
            file_name = script_file_name(name)
            if file_name is None:
                raise InstallError(
                    f"{dist_info.name}: the {section} entry point {name!r} is not a file name "
                    "inside the environment's bin directory; the wheel is invalid (uv refuses "
                    "it too)", requirement=dist_info.name.split("-")[0])
            found[file_name] = target.strip()
    return found


def script_file_name(name: str) -> str | None:
    """The file in the ``bin`` directory that the entry point ``name`` is written to, as uv
    (0.11.15 and later) places it: the path ``bin/NAME`` normalised without the file system
    (``.`` and ``..`` resolved, ``/`` repeated or trailing dropped); None when that is not a
    file directly in ``bin`` (it leaves it, is ``bin`` itself, or is in a subdirectory, which
    uv refuses or fails to write) or holds a NUL.

    >>> script_file_name("tool"), script_file_name("a/../b"), script_file_name("./b/")
    ('tool', 'b', 'b')
    >>> script_file_name("../b"), script_file_name("a/b"), script_file_name("/tmp/b")
    (None, None, None)
    """
    parts: list[str] = []
    for part in name.split("/"):
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return parts[0] if len(parts) == 1 and "\0" not in parts[0] else None


def link_file(source: Path, dest: Path) -> None:
    """Hardlink ``source`` to ``dest``, or copy it (with its mode) where that is refused."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)
