"""Inline script metadata: find, read and validate a script's ``# /// script`` block.

Source: the PyPA "Inline script metadata" specification (PEP 723),
https://packaging.python.org/en/latest/specifications/inline-script-metadata/

The block scanner (:func:`scan_blocks`) is a line-based implementation of the specification's
reference regex ``(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\\s(?P<content>(^#(| .*)$\\s)+)^# ///$``
as ``re.finditer`` applies it (greedy content, the last ``# ///`` of a run of comment lines
closes the block), with the specification's text rules on top:

* two ``script`` blocks are an error that names both start lines ("tools MUST produce an error");
* a start line inside an open block is an error naming both lines (the text says tools MAY);
* an unclosed block is ignored ("MUST be ignored"), with a warning naming its line;
* the file is read as UTF-8 (a BOM is skipped), with universal newlines as Python reads source.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from pyrun.errors import MetadataError, ScriptNotFoundError
from pyrun.fastpath import UNCLOSED
from pyrun.script import uvconfig, uvsettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9 and 3.10 only
    import tomli as tomllib

#: The specification's reference regex, kept for documentation and for the tests that check
#: :func:`scan_blocks` agrees with it.
REFERENCE_REGEX = r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$"

_START = re.compile(r"# /// ([a-zA-Z0-9-]+)")
_END = "# ///"
_KNOWN_FIELDS = ("dependencies", "requires-python", "tool")


@dataclass(frozen=True)
class Block:
    """One closed metadata block found by :func:`scan_blocks`.

    Attributes:
        type: the block's TYPE (``script`` for script metadata).
        start: 0-based index of the ``# /// TYPE`` line.
        end: 0-based index of the closing ``# ///`` line.
        content: the embedded text, each line with its ``# `` or ``#`` prefix removed.
    """

    type: str
    start: int
    end: int
    content: str


@dataclass(frozen=True)
class BlockScan:
    """What :func:`scan_blocks` found: closed blocks and start lines never closed (0-based)."""

    blocks: tuple[Block, ...]
    unclosed: tuple[int, ...]


@dataclass(frozen=True)
class ScriptMetadata:
    """The validated ``script`` block of one script.

    Attributes:
        path: the script's path as given.
        dependencies: the ``dependencies`` requirements (PEP 508), in block order.
        requires_python: the ``requires-python`` specifier, or None when absent.
        tool: the ``[tool]`` table, kept for later use (empty when absent).
        uv: the ``[tool.uv]`` settings pyrun honours (:mod:`pyrun.script.uvsettings`); any other
            ``[tool.uv]`` key is a :class:`MetadataError`.
        has_block: whether the script has a ``script`` block at all.
        warnings: messages for the user that do not stop the run (unclosed block, unknown field).
    """

    path: str
    dependencies: tuple[Requirement, ...] = ()
    requires_python: SpecifierSet | None = None
    tool: Mapping[str, Any] = field(default_factory=dict)
    uv: uvsettings.UvSettings = field(default_factory=lambda: uvsettings.UvSettings({}))
    has_block: bool = False
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Editable:
    """``--with-editable PATH``: a local project installed editable, as uv's resolver reads
    it (a ``-e PATH`` line).

    Attributes:
        path: the project's directory, absolute.
    """

    path: str

    def __str__(self) -> str:
        return f"-e {self.path}"


def parse_requirement(text: str) -> Requirement:
    """One requirement (PEP 508) from any source: the block, ``--with``, a WSP request.

    Control characters (a line break, NUL, DEL; a tab is PEP 508 whitespace) are refused before
    ``packaging`` sees the text: a line break inside a direct URL would reach the installer as a
    line of its own, an option such as ``--index-url``. A valid requirement cannot start with
    ``-``, so what passes can never be read as an option.

    Raises:
        ValueError: the text is not one valid requirement; the message says why.
    """
    bad = next((c for c in text if (c < " " and c != "\t") or c == "\x7f"), None)
    if bad is not None:
        raise ValueError(f"it holds a control character ({bad!r}); a requirement is one line")
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(f"{str(exc).splitlines()[0]} (PEP 508)") from None


def _is_content(line: str) -> bool:
    return line == "#" or line.startswith("# ")


def scan_blocks(text: str) -> BlockScan:
    """Find every closed metadata block in ``text`` (newlines already normalised to ``\\n``).

    Returns the blocks in file order and the 0-based indices of start lines that no ``# ///``
    closes. Equivalent to ``re.finditer(REFERENCE_REGEX, text)``; see the module docstring.
    """
    lines = text.split("\n")
    last = len(lines) - 1  # lines[last] has no newline after it
    blocks: list[Block] = []
    unclosed: list[int] = []
    i = 0
    while i < last:
        start = _START.fullmatch(lines[i])
        if start is None:
            i += 1
            continue
        run_end = i + 1  # first index after the run of content lines (each followed by \n)
        while run_end < last and _is_content(lines[run_end]):
            run_end += 1
        # Greedy: the last "# ///" that has at least one content line before it closes the block.
        # The closing line itself may be the file's last line, with no newline after it.
        close = next((k for k in range(run_end, i + 1, -1) if lines[k] == _END), None)
        if close is None:
            unclosed.append(i)
            i += 1
            continue
        body = lines[i + 1 : close]
        content = "".join((ln[2:] if ln.startswith("# ") else ln[1:]) + "\n" for ln in body)
        blocks.append(Block(start.group(1), i, close, content))
        i = close + 1
    return BlockScan(tuple(blocks), tuple(unclosed))


#: Most bytes of a script read from standard input, a pipe, a FIFO or a device (10 MiB, as for
#: a URL: :data:`pyrun.script.remote.MAX_BYTES`); uv reads ``uv run -`` to its end, however
#: long. The warm scan (:func:`pyrun.cli._warm`) reads with the same limit.
MAX_PIPED_BYTES = 10 * 2**20


def piped_too_large(path: str) -> ScriptNotFoundError:
    """The error for a script on standard input or in a pipe (``path``) over
    :data:`MAX_PIPED_BYTES`."""
    where = "standard input" if path == "-" else path
    return ScriptNotFoundError(path, f"{where}: more than {MAX_PIPED_BYTES // 2**20} MiB, the "
                               "limit for a script read from a pipe; save it to a file and run "
                               "that")


def read_script(path: str | os.PathLike[str]) -> bytes:
    """The script's bytes, read once per run: the fast-path key and the metadata both come
    from them, so an edit between two reads cannot bind a key to another block.

    ``-`` is standard input, read to its end (``pyrun -``, as ``python -`` and ``uv run -``);
    an ``https://`` URL is fetched (:mod:`pyrun.script.remote`). Standard input and any file
    that is not a regular one (a pipe, a FIFO, ``/dev/zero``) are read up to
    :data:`MAX_PIPED_BYTES`.

    Raises:
        ScriptNotFoundError: the path is missing, a directory, or unreadable (or the URL
            answers with an error, or an HTML page), or a pipe holds more than
            :data:`MAX_PIPED_BYTES`.
        NetworkError: the URL's server cannot be reached.
    """
    if os.fspath(path) == "-":
        data = sys.stdin.buffer.read(MAX_PIPED_BYTES + 1)
        if len(data) > MAX_PIPED_BYTES:
            raise piped_too_large("-")
        return data
    from pyrun.script import remote

    if remote.is_url(os.fspath(path)):  # fetched once (pyrun.script.remote)
        from pyrun import layout

        return remote.fetch(os.fspath(path), layout.cache_root())
    try:
        with Path(path).open("rb") as f:
            if os.fstat(f.fileno()).st_mode & 0o170000 == 0o100000:  # a regular file
                return f.read()
            data = f.read(MAX_PIPED_BYTES + 1)
        if len(data) > MAX_PIPED_BYTES:
            raise piped_too_large(os.fspath(path))
        return data
    except FileNotFoundError:
        raise ScriptNotFoundError(str(path),
                                  f"{path}: no such file; check the script's path") from None
    except IsADirectoryError:
        raise ScriptNotFoundError(str(path), f"{path}: is a directory, not a script") from None
    except OSError as exc:
        raise ScriptNotFoundError(
            str(path), f"{path}: cannot read the script: {exc.strerror}") from None


def decode_source(data: bytes) -> str:
    """A script's bytes as text: UTF-8, an optional BOM skipped, newlines normalised to ``\\n``.

    Bytes that are not UTF-8 are kept as surrogate escapes so that a script in another encoding
    still runs; :func:`parse` rejects them only inside the metadata block.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8", errors="surrogateescape")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_source(path: str | os.PathLike[str]) -> str:
    """Read a script as text (:func:`read_script`, then :func:`decode_source`).

    Raises:
        ScriptNotFoundError: the path is missing, a directory, or unreadable.
    """
    return decode_source(read_script(path))


