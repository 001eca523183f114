"""A script's ``[tool.uv]`` table, handed to uv whole, in a form uv reads itself.

Scripts in the wild are written for ``uv run --script``, which reads ``[tool.uv]`` from the
inline metadata and combines it with the configuration it discovers (a project's, found from
the script's directory; the user's and the system's ``uv.toml``), the script's winning. pyrun does
not translate the table key by key: it writes it, as it stands, into a generated ``uv.toml``
(:func:`project_args`) in a directory of its own, and points every uv call it makes for the
script at that directory with ``--project``. uv then reads the table as a project's
configuration, still combined with the user's and the system's files, so every key uv accepts in
a script has the effect uv gives it, today's and tomorrow's; a key uv does not know, or a value
it refuses, is refused by uv with uv's own message. Two adjustments make the generated file
mean what the script's table means (uv's ``crates/uv/src/lib.rs``, "merge the metadata into
the filesystem metadata"):

* relative index paths (``index``, ``index-url``, ``extra-index-url``, ``find-links``) are
  made absolute from the script's directory, as uv rebases a script's table
  (``Options::relative_to``);
* the project configuration uv would have found for the script (from the script's directory,
  not the working directory: the nearest ``uv.toml``, or ``pyproject.toml`` with a
  ``[tool.uv]`` table: ``FilesystemOptions::find``) is merged below the script's table: a
  value the script sets wins, lists are joined (the script's first), tables merged key by key
  (uv's ``Combine``).

A script without a table gets ``--project`` set to its own directory, for the same reason:
``uv run --script`` looks for a project's configuration there (checked with uv 0.13.9), where
a plain ``uv pip compile`` would look in the working directory. Where uv reads no discovered
configuration (``UV_NO_CONFIG``) or one named file (``UV_CONFIG_FILE``), the generated file is
given with ``--config-file`` instead (with that file's content below the table), so that the
table still counts, as it does for ``uv run --script``. uv's command-line settings
(:data:`SETTINGS`: ``pyrun --exclude-newer DATE``) go into the same file, above the table.

``sources`` is project-only in a ``uv.toml``: a script with ``sources`` or named indexes is
resolved by ``uv export --script``, where uv reads the script itself (:mod:`pyrun.engine.locking`).

pyrun reads a few keys itself and checks their shape (:func:`check`): ``sources`` and
``index`` (the named indexes' credentials reach ``uv pip install``), and the index keys that
say whether artifacts come from one index. The command line's index options
(``pyrun --index-url URL``) are uv options, on top of the table as uv puts them.

Source: uv's documentation, "Settings" and "Configuration files"; uv's source,
``crates/uv-settings/src/lib.rs`` and ``combine.rs`` (uv 0.12.5).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrun.script.uvconfig import (
    _config_file,
    _no_config,
    combine,
    discovered_config,
    project_args,
    rebased,
    user_config_file,
)

#: Command-line option key -> (the uv option, the kind of value): pyrun's index options, and
#: the constraints an overlay on a lock adds.
OPTIONS: dict[str, tuple[str, str]] = {
    "index": ("--index", "strs"),
    "default-index": ("--default-index", "str"),
    "index-url": ("--index-url", "str"),
    "extra-index-url": ("--extra-index-url", "strs"),
    "find-links": ("--find-links", "strs"),
    "no-index": ("--no-index", "bool"),
    "index-strategy": ("--index-strategy", "str"),
    "constraint-dependencies": ("--constraint", "requirements"),
}

#: uv's resolver and installer options that ``pyrun`` accepts as ``uv run`` does (the same
#: names as the ``[tool.uv]`` keys they set), with the kind of value each takes on the command
#: line: they reach uv in the generated ``uv.toml``, above the script's table (uv's command
#: line wins over any configuration). ``map``: ``KEY=VALUE``; ``nested``: ``PACKAGE:KEY=VALUE``.
SETTINGS: dict[str, str] = {
    "exclude-newer": "str", "exclude-newer-package": "map", "prerelease": "str",
    "resolution": "str", "fork-strategy": "str", "keyring-provider": "str",
    "no-sources": "bool", "no-sources-package": "list", "reinstall": "bool",
    "reinstall-package": "list", "compile-bytecode": "bool", "config-settings": "map",
    "config-settings-package": "nested", "no-build-isolation": "bool",
    "no-build-isolation-package": "list", "no-build": "bool", "no-build-package": "list",
    "no-binary": "bool", "no-binary-package": "list", "allow-insecure-host": "list",
    "system-certs": "bool", "python-preference": "str",
}


def overlay(command_line: Mapping[str, Any]) -> dict[str, Any]:
    """The ``uv.toml`` values of the :data:`SETTINGS` options in ``command_line``.

    >>> overlay({"exclude-newer": "2024-01-01", "config-settings": ("a=1", "b=2"),
    ...          "config-settings-package": ("six:x=y",), "no-build": True})
    {'exclude-newer': '2024-01-01', 'config-settings': {'a': '1', 'b': '2'}, \
'config-settings-package': {'six': {'x': 'y'}}, 'no-build': True}

    Raises:
        ValueError: a ``map`` value without ``=`` or a ``nested`` one without ``:``.
    """
    out: dict[str, Any] = {}
    for key, value in command_line.items():
        kind = SETTINGS.get(key)
        if kind is None:
            continue
        if kind == "list":
            out[key] = list(value)
        elif kind == "map":
            table: dict[str, str] = {}
            for item in value:
                name, eq, text = item.partition("=")
                if not eq:
                    flag = "config-setting" if key == "config-settings" else key
                    raise ValueError(f"--{flag} {item!r}: expected KEY=VALUE")
                table[name] = text
            out[key] = table
        elif kind == "nested":
            nested: dict[str, dict[str, str]] = {}
            for item in value:
                package, colon, rest = item.partition(":")
                name, eq, text = rest.partition("=")
                if not (colon and eq):
                    raise ValueError(f"--{key} {item!r}: expected PACKAGE:KEY=VALUE")
                nested.setdefault(package, {})[name] = text
            out[key] = nested
        else:
            out[key] = value
    return out


#: The keys that say where distributions come from.
INDEX_KEYS = frozenset({"index", "default-index", "index-url", "extra-index-url",
                        "find-links", "no-index", "index-strategy"})

#: ``[tool.uv]`` keys uv reads only from a script itself (never from a ``uv.toml``).
SCRIPT_ONLY = frozenset({"sources"})

#: ``[tool.uv]`` keys whose effect in ``uv run --script`` pyrun cannot give, with why and what
#: happens instead (a warning when an environment is built, never an exit).
NOT_APPLIED: dict[str, str] = {
    "link-mode": "pyrun links its pool to uv's cache with hardlinks (clones on macOS) and "
                 "composes environments from the pool, whatever the link mode",
    "upgrade": "it applies when pyrun builds the environment; later runs reuse it (run "
               "`pyrun -U` to resolve again)",
    "upgrade-package": "it applies when pyrun builds the environment; later runs reuse it "
                       "(run `pyrun --upgrade-package NAME` to resolve again)",
    "reinstall": "pyrun's pool keeps each distribution once; later runs reuse the environment "
                 "(run `pyrun --refresh` to build it again)",
    "reinstall-package": "pyrun's pool keeps each distribution once; later runs reuse the "
                         "environment (run `pyrun --refresh` to build it again)",
    "python-downloads": "pyrun never downloads a Python: where uv finds none installed, pyrun "
                        "looks in pyenv's versions and uv's managed Pythons",
}


def not_applied(settings: UvSettings) -> list[str]:
    """One warning for each key of the script's table in :data:`NOT_APPLIED`."""
    return [f"[tool.uv] `{key}` does not apply as in uv: {NOT_APPLIED[key]}"
            for key in settings.table if key in NOT_APPLIED
            and not (key == "python-downloads" and settings.table[key] == "never")]


