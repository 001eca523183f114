"""Requirements files (``--with-requirements FILE``), read as uv and pip read the plain ones.

A line holds one requirement (PEP 508); ``#`` starts a comment (at the start of a line, or
after whitespace); a line ending in ``\\`` continues on the next; ``-r FILE`` and
``--requirement FILE`` include another file, relative to the including one. Any other option
line (``-e``, ``-c``, ``--index-url``, hashes) is refused with an error naming the file and
line and what to do instead: pyrun never ignores what uv would read.

Source: pip's documentation, "Requirements File Format"; uv's ``--with-requirements``.
"""

from __future__ import annotations

import os
import re

from pyrun.errors import UsageError

_COMMENT = re.compile(r"(^|\s+)#.*$")
_INCLUDE = re.compile(r"^(?:-r\s*|--requirement(?:\s+|=))(?P<path>\S.*)$")


def read_requirements(path: str, _seen: frozenset[str] = frozenset()) -> list[str]:
    """The requirement strings of the requirements file at ``path``, in order, includes
    expanded.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "base.txt").write_text("six  # pinned below\\n")
    >>> _ = (d / "r.txt").write_text("# tools\\n-r base.txt\\n"
    ...                              "rich>=13 \\\\\\n  ; python_version>'3'\\n")
    >>> read_requirements(str(d / "r.txt"))
    ['six', "rich>=13   ; python_version>'3'"]

    Raises:
        UsageError: the file cannot be read, includes itself, or holds an option line other
            than an include (the message names the file and line).
    """
    real = os.path.realpath(path)
    if real in _seen:
        raise UsageError(f"--with-requirements {path}: includes itself")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--with-requirements {path}: cannot be read ({exc})") from None
    out: list[str] = []
    lines = text.splitlines()
    number, pending, start = 0, "", 0
    for number, raw in enumerate(lines, 1):
        line = _COMMENT.sub("", raw)
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line, pending = (pending + line).strip(), ""
        if not line:
            continue
        include = _INCLUDE.match(line)
        if include:
            other = os.path.join(os.path.dirname(path), include.group("path").strip())
            out += read_requirements(other, _seen | {real})
        elif line.startswith("-"):
            raise UsageError(f"{path}:{start}: {line.split()[0]} is not supported in "
                             "--with-requirements; put the requirements in the script's "
                             "block (pyrun add), or the setting in its [tool.uv]")
        else:
            out.append(line)
    return out