def load(path: str | os.PathLike[str], data: bytes | None = None) -> ScriptMetadata:
    """Return the validated script metadata of the script at ``path`` (see :func:`parse`),
    from ``data`` (its bytes, already read) or by reading it.

    Raises:
        ScriptNotFoundError: the script cannot be read.
        MetadataError: the ``script`` block is invalid.
    """
    source = read_script(path) if data is None else data
    name = str(path)
    if name.startswith(("https://", "http://")):  # a URL's credentials are never shown
        from pyrun.script.remote import shown

        name = shown(name)
    return parse(decode_source(source), name)


def parse(text: str, path: str = "<script>") -> ScriptMetadata:
    """Parse and validate the ``script`` block of a script's text.

    Args:
        text: the script's source with ``\\n`` newlines (as :func:`read_source` returns it).
        path: the script's path, used in messages.

    Returns:
        The metadata; ``has_block`` is False (and every field empty) when there is no block.

    Raises:
        MetadataError: two ``script`` blocks, a start line inside a block, bytes that are not
            UTF-8 inside the block, invalid TOML, or a field of the wrong type or value. Each
            problem names ``path:line:column``; validation problems are all gathered.
    """
    lines = text.split("\n")
    scan = scan_blocks(text)
    scripts = [b for b in scan.blocks if b.type == "script"]
    if len(scripts) > 1:
        first, second = scripts[0].start + 1, scripts[1].start + 1
        raise MetadataError(
            path,
            [
                f"{path}:{second}:1: a second `# /// script` block (the first starts on line "
                f"{first}); a script may have only one: merge them into one block"
            ],
        )
    warnings: list[str] = []
    inside = [(b.start, b.end) for b in scan.blocks]
    for start in scan.unclosed:
        if any(s < start < e for s, e in inside):
            continue  # reported below as a start line inside an open block
        opened = _START.fullmatch(lines[start])
        if opened is not None and opened.group(1) == "script":
            warnings.append(UNCLOSED.format(path=path, line=start + 1))
    if not scripts:
        return ScriptMetadata(path=path, warnings=tuple(warnings),
                              uv=uvsettings.UvSettings(root=uvconfig.root_of(path)))
    block = scripts[0]
    for k in range(block.start + 1, block.end):
        if _START.fullmatch(lines[k]):
            closing = [j for j in range(block.start + 1, k) if lines[j] == "# ///"]
            fix = (f"the `# ///` on line {closing[-1] + 1} does not end it, because a comment "
                   "line follows directly (a block ends at its last `# ///` before a line that "
                   f"is not a comment); put a blank line before line {k + 1}, or merge the "
                   "blocks" if closing else
                   f"close that block with `# ///` before line {k + 1}")
            raise MetadataError(
                path,
                [
                    f"{path}:{k + 1}:1: a new `{lines[k]}` start line inside the block opened "
                    f"on line {block.start + 1}; {fix}"
                ],
            )
    for k in range(block.start, block.end + 1):
        bad = next((c for c, ch in enumerate(lines[k]) if "\udc80" <= ch <= "\udcff"), None)
        if bad is not None:
            raise MetadataError(
                path,
                [
                    f"{path}:{k + 1}:{bad + 1}: the metadata block is not valid UTF-8; "
                    "save the script as UTF-8 (PEP 723 requires it)"
                ],
            )
    data = _load_toml(block, lines, path)
    return _validate(data, block, lines, path, warnings)


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")