@dataclass(frozen=True)
class UvSettings:
    """A script's ``[tool.uv]`` table and uv's settings from the command line.

    Attributes:
        table: the script's ``[tool.uv]`` as written (every key; uv reads it).
        command_line: ``{key: value}`` for each key of :data:`OPTIONS` (uv options) and
            :data:`SETTINGS` (the generated ``uv.toml``, above the table) the command line
            sets: a string, a bool, or a tuple of strings.
        root: the directory the table's relative paths start from: the script's own (the
            working directory for a script from standard input or a URL: ``""``).
    """

    table: Mapping[str, Any] = field(default_factory=dict)
    command_line: Mapping[str, Any] = field(default_factory=dict)
    root: str = ""

    def __bool__(self) -> bool:
        return bool(self.table or self.command_line)

    @property
    def values(self) -> dict[str, Any]:
        """The index-related values uv combines from both (the command line's lists first);
        the script's named indexes as ``index-tables``."""
        values: dict[str, Any] = {k: v for k, v in self.table.items() if k in INDEX_KEYS}
        if "index" in values:
            values["index-tables"] = tuple(values.pop("index"))
        for key, value in self.command_line.items():
            if key not in OPTIONS:
                continue
            kind = OPTIONS[key][1]
            values[key] = (*value, *values.get(key, ())) if kind in ("strs", "requirements") \
                and isinstance(values.get(key, ()), (list, tuple)) else value
        return values

    @property
    def script_read(self) -> bool:
        """Whether only uv reading the script itself (``uv export --script``) honours the
        table: it has ``sources`` or named indexes."""
        return "sources" in self.table or "index" in self.table

    def named_indexes(self) -> list[str]:
        """``--index=NAME=URL`` for each ``[[tool.uv.index]]`` table: what an install from a
        lock naming those indexes needs to find their credentials (``UV_INDEX_<NAME>_*``)."""
        return [f"--index={i['name']}={i['url']}" if i.get("name") else f"--index={i['url']}"
                for i in self.table.get("index", ())]

    def index_options(self) -> list[str]:
        """The command line's index options, and the script's named indexes, for ``uv pip
        install`` and ``uv export``."""
        only = UvSettings(command_line={k: v for k, v in self.command_line.items()
                                        if k in INDEX_KEYS})
        return only.compile_options(Path(".")) + self.named_indexes()

    def compile_options(self, workdir: Path) -> list[str]:
        """The uv options for the command line's settings; constraint requirements are
        written to a file in ``workdir``."""
        out: list[str] = []
        for key in sorted(k for k in self.command_line if k in OPTIONS):
            option, kind = OPTIONS[key]
            value = self.command_line[key]
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

    def config(self, table: bool = True) -> dict[str, Any] | None:
        """The ``uv.toml`` content that means to uv what the command line's settings
        (:func:`overlay`) and, with ``table``, the script's table mean (see the module's
        docstring); None when there are neither.

        Raises:
            ValueError: a command-line setting is malformed (see :func:`overlay`).
        """
        top = overlay(self.command_line)
        mine = {k: v for k, v in self.table.items() if k not in SCRIPT_ONLY} if table else {}
        if not (top or mine):
            return None
        here = self.root or os.getcwd()
        layered = combine(top, rebased(mine, here))
        found = None if _no_config() else user_config_file() if _config_file() \
            else discovered_config(here)
        return combine(layered, found) if found is not None else layered

    @contextlib.contextmanager
    def project(self, table: bool = True) -> Iterator[list[str]]:
        """The ``--project`` option that makes uv read the configuration ``uv run --script``
        reads for this script: a temporary directory holding :meth:`config` as its
        ``uv.toml`` (removed on exit); else the script's directory, where uv looks for a
        project's configuration for a script (not the working directory); else none.
        ``table=False`` is for a uv that reads the script's table itself (``uv export
        --script``).

        Raises:
            OSError: the temporary directory cannot be written.
            ValueError: see :meth:`config`.
        """
        config = self.config(table)
        if config is None:
            yield [f"--project={self.root}"] if self.root and table else []
            return
        with project_args(config, as_file=_no_config() or bool(_config_file())) as args:
            yield args


