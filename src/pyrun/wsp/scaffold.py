"""``pyrun wsp init``'s work: a workflow script whose inline metadata block points at the pyrun
that wrote it, and, when asked, its declaration in ``pyproject.toml`` (docs/workflow-server.md).

pyrun's distribution, ``pyrun-scripts``, is not on PyPI yet, so ``dependencies =
["pyrun-scripts"]`` alone resolves nowhere. The block gets a ``[tool.uv.sources]`` entry for it
(uv reads it, and so does pyrun, through ``uv export --script``), chosen by how this pyrun was
installed (:func:`toolkit_source`; PEP 610's ``direct_url.json`` says how):

* an editable install (``pip install -e``, ``uv pip install -e``): its project directory, as an
  editable path source: the server runs that very source tree, edits included;
* any other install (a wheel, ``uv tool install``, ``pipx install``, a directory installed
  non-editable, an index): the installed files themselves, rebuilt into a wheel
  (:func:`rebuild_wheel`: the distribution's RECORD lists them), kept in pyrun's data directory
  under the wheel's hash (``~/.local/share/pyrun/wheels/<hash>/``). It needs no build backend
  and no network, is exactly the pyrun that wrote the script, and stays when pyrun is upgraded
  or removed (a new version is another wheel). A wheel path names the place an installer left
  (a temporary download, say), and a directory may have changed since: neither is used;
* ``from_index``: no source, the requirement alone (``pyrun-scripts>=VERSION``): for when
  pyrun-scripts is on the index uv uses. Once it is on PyPI, this is all a script needs.

The path is absolute, so the script works from any folder of this machine; another machine
needs its own ``pyrun wsp init`` (or pyrun-scripts from an index).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pyrun import DOCS_URL, __version__
from pyrun.errors import InstallError, OutputError, ProjectFileError, UsageError

#: pyrun's distribution.
DISTRIBUTION = "pyrun-scripts"

#: Files an installer adds to a ``.dist-info`` directory (PEP 376, 610, 627, and uv's): not
#: part of the wheel they came from.
INSTALLER_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json",
                             "uv_cache.json", "uv_build.json"})


@dataclass(frozen=True)
class ToolkitSource:
    """Where a script's ``pyrun-scripts`` comes from.

    Attributes:
        requirement: the ``dependencies`` entry (``pyrun-scripts``).
        source: the ``[tool.uv.sources]`` entry (``{"path": ..., "editable": True}``), or None
            when the index provides it.
        kind: ``editable``, ``wheel`` or ``index``.
        requires_python: pyrun's ``Requires-Python`` (``>=3.9``).
    """

    requirement: str
    source: dict[str, Any] | None
    kind: str
    requires_python: str

    @property
    def where(self) -> str:
        """The source, for a person: the path, or the index."""
        return str(self.source["path"]) if self.source else "the package index"


def installed_distribution() -> metadata.Distribution:
    """The distribution of the pyrun that is running (the one whose files hold this module).

    Raises:
        InstallError: none is installed, or the one found is not the running pyrun (a source
            tree on ``PYTHONPATH``, say): there is nothing to point a script at.
    """
    import pyrun

    package = Path(os.path.realpath(os.path.dirname(pyrun.__file__)))
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        editable = _editable_project(dist)
        if editable is not None and _inside(package, editable):
            return dist
        init = dist.locate_file("pyrun/__init__.py")
        if os.path.realpath(os.path.dirname(str(init))) == str(package):
            return dist
    raise InstallError(f"this pyrun ({package}) is not an installed {DISTRIBUTION}, so there "
                       "is no distribution to point a script at; install it (pip install -e "
                       f"DIR, uv tool install {DISTRIBUTION}), or pass --from-index when "
                       f"{DISTRIBUTION} is on your package index", requirement=DISTRIBUTION)


def toolkit_source(from_index: bool = False, wheels: Path | None = None) -> ToolkitSource:
    """Where a new script's ``pyrun-scripts`` comes from (see the module's docstring); a wheel
    is rebuilt into ``wheels`` (default :func:`wheels_dir`) when one is needed.

    Raises:
        InstallError: pyrun's distribution cannot be found or rebuilt.
        OutputError: the wheel cannot be written.
    """
    if from_index:
        return ToolkitSource(f"{DISTRIBUTION}>={__version__}", None, "index", _requires(None))
    dist = installed_distribution()
    editable = _editable_project(dist)
    if editable is not None:
        return ToolkitSource(DISTRIBUTION, {"path": str(editable), "editable": True},
                             "editable", _requires(dist))
    wheel = rebuild_wheel(dist, wheels if wheels is not None else wheels_dir())
    return ToolkitSource(DISTRIBUTION, {"path": str(wheel)}, "wheel", _requires(dist))


def wheels_dir() -> Path:
    """Where rebuilt wheels are kept: ``wheels`` in pyrun's user data directory
    (``$XDG_DATA_HOME/pyrun``, else ``~/.local/share/pyrun`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("pyrun", appauthor=False)) / "wheels"


def _requires(dist: metadata.Distribution | None) -> str:
    found = dist.metadata.get_all("Requires-Python") if dist is not None else None
    return str(found[0]) if found else ">=3.9"


def _editable_project(dist: metadata.Distribution) -> Path | None:
    """The project directory of an editable install (PEP 660, recorded by PEP 610), or None."""
    try:
        record = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return None
    url = record.get("url") if isinstance(record, dict) else None
    info = record.get("dir_info") if isinstance(record, dict) else None
    if not (isinstance(url, str) and url.startswith("file://") and isinstance(info, dict)
            and info.get("editable") is True):
        return None
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(url).path))
    return path if (path / "pyproject.toml").is_file() or (path / "setup.py").is_file() else None


def _inside(path: Path, directory: Path) -> bool:
    real = os.path.realpath(directory)
    return str(path) == real or str(path).startswith(real + os.sep)


def rebuild_wheel(dist: metadata.Distribution, into: Path) -> Path:
    """The installed ``dist`` as a wheel again: every file its RECORD lists under
    site-packages (bytecode and the installer's own files left out), its scripts back under
    ``.data/scripts`` with the ``#!python`` an installer rewrites, a new RECORD. The same files
    give the same bytes; it is written to ``into/<hash>/NAME-VERSION-TAG.whl`` (or found
    there, when its content is the same). Returns its path.

    Raises:
        InstallError: the distribution's files cannot be read (no RECORD, a file missing).
        OutputError: the wheel cannot be written.
    """
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    version = dist.version
    files = dist.files
    if not files:
        raise InstallError(f"{dist.metadata['Name']} {version} has no RECORD listing its files: "
                           "it cannot be made a wheel again", requirement=DISTRIBUTION)
    info = next((f.parts[0] for f in files if f.name == "METADATA"), f"{name}-{version}.dist-info")
    entries: dict[str, tuple[bytes, int]] = {}
    try:
        for f in files:
            path = Path(str(dist.locate_file(f)))
            if f.parts[0] == "..":  # outside site-packages: the scripts (bin/pyrun)
                if path.parent.name in ("bin", "Scripts") and path.suffix != ".exe":
                    entries[f"{name}-{version}.data/scripts/{path.name}"] = (
                        _original_script(path.read_bytes()), 0o755)
                continue
            if "__pycache__" in f.parts or f.suffix == ".pyc" or (
                    f.parts[0] == info and f.name in INSTALLER_FILES and len(f.parts) == 2):
                continue
            entries[f.as_posix()] = (path.read_bytes(), 0o644)
    except OSError as exc:
        raise InstallError(f"cannot read the installed {dist.metadata['Name']} to make it a "
                           f"wheel again: {exc}", requirement=DISTRIBUTION) from None
    tag = _tag(entries.get(f"{info}/WHEEL", (b"", 0))[0])
    data = _zip(entries, f"{info}/RECORD")
    digest = hashlib.sha256(data).hexdigest()
    wheel = into / digest[:32] / f"{name}-{version}-{tag}.whl"
    try:
        if hashlib.sha256(wheel.read_bytes()).hexdigest() == digest:
            return wheel
    except OSError:
        pass
    try:  # private: a wheel there is code pyrun installs for you
        wheel.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise OutputError(str(wheel.parent), f"cannot make {wheel.parent}: "
                          f"{exc.strerror or exc}") from None
    _write(wheel, data)
    return wheel


def _original_script(data: bytes) -> bytes:
    """A script as its wheel had it: an installer rewrote its ``#!`` line to the interpreter
    it installed into; a wheel says ``#!python``."""
    if data.startswith(b"#!"):
        return b"#!python" + data[data.find(b"\n"):] if b"\n" in data else b"#!python\n"
    return data


def _tag(wheel_file: bytes) -> str:
    """The first ``Tag:`` of a WHEEL file (``py3-none-any`` when there is none)."""
    for line in wheel_file.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "tag" and value.strip():
            return value.strip()
    return "py3-none-any"


def _zip(entries: dict[str, tuple[bytes, int]], record: str) -> bytes:
    """A wheel of ``entries`` (``{name: (bytes, mode)}``) and its RECORD, byte for byte the
    same for the same entries (sorted, with a fixed timestamp)."""
    out = io.BytesIO()
    lines = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for arcname in sorted(entries):
            content, mode = entries[arcname]
            _add(z, arcname, content, mode)
            hashed = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            lines.append(f"{arcname},sha256={hashed.decode()},{len(content)}")
        lines.append(f"{record},,")
        _add(z, record, ("\n".join(lines) + "\n").encode(), 0o644)
    return out.getvalue()


def _add(z: zipfile.ZipFile, name: str, content: bytes, mode: int) -> None:
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.external_attr = (0o100000 | mode) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(entry, content)


def _write(path: Path, data: bytes | str, exclusive: bool = False) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed into place, keeping the
    mode of the file it replaces; with ``exclusive``, linked into place, so an existing file
    is never replaced).

    Raises:
        OutputError: it cannot be written (or, with ``exclusive``, it exists).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path = Path(os.path.realpath(path))  # a pyproject.toml that is a link: its target
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        mode = 0o644
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
            os.chmod(tmp, mode)
            if exclusive:
                os.link(tmp, path)
            else:
                os.replace(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
    except FileExistsError:
        raise OutputError(str(path), f"{path} exists; pyrun wsp init writes a new file only "
                          "(give another PATH)") from None
    except OSError as exc:
        raise OutputError(str(path), f"cannot write {path}: {exc.strerror or exc}") from None


def script_text(source: ToolkitSource, name: str, script: str = "wf.py") -> str:
    """A workflow script serving the venvs in ``./envs`` with pyrun's toolkit, named ``name``
    (``server_name``), its block pointing at ``source``; ``script`` is its file name (for the
    declaration it mentions)."""
    lines = ["# /// script", f"# requires-python = {_toml(source.requires_python)}",
             f"# dependencies = [{_toml(source.requirement)}]"]
    if source.source is not None:
        fields = ", ".join(f"{key} = {_toml(value)}" for key, value in source.source.items())
        lines += ["# [tool.uv.sources]", f"# {DISTRIBUTION} = {{ {fields} }}"]
    lines.append("# ///")
    if source.source is not None:
        lines += [f"# [tool.uv.sources] points at the pyrun that wrote this file (pyrun "
                  f"{__version__}, `pyrun wsp init`):",
                  f"# {DISTRIBUTION} is not on PyPI yet. Once it is, delete those two lines."]
    return "\n".join(lines) + _BODY.format(name=json.dumps(name, ensure_ascii=False),
                                           script=script, docs=DOCS_URL)


_BODY = '''

"""A workflow server (WSP) in one file, made with pyrun's toolkit: the venvs in ./envs.

Declared in pyproject.toml as `[workflow] wsp = {{script = "./{script}"}}`, it is the server
`pyrun wsp ...` and editors talk to here. Tutorial:
{docs}workflow-server/
"""

from pathlib import Path

from pyrun.wsp.toolkit import Server, VenvFolder

HERE = Path(__file__).resolve().parent

envs = VenvFolder(HERE / "envs")
app = Server({name})
app.include(envs)

if __name__ == "__main__":
    app.run()
'''


def _toml(value: Any) -> str:
    """``value`` (a string or a boolean) as TOML (a basic string: JSON's escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(str(value), ensure_ascii=False)


def declaration(project: Path, script: Path) -> tuple[Path, str]:
    """``project``'s ``pyproject.toml`` with ``[workflow] wsp = {script = "./REL"}`` added
    (created when there is none): ``(its path, its new text)``, checked, not written.

    Raises:
        UsageError: ``script`` is not inside ``project``.
        ProjectFileError: the file is not valid TOML, declares a server already, or has a
            ``workflow`` key that is not a ``[workflow]`` table (add the line by hand then).
    """
    pyproject = project / "pyproject.toml"
    try:
        relative = Path(os.path.abspath(script)).relative_to(os.path.abspath(project))
    except ValueError:
        raise UsageError(f"--declare: {script} is not inside {project}, whose pyproject.toml "
                         "would declare it") from None
    line = f"wsp = {{script = {_toml('./' + relative.as_posix())}}}"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectFileError(str(pyproject), f"cannot read {pyproject}: {exc}") from None
    workflow = _load(pyproject, text).get("workflow")
    if isinstance(workflow, dict) and "wsp" in workflow:
        raise ProjectFileError(str(pyproject), f"{pyproject} declares a workflow server already "
                               f"([workflow] wsp); to use the new script, make it `{line}`")
    header = re.search(r"^[ \t]*\[[ \t]*workflow[ \t]*\][ \t]*(#.*)?$", text, re.M)
    if header is not None:
        end = text.find("\n", header.end())
        new = (text[:end + 1] if end >= 0 else text + "\n") + line + "\n" + (
            text[end + 1:] if end >= 0 else "")
    elif workflow is not None:
        raise ProjectFileError(str(pyproject), f"{pyproject} sets workflow otherwise than as a "
                               f"[workflow] table; add `{line}` to it by hand")
    else:
        new = text + ("\n" if text and not text.endswith("\n") else "") + (
            "\n" if text.strip() else "") + f"[workflow]\n{line}\n"
    declared = _load(pyproject, new).get("workflow")
    if not (isinstance(declared, dict) and "wsp" in declared):  # pragma: no cover - a guard
        raise ProjectFileError(str(pyproject), f"cannot add `{line}` to {pyproject}")
    return pyproject, new


def _load(path: Path, text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectFileError(str(path), f"{path} is not valid TOML: {exc}") from None


@dataclass(frozen=True)
class Written:
    """What :func:`init` wrote: the script, the ``pyproject.toml`` (or None), and the toolkit's
    source the script names."""

    script: Path
    pyproject: Path | None
    source: ToolkitSource


def init(script: Path, declare: bool = False, from_index: bool = False,
         project: Path | None = None) -> Written:
    """Write a new workflow script at ``script`` (:func:`script_text`, named for its folder)
    and, with ``declare``, declare it in ``project``'s ``pyproject.toml`` (default: the working
    directory). Everything is checked before anything is written; the script is never
    written over.

    Raises:
        UsageError: ``script`` exists, or (``declare``) is not inside ``project``.
        ProjectFileError: ``pyproject.toml`` cannot take the declaration.
        InstallError: pyrun's distribution cannot be found or rebuilt.
        OutputError: a file cannot be written.
    """
    script = Path(os.path.abspath(script))
    if os.path.lexists(script):
        raise UsageError(f"{script} exists; pyrun wsp init writes a new file only (give "
                         "another PATH)")
    if script.suffix != ".py":
        raise UsageError(f"{script.name}: a workflow script's name ends in .py")
    planned = declaration(project or Path.cwd(), script) if declare else None
    source = toolkit_source(from_index)
    name = script.parent.name or "workflow"
    _write(script, script_text(source, name, script.name), exclusive=True)
    if planned is not None:
        _write(planned[0], planned[1])
    return Written(script, planned[0] if planned else None, source)
