"""A script's ``[tool.uv]`` table: what pyrun honours of it, and how it reaches the resolver.

Scripts in the wild are written for ``uv run --script``, which reads ``[tool.uv]`` from the
inline metadata. pyrun honours the keys that change a resolution and map to one
``uv pip compile`` option each (:data:`HONOURED`); the keys only uv's own reading of a script
understands (:data:`SCRIPT_KEYS`: ``sources``, named ``index`` tables) send the resolution to
``uv export --script`` (:mod:`pyrun.locking`); every other key is refused with an error naming
it (:func:`check`): never silence. The values go to uv as ``--option=value`` (never as a
separate word, so a value cannot be read as an option), constraint and override requirements
through files, after the same validation as ``dependencies``.

Source: uv's documentation, "Settings" (the ``[tool.uv]`` reference), and
``uv pip compile --help``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ``[tool.uv]`` key -> (the ``uv pip compile`` option, the kind of value).
HONOURED: dict[str, tuple[str, str]] = {
    "exclude-newer": ("--exclude-newer", "str"),
    "prerelease": ("--prerelease", "str"),
    "resolution": ("--resolution", "str"),
    "index-strategy": ("--index-strategy", "str"),
    "index-url": ("--index-url", "str"),
    "extra-index-url": ("--extra-index-url", "strs"),
    "find-links": ("--find-links", "strs"),
    "no-index": ("--no-index", "bool"),
    "no-build": ("--no-build", "bool"),
    "no-binary": ("--no-binary=:all:", "bool"),
    "no-build-package": ("--no-build-package", "strs"),
    "no-binary-package": ("--no-binary", "strs"),
    "constraint-dependencies": ("--constraint", "requirements"),
    "override-dependencies": ("--override", "requirements"),
}


#: Keys that only ``uv export --script`` reads (pyrun then lets uv read the script itself,
#: :mod:`pyrun.locking`), with the kind of value each must have. In
#: :attr:`UvSettings.values`, ``index`` is kept as ``index-tables``: ``--index URL`` on the
#: command line is another thing.
SCRIPT_KEYS: dict[str, str] = {
    "sources": "table",  # {name: {index|git|url|path = ..., ...} or a list of those}
    "index": "indexes",  # [{name = "...", url = "...", explicit = true, default = true}]
}

#: Command-line options only (``pyrun --index URL``), beside :data:`HONOURED`'s: uv's
#: ``[tool.uv] index`` is a list of named tables, which pyrun does not read yet.
CLI_ONLY: dict[str, tuple[str, str]] = {
    "index": ("--index", "strs"),
    "default-index": ("--default-index", "str"),
}


@dataclass(frozen=True)
class UvSettings:
    """The honoured keys of a script's ``[tool.uv]``, validated.

    Attributes:
        values: ``{key: value}`` for each key of :data:`HONOURED` the script sets (a string, a
            bool, or a tuple of strings).
    """

    values: Mapping[str, Any]

    def __bool__(self) -> bool:
        return bool(self.values)

    @property
    def script_read(self) -> bool:
        """Whether a key of :data:`SCRIPT_KEYS` is set: only uv reading the script itself
        (``uv export --script``) honours these settings."""
        return "sources" in self.values or "index-tables" in self.values

    def named_indexes(self) -> list[str]:
        """``--index=NAME=URL`` for each ``[[tool.uv.index]]`` table: what an install from a
        lock naming those indexes needs to find their credentials (``UV_INDEX_<NAME>_*``)."""
        return [f"--index={i['name']}={i['url']}" for i in self.values.get("index-tables", ())]

    def index_options(self) -> list[str]:
        """The options of :data:`INDEX_KEYS` among these settings, and the script's named
        indexes, for ``uv pip install``."""
        only = UvSettings({k: v for k, v in self.values.items() if k in INDEX_KEYS})
        return only.compile_options(Path(".")) + self.named_indexes()  # no requirement files

    def compile_options(self, workdir: Path) -> list[str]:
        """The ``uv pip compile`` options for these settings; constraint and override
        requirements are written to files in ``workdir``."""
        out: list[str] = []
        for key in sorted(self.values):
            if key in ("sources", "index-tables"):  # SCRIPT_KEYS: uv reads them from the script
                continue
            option, kind = HONOURED.get(key) or CLI_ONLY[key]
            value = self.values[key]
            if kind == "bool":
                out += [option] if value else []
            elif kind == "str":
                out.append(f"{option}={value}")
            elif kind == "strs":
                out += [f"{option}={v}" for v in value]
            else:  # requirements, through a file
                path = workdir / f"{key}.txt"
                path.write_text("".join(f"{r}\n" for r in value), encoding="utf-8")
                out.append(f"{option}={path}")
        return out


#: The keys that say where distributions come from: an install needs them too (an index's
#: credentials, matched to the locked artifact's URL).
INDEX_KEYS = frozenset({"index", "default-index", "index-url", "extra-index-url",
                        "find-links", "no-index", "index-strategy"})


def check(
    table: Any, where: str, parse_requirement: Callable[[str], object]
) -> tuple[UvSettings, list[tuple[str, str]]]:
    """Validate a ``[tool.uv]`` table (``where`` names it in messages; ``parse_requirement``
    validates a requirement, raising ``ValueError``).

    Returns the settings pyrun honours and ``[(key, problem)]``: every key it does not honour
    (``sources``, ``index``, ...), and every value of the wrong type, with what to do. The
    caller turns problems into errors naming the script's line.
    """
    problems: list[tuple[str, str]] = []
    if not isinstance(table, dict):
        return UvSettings({}), [("uv", f"{where} must be a table")]
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in SCRIPT_KEYS:
            problem = _script_key_problem(key, value)
            if problem:
                problems.append((key, f"{where} `{key}` {problem}"))
            else:
                values[key if key == "sources" else "index-tables"] = (
                    value if key == "sources" else tuple(value))
            continue
        if key not in HONOURED:
            problems.append((key, f"{where} `{key}` is not supported by pyrun yet, and pyrun "
                                  "never ignores what uv would read: remove it, or run the "
                                  "script with `uv run --script`"))
            continue
        kind = HONOURED[key][1]
        if kind == "bool" and isinstance(value, bool):
            values[key] = value
        elif kind == "str" and isinstance(value, str) and _plain(value):
            values[key] = value
        elif kind in ("strs", "requirements") and _strings(value):
            if kind == "requirements":
                try:
                    value = [str(parse_requirement(v)) for v in value]
                except ValueError as exc:
                    problems.append((key, f"{where} `{key}`: {exc}"))
                    continue
            values[key] = tuple(value)
        else:
            expected = {"bool": "true or false", "str": "a string",
                        "strs": "a list of strings", "requirements": "a list of requirements"}
            problems.append((key, f"{where} `{key}` must be {expected[kind]} (one line, not "
                                  f"starting with -), not {value!r}"))
    return UvSettings(values), problems


def merged(script: UvSettings, command_line: Mapping[str, Any]) -> UvSettings:
    """The script's settings with the command line's on top (as uv: the command line wins;
    lists are joined, the command line's first)."""
    values = dict(script.values)
    for key, value in command_line.items():
        kind = (HONOURED.get(key) or CLI_ONLY[key])[1]  # never a SCRIPT_KEYS key
        if kind in ("strs", "requirements"):
            values[key] = (*value, *values.get(key, ()))
        else:
            values[key] = value
    return UvSettings(values)


def key_parts(settings: UvSettings) -> list[str]:
    """The settings as sorted ``key=value`` lines, for the fast-path key."""
    return sorted(f"{k}={v!r}" for k, v in settings.values.items())


_INDEX_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _script_key_problem(key: str, value: Any) -> str | None:
    """What is wrong with a :data:`SCRIPT_KEYS` value (uv checks the rest when it reads the
    script), or None. Index names and URLs reach ``uv pip install`` as options, so they must
    be plain text."""
    if key == "sources":
        if not isinstance(value, dict) or not all(isinstance(v, (dict, list))
                                                  for v in value.values()):
            return "must be a table of sources ({ index = ... }, { git = ... }, { path = ... })"
        return None
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
        return "must be a list of tables ([[tool.uv.index]] with name and url)"
    for table in value:
        name, url = table.get("name"), table.get("url")
        if not (isinstance(name, str) and name and set(name) <= _INDEX_NAME_CHARS):
            return f"needs a `name` of letters, digits, -, _ and . in each table, not {name!r}"
        if not (isinstance(url, str) and _plain(url)):
            return f"{name}: needs a `url` (one line, not starting with -), not {url!r}"
    return None


def _plain(text: str) -> bool:
    """One line of text that cannot be taken for an option."""
    return bool(text) and not text.startswith("-") and not any(c < " " for c in text)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and _plain(v) for v in value)


def names(settings: UvSettings) -> Sequence[str]:
    """The keys set, for messages (``pip cannot honour exclude-newer, prerelease``)."""
    return sorted("index" if k == "index-tables" else k for k in settings.values)