def check(
    table: Any, where: str, parse_requirement: Callable[[str], object]
) -> tuple[UvSettings, list[tuple[str, str]]]:
    """Check the keys of a ``[tool.uv]`` table that pyrun reads itself (``where`` names it in
    messages); uv checks the rest when it reads the table. ``parse_requirement`` is kept for
    callers' symmetry with ``dependencies`` (raising ``ValueError``).

    Returns the settings and ``[(key, problem)]``, each problem saying what to do. The caller
    turns problems into errors naming the script's line.
    """
    del parse_requirement  # uv parses the table's requirements itself
    if not isinstance(table, dict):
        return UvSettings(), [("uv", f"{where} must be a table")]
    problems: list[tuple[str, str]] = []
    for key in ("sources", "index"):
        if key in table:
            problem = _script_key_problem(key, table[key])
            if problem:
                problems.append((key, f"{where} `{key}` {problem}"))
    for key, kind in (("index-url", "str"), ("extra-index-url", "strs"), ("find-links", "strs"),
                      ("no-index", "bool")):
        if key in table and not _shaped(table[key], kind):
            expected = {"bool": "true or false", "str": "a string (one line, not starting "
                        "with -)", "strs": "a list of strings (one line each, not starting "
                        "with -)"}[kind]
            problems.append((key, f"{where} `{key}` must be {expected}, not {table[key]!r}"))
    return UvSettings(table=dict(table)), problems