def _load_toml(block: Block, lines: Sequence[str], path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(block.content)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        toml_line, toml_col = block.end - block.start - 1, 1  # default: end of the block
        if found is not None:
            message = message[: found.start()]
            if found.group(1):
                toml_line, toml_col = int(found.group(1)), int(found.group(2))
        k = min(block.start + toml_line, block.end)  # 0-based script line index
        prefix = 2 if lines[k].startswith("# ") else 1
        column = toml_col + prefix
        raise MetadataError(
            path,
            [
                f"{path}:{k + 1}:{column}: invalid TOML in the `# /// script` block: {message}\n"
                f"    {lines[k]}\n    {' ' * (column - 1)}^"
            ],
        ) from None


def _locate(value: str, block: Block, lines: Sequence[str], key: str) -> tuple[int, int]:
    """1-based (line, column) of a string value, else of its key, else of the block start."""
    needles = (f'"{value}"', f"'{value}'", key) if value else (key,)
    for needle in needles:
        for k in range(block.start + 1, block.end):
            col = lines[k].find(needle)
            if col >= 0:
                return k + 1, col + 1
    return block.start + 1, 1


def _validate(
    data: dict[str, Any], block: Block, lines: Sequence[str], path: str, warnings: list[str]
) -> ScriptMetadata:
    problems: list[str] = []

    def problem(value: str, key: str, text: str) -> None:
        line, col = _locate(value, block, lines, key)
        problems.append(f"{path}:{line}:{col}: {text}")

    requirements: list[Requirement] = []
    deps = data.get("dependencies", [])
    if not isinstance(deps, list):
        problem("", "dependencies", f"`dependencies` must be a list of strings, not {deps!r}")
    else:
        for item in deps:
            if not isinstance(item, str):
                problem("", "dependencies", f"`dependencies` holds {item!r}, which is not a string")
                continue
            try:
                requirements.append(parse_requirement(item))
            except ValueError as exc:
                problem(item, "dependencies", f"invalid requirement {item!r}: {exc}")

    specifier: SpecifierSet | None = None
    raw = data.get("requires-python")
    if raw is not None:
        if not isinstance(raw, str):
            problem("", "requires-python", f"`requires-python` must be a string, not {raw!r}")
        else:
            try:
                specifier = SpecifierSet(raw)
            except InvalidSpecifier:
                problem(
                    raw,
                    "requires-python",
                    f"invalid `requires-python` {raw!r}: not a version specifier "
                    "(write it like \">=3.11\")",
                )

    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        problem("", "tool", f"`tool` must be a table, not {tool!r}")
        tool = {}
    uv = uvsettings.UvSettings()
    if "uv" in tool:
        uv, uv_problems = uvsettings.check(tool["uv"], "[tool.uv]", parse_requirement)
        for key, text in uv_problems:
            problem("", key, text)
    uv = uvsettings.UvSettings(uv.table, root=uvconfig.root_of(path))

    for key in data:
        if key not in _KNOWN_FIELDS:
            line, col = _locate("", block, lines, key)
            warnings.append(
                f"{path}:{line}:{col}: warning: unknown field `{key}` in the `script` block "
                f"(known: {', '.join(_KNOWN_FIELDS)}); it is ignored"
            )
    if problems:
        raise MetadataError(path, problems)
    return ScriptMetadata(
        path=path,
        dependencies=tuple(requirements),
        requires_python=specifier,
        tool=tool,
        uv=uv,
        has_block=True,
        warnings=tuple(warnings),
    )
