"""Interpreters: what each installed one is (:class:`Interpreter`, asked once and cached),
and where they are (:class:`InterpreterFinder`). Which one a script runs on is uv's choice:
:mod:`pyrun.engine.choice`.

Candidates come from ``PATH`` (skipping pyenv's shims, which fail when a version is not
selected), pyenv's versions directory, and uv's managed Pythons. Each candidate is queried once
with a small script and the answer is cached by real path, size and mtime.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from pyrun import layout
from pyrun.errors import NoInterpreterError
from pyrun.progress import Reporter
from pyrun.subprocesses import DEVNULL, PIPE, start

#: Oldest interpreter pyrun builds environments for.
MINIMUM = Version("3.8")

#: Defines ``describe()``: what an interpreter says of itself. Run in each candidate
#: (:data:`_QUERY`), and in pyrun's own process for pyrun's own interpreter (no subprocess).
_DESCRIBE = (
    "import os, sys, sysconfig\n"
    "def describe():\n"
    "    return {'implementation': sys.implementation.name,"
    " 'version': '.'.join(map(str, sys.version_info[:3])),"
    " 'release': sys.version_info[3], 'serial': sys.version_info[4],"
    " 'executable': os.path.realpath(getattr(sys, '_base_executable', None) or sys.executable),"
    " 'cache_tag': sys.implementation.cache_tag,"
    " 'platform': sysconfig.get_platform(),"
    " 'soabi': sysconfig.get_config_var('SOABI') or '',"
    " 'pointer_bits': 64 if sys.maxsize > 2**32 else 32}\n"
)
_QUERY = _DESCRIBE + "import json\nprint(json.dumps(describe()))\n"


def _own_answer() -> dict[str, object]:
    """:data:`_DESCRIBE`'s answer for the interpreter pyrun runs on, asked in this process."""
    namespace: dict[str, object] = {}
    exec(_DESCRIBE, namespace)  # our own constant text: the same code a candidate runs
    return namespace["describe"]()  # type: ignore[operator,no-any-return]
#: What a lock's selection needs of an interpreter (PEP 751 "Installation"): its marker
#: environment and its wheel tags in priority order, asked of the interpreter itself with
#: pyrun's ``packaging`` (pure Python) appended to its ``sys.path``.
_TARGET_QUERY = (
    "import json, sys\n"
    "sys.path.append(sys.argv[1])\n"
    "from packaging.markers import default_environment\n"
    "from packaging.tags import sys_tags\n"
    "print(json.dumps({'markers': default_environment(),"
    " 'tags': [str(t) for t in sys_tags()]}))\n"
)
_NAME = re.compile(r"python3(\.\d+)?t?$")
VERSION_REQUEST = re.compile(r"(?:c?python)?(\d+(?:\.\d+){0,2})t?$")


@dataclass(frozen=True)
class Interpreter:
    """One installed base interpreter, as it describes itself.

    Attributes:
        executable: real path of the base interpreter (never a venv's or a shim's).
        version: full version, e.g. ``3.12.1`` (pre-releases carry their suffix).
        implementation: ``cpython``, ``pypy``, ...
        cache_tag: ``sys.implementation.cache_tag`` (``cpython-312``), names its ``.pyc`` files.
        platform: ``sysconfig.get_platform()``.
        soabi: the extension-module ABI (``cpython-312-x86_64-linux-gnu``); part of its identity.
    """

    executable: str
    version: Version
    implementation: str
    cache_tag: str
    platform: str
    soabi: str

    @property
    def short_version(self) -> str:
        """``major.minor``, as used in ``lib/pythonX.Y``."""
        return f"{self.version.major}.{self.version.minor}"

    def identity(self) -> dict[str, str]:
        """What makes environments built on this interpreter differ from others'."""
        return {
            "executable": self.executable,
            "version": str(self.version),
            "implementation": self.implementation,
            "soabi": self.soabi,
        }


