"""Which scripts an environment was built or found for: ``envs/<key>/pyrun-scripts.jsonl``,
written and read here only (``pyrun list`` shows it).

The warm path records nothing (it stays as fast as it is, and imports nothing for this): a
record is written where pyrun does work anyway, when a build finishes (a resolution, or a
build that found the environment already there) and when ``pyrun install`` makes a script a
command. The fast key does not include the script's path, so two scripts with the same block
share one environment and a warm run of the second is never recorded: what this file says
is "the scripts pyrun last built or installed this environment for", each with the time.
The environment's last *use*, by any script, is its marker's mtime
(:mod:`pyrun.store.maintenance`).

The file is one JSON object per line, ``{"script": PATH, "at": SECONDS}``, appended with
``O_APPEND`` (a single short write: concurrent builds never interleave their lines), and
compacted to one line per script when it passes :data:`MAX_BYTES`. JSON keeps a path with a
line break on its line. Damage (a line that is not such an object) is skipped.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from pyrun import layout

#: The record's file name in an environment's directory.
FILE_NAME = "pyrun-scripts.jsonl"

#: Past this size the file is rewritten with one line per script.
MAX_BYTES = 64 * 1024

#: At most this many scripts are kept when the file is compacted (the most recent).
MAX_SCRIPTS = 100


@dataclass(frozen=True)
class Use:
    """One script an environment was built or installed for.

    Attributes:
        script: its absolute path (or URL) as pyrun was given it.
        at: when (seconds since the epoch).
    """

    script: str
    at: float


def record(env_dir: Path, script: str, now: float | None = None) -> None:
    """Append ``script`` (an absolute path or a URL) to the record of the environment at
    ``env_dir``.

    Raises:
        OSError: the file cannot be written (the caller decides whether that matters).
    """
    line = json.dumps({"script": script, "at": time.time() if now is None else now}) + "\n"
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(env_dir / FILE_NAME, flags, 0o600)
    try:
        os.write(fd, line.encode("utf-8", "surrogateescape"))
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        uses = read(env_dir)[:MAX_SCRIPTS]
        text = "".join(json.dumps({"script": u.script, "at": u.at}) + "\n"
                       for u in reversed(uses))
        layout.write_atomic(str(env_dir / FILE_NAME), text.encode("utf-8", "surrogateescape"))


def read(env_dir: Path) -> list[Use]:
    """The scripts recorded for the environment at ``env_dir``, most recent first, each once;
    empty when there is no record (or it cannot be read)."""
    try:
        fd = os.open(env_dir / FILE_NAME, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            raw = f.read(4 * MAX_BYTES)
    except OSError:
        return []
    latest: dict[str, float] = {}
    for line in raw.decode("utf-8", "surrogateescape").splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        script, at = data.get("script"), data.get("at")
        if isinstance(script, str) and script and isinstance(at, (int, float)):
            latest[script] = max(float(at), latest.get(script, 0.0))
    return sorted((Use(s, t) for s, t in latest.items()), key=lambda u: (-u.at, u.script))
