"""Environments: a tiny venv whose activation ``.pth`` puts pool entries on ``sys.path``.

An environment is keyed by the interpreter's identity and the sorted pool keys it holds
(:func:`environment_key`), so scripts whose requirements resolve to the same set share one,
however they spell their requirements. Its layout (POSIX)::

    pyvenv.cfg                              a real venv (PEP 405): own sys.prefix, no user site
    bin/python, python3, python3.X          symlinks to the base interpreter
    bin/<console scripts>                   entry-point wrappers using bin/python
    lib/pythonX.Y/site-packages/_pyrun_pool.pth   the activation file
    pyrun-env.json                          the completion marker, written last

The ``.pth`` lists each entry's ``site-packages`` as a plain path line (``site`` appends them
after the stdlib and after the venv's own site-packages; editors read such lines too). When an
entry ships ``.pth`` files of its own, one final ``import`` line calls ``site.addsitedir`` on
those entries, so their ``.pth`` files run as in a flat install, after every pool directory is
already on ``sys.path``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyrun import CACHE_FORMAT, __version__
from pyrun.cache import Cache, remove_tree
from pyrun.fastpath import ENV_MARKER, env_python, is_whole
from pyrun.interpreters import Interpreter
from pyrun.pool import PoolEntry, script_entry_points
from pyrun.progress import Reporter

PTH_NAME = "_pyrun_pool.pth"

#: Longest shebang line the kernel passes whole (Linux BINPRM_BUF_SIZE is 256 since 5.1, 128
#: before; macOS allows 512). Longer interpreter paths get a /bin/sh trampoline.
SHEBANG_LIMIT = 127


@dataclass(frozen=True)
class Environment:
    """A finished environment.

    Attributes:
        path: its directory.
        python: its interpreter (``bin/python``), the one scripts run with.
    """

    path: Path

    @property
    def python(self) -> Path:
        """The environment's interpreter."""
        return Path(env_python(str(self.path)))


def environment_key(interpreter: Interpreter, entries: Sequence[PoolEntry]) -> str:
    """The environment key: sha256 over the interpreter's identity and the sorted pool keys.

    Returns 32 hex digits.
    """
    payload = {
        "format": CACHE_FORMAT,
        "interpreter": interpreter.identity(),
        "entries": sorted(e.key for e in entries),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def ensure_environment(
    cache: Cache, interpreter: Interpreter, entries: Sequence[PoolEntry], reporter: Reporter
) -> Environment:
    """Return the environment for ``entries`` on ``interpreter``, building it if needed.

    The build happens in a temporary directory under the environment's lock; the completion
    marker is written last and the directory renamed into place, so no run ever sees half an
    environment.
    """
    key = environment_key(interpreter, entries)
    final = cache.envs / key
    env = Environment(final)
    if is_whole(str(final)):
        return env
    with cache.locked([f"env-{key}"]):
        if is_whole(str(final)):
            return env
        reporter.step(f"creating an environment for Python {interpreter.version}")
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=cache.envs))
        try:
            _build(tmp, final, key, interpreter, entries)
            if final.exists():  # a leftover without its marker
                remove_tree(final)
            os.rename(tmp, final)
        except BaseException:
            remove_tree(tmp)
            raise
    return env


def site_packages(env_dir: Path, interpreter: Interpreter) -> Path:
    """The environment's own site-packages directory."""
    return env_dir / "lib" / f"python{interpreter.short_version}" / "site-packages"


def _build(
    tmp: Path, final: Path, key: str, interpreter: Interpreter, entries: Sequence[PoolEntry]
) -> None:
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    base = interpreter.executable
    (tmp / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(base)}\n"
        "include-system-site-packages = false\n"
        f"version = {interpreter.version}\n"
        f"executable = {base}\n"
        f"pyrun = {__version__}\n",
        encoding="utf-8",
    )
    os.symlink(base, bin_dir / "python")
    for alias in ("python3", f"python{interpreter.short_version}"):
        os.symlink("python", bin_dir / alias)
    site = site_packages(tmp, interpreter)
    site.mkdir(parents=True)
    if sys.maxsize > 2**32 and sys.platform != "darwin":
        os.symlink("lib", tmp / "lib64")
    (site / PTH_NAME).write_text(activation_pth(entries), encoding="utf-8")
    python = env_python(str(final))
    for entry in entries:
        _write_entry_scripts(entry, bin_dir, python)
    marker = {
        "format": CACHE_FORMAT,
        "key": key,
        "interpreter": interpreter.identity(),
        "entries": [e.key for e in entries],
        "created": time.time(),
    }
    (tmp / ENV_MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")


def activation_pth(entries: Sequence[PoolEntry]) -> str:
    """The text of the activation ``.pth`` for ``entries`` (see the module docstring)."""
    dirs = [str(e.site_packages) for e in entries]
    lines = list(dirs)
    nested = [d for d in dirs if any(n.endswith(".pth") for n in os.listdir(d))]
    if nested:
        lines.append(
            "import site, sys; k = set(sys.path); "
            f"[site.addsitedir(d, k) for d in {tuple(nested)!r}]"
        )
    return "\n".join(lines) + "\n"


def _write_entry_scripts(entry: PoolEntry, bin_dir: Path, python: str) -> None:
    """Console and GUI entry-point wrappers, and the wheel's own scripts, into ``bin_dir``."""
    for dist_info in entry.site_packages.glob("*.dist-info"):
        for name, target in script_entry_points(dist_info).items():
            _write_wrapper(bin_dir / name, python, target)
    shipped = entry.path / "bin"
    if shipped.is_dir():
        for script in shipped.iterdir():
            if not (bin_dir / script.name).exists():
                os.symlink(script, bin_dir / script.name)


def shebang(python: str) -> str:
    """A shebang for ``python``, or a ``/bin/sh`` trampoline when the path is too long."""
    line = f"#!{python}\n"
    if len(line.encode()) <= SHEBANG_LIMIT and " " not in python:
        return line
    return f"#!/bin/sh\n'''exec' '{python}' \"$0\" \"$@\"\n' '''\n"


def _write_wrapper(path: Path, python: str, target: str) -> None:
    module, _, attr = target.partition(":")
    attr = attr.split("[")[0].strip()  # drop extras, as pip does
    obj = attr.split(".")[0] if attr else ""
    body = (
        f"{shebang(python)}# -*- coding: utf-8 -*-\n"
        "import sys\n"
        f"from {module.strip()} import {obj}\n"
        "if __name__ == '__main__':\n"
        "    if sys.argv[0].endswith('.exe'):\n"
        "        sys.argv[0] = sys.argv[0][:-4]\n"
        f"    sys.exit({attr}())\n"
    )
    path.write_text(body, encoding="utf-8")
    path.chmod(0o755)