def _from_answer(answer: dict[str, object]) -> Interpreter:
    version = str(answer["version"])
    release, serial = answer.get("release", "final"), answer.get("serial", 0)
    if release != "final":
        level = {"alpha": "a", "beta": "b", "candidate": "rc"}.get(str(release), "")
        version += level + str(serial)
    return Interpreter(
        executable=str(answer["executable"]),
        version=Version(version),
        implementation=str(answer["implementation"]),
        cache_tag=str(answer["cache_tag"]),
        platform=str(answer["platform"]),
        soabi=str(answer["soabi"]),
    )


class InterpreterFinder:
    """Discovers and queries interpreters, caching answers in ``cache_dir/interpreters.json``.

    Args:
        cache_dir: pyrun's cache root.
        reporter: for verbose diagnostics.
    """

    def __init__(self, cache_dir: Path, reporter: Reporter) -> None:
        self._file = cache_dir / layout.INTERPRETERS
        self._reporter = reporter
        self._cache: dict[str, dict[str, object]] | None = None
        self._dirty = False

    # -- querying -----------------------------------------------------------------------
    def _load_cache(self) -> dict[str, dict[str, object]]:
        """The cached answers; a damaged file (any shape but ``{path: {...}}``) is empty."""
        if self._cache is None:
            data = layout.read_marker(str(self._file)) or {}
            self._cache = {k: v for k, v in data.items() if isinstance(v, dict)}
        return self._cache

    def _save_cache(self) -> None:
        if not self._dirty or self._cache is None:
            return
        try:
            layout.write_atomic(str(self._file), json.dumps(self._cache, sort_keys=True))
        except OSError as exc:  # a read-only cache only costs a query next time
            self._reporter.debug(f"cannot save the interpreter cache: {exc}")
        self._dirty = False

    @staticmethod
    def _signature(path: str) -> str | None:
        signature = layout.file_signature(path)
        return None if signature == "-" else signature

    def query_many(self, paths: Iterable[str], *, retry: bool = False) -> list[Interpreter]:
        """Query each path (in parallel for the ones not cached); unusable ones are skipped.

        An answer "unusable" is remembered (a file on ``PATH`` that is not Python stays
        skipped); with ``retry``, it is asked again (an interpreter pyrun needs, whose query
        may have failed once: a query killed with the run that started it, say).

        Returns the interpreters in the order given, deduplicated by base executable.
        """
        cache = self._load_cache()
        real_paths = list(dict.fromkeys(os.path.realpath(p) for p in paths))
        pending: dict[str, subprocess.Popen[str]] = {}
        own = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
        for real in real_paths:
            signature = self._signature(real)
            entry = cache.get(real)
            answered = entry is not None and bool(entry.get("answer"))
            known = entry is not None and entry.get("stamp") == signature
            if signature is None or (known and (answered or not retry)):
                continue
            if real == own:  # pyrun's own interpreter: no subprocess (15-20 ms)
                cache[real] = {"stamp": signature, "answer": _own_answer()}
                self._dirty = True
                continue
            try:
                pending[real] = start([real, "-I", "-S", "-c", _QUERY], stdin=DEVNULL,
                                      stdout=PIPE, stderr=DEVNULL, text=True)
            except OSError as exc:
                self._reporter.debug(f"cannot query {real}: {exc}")
        for real, proc in pending.items():
            out, _ = proc.communicate()
            try:
                answer = json.loads(out) if proc.returncode == 0 else None
                _from_answer(answer) if answer else None
            except (ValueError, KeyError, TypeError):
                answer = None
            self._reporter.debug(f"queried {real}: {'ok' if answer else 'unusable'}")
            cache[real] = {"stamp": self._signature(real), "answer": answer}
            self._dirty = True
        self._save_cache()
        found: dict[str, Interpreter] = {}
        for real in real_paths:
            entry = cache.get(real)
            answer = entry.get("answer") if entry else None
            if isinstance(answer, dict):
                try:
                    interp = _from_answer(answer)
                except (ValueError, KeyError, TypeError):  # a damaged cache: ask again next time
                    cache.pop(real, None)
                    self._dirty = True
                    continue
                found.setdefault(interp.executable, interp)
        return list(found.values())

    def query(self, path: str) -> Interpreter | None:
        """Query one interpreter (again, if it was unusable last time); None when it cannot be
        run or is not Python."""
        got = self.query_many([path], retry=True)
        return got[0] if got else None

    def target(self, interp: Interpreter) -> tuple[dict[str, str], list[str]]:
        """``(marker environment, wheel tags)`` of ``interp``: what choosing artifacts from a
        lock for it needs (:func:`pyrun.engine.resolution.select_pylock`). Asked once per
        interpreter (about 40 ms) and cached with its other answers.

        Raises:
            NoInterpreterError: ``interp`` cannot answer (it vanished, say).
        """
        import packaging

        cache = self._load_cache()
        entry = cache.get(interp.executable)
        known = entry.get("target") if entry else None
        if (isinstance(known, dict) and isinstance(known.get("markers"), dict)
                and isinstance(known.get("tags"), list)):
            return known["markers"], known["tags"]
        own = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
        if interp.executable == own:  # pyrun's own: asked here, no subprocess (40 ms or more)
            from packaging.markers import default_environment
            from packaging.tags import sys_tags

            markers = {k: str(v) for k, v in default_environment().items()}
            tags = [str(t) for t in sys_tags()]
        else:
            where = os.path.dirname(os.path.dirname(os.path.abspath(packaging.__file__)))
            proc = start([interp.executable, "-I", "-S", "-c", _TARGET_QUERY, where],
                         stdin=DEVNULL, stdout=PIPE, stderr=PIPE, text=True)
            out, err = proc.communicate()
            try:
                answer = json.loads(out) if proc.returncode == 0 else {}
                markers, tags = dict(answer["markers"]), [str(t) for t in answer["tags"]]
            except (ValueError, KeyError, TypeError):
                raise NoInterpreterError(
                    interp.executable, f"cannot ask {interp.executable} for its marker "
                    f"environment and wheel tags: {(err or out).strip()[-300:] or 'no answer'}",
                ) from None
        if entry is not None:
            entry["target"] = {"markers": markers, "tags": tags}
            self._dirty = True
            self._save_cache()
        return markers, tags

    # -- discovery ----------------------------------------------------------------------
    def candidates(self) -> Iterator[str]:
        """Paths of possible interpreters: PATH, pyenv's versions, uv's managed Pythons."""
        for directory in os.environ.get("PATH", "").split(os.pathsep):
            if not directory or "shims" in Path(directory).parts:
                continue
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                continue
            for name in names:
                if name == "python" or _NAME.match(name):
                    yield os.path.join(directory, name)
        pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
        uv_dir = os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.join(
            os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "uv", "python"
        )
        for root in (os.path.join(pyenv_root, "versions"), uv_dir):
            try:
                versions = sorted(os.listdir(root))
            except OSError:
                continue
            for version in versions:
                exe = os.path.join(root, version, "bin", "python3")
                if os.path.exists(exe):
                    yield exe

    def installed(self) -> list[Interpreter]:
        """Every usable installed interpreter (CPython-compatible, at least :data:`MINIMUM`)."""
        return [i for i in self.query_many(self.candidates()) if i.version >= MINIMUM]

    def current(self) -> Interpreter:
        """The interpreter pyrun itself runs on (its base interpreter when pyrun is in a venv)."""
        base = getattr(sys, "_base_executable", None) or sys.executable
        interp = self.query(base)
        if interp is None:  # pragma: no cover - pyrun's own interpreter always answers
            raise NoInterpreterError(base, f"cannot query pyrun's own interpreter {base}")
        return interp