def merged(script: UvSettings, command_line: Mapping[str, Any]) -> UvSettings:
    """The script's table with the command line's options (lists joined, the given ones
    first; uv's command line wins over any configuration)."""
    values = dict(script.command_line)
    for key, value in command_line.items():
        kind = OPTIONS[key][1] if key in OPTIONS else SETTINGS[key]
        values[key] = (*value, *values.get(key, ())) if kind in ("strs", "requirements",
                                                                  "list", "map", "nested") \
            else value
    return UvSettings(script.table, values, script.root)


_INDEX_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _script_key_problem(key: str, value: Any) -> str | None:
    """What is wrong with a ``sources`` or ``index`` value (uv checks the rest when it reads
    the script), or None. Index names and URLs reach ``uv pip install`` as options, so they
    must be plain text."""
    if key == "sources":
        if not isinstance(value, dict) or not all(isinstance(v, (dict, list))
                                                  for v in value.values()):
            return "must be a table of sources ({ index = ... }, { git = ... }, { path = ... })"
        return None
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
        return "must be a list of tables ([[tool.uv.index]] with name and url)"
    for table in value:
        name, url = table.get("name"), table.get("url")
        if name is not None and not (isinstance(name, str) and name
                                     and set(name) <= _INDEX_NAME_CHARS):
            return f"`name` must be letters, digits, -, _ and ., not {name!r}"
        if not (isinstance(url, str) and _plain(url)):
            return f"{name}: needs a `url` (one line, not starting with -), not {url!r}"
    return None


def _shaped(value: Any, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str) and _plain(value)
    return isinstance(value, list) and all(isinstance(v, str) and _plain(v) for v in value)


def _plain(text: str) -> bool:
    """One line of text that cannot be taken for an option."""
    return bool(text) and not text.startswith("-") and not any(c < " " for c in text)


def names(settings: UvSettings) -> Sequence[str]:
    """The keys set, for messages (``pip cannot honour exclude-newer, prerelease``)."""
    return sorted({*settings.table, *settings.command_line})
