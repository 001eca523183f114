"""`pyrun wsp init`'s parts: the script's block for each source of the toolkit (parsed as pyrun
parses scripts), an installed distribution rebuilt into the same wheel every time, and the
declaration added to pyproject.toml (or refused, with nothing written)."""

from __future__ import annotations

import base64
import hashlib
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from pyrun import __version__
from pyrun.errors import InstallError, OutputError, ProjectFileError, UsageError
from pyrun.script.metadata import parse
from pyrun.wsp import scaffold
from pyrun.wsp.scaffold import ToolkitSource, declaration, rebuild_wheel, script_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.mark.parametrize(("source", "sources"), [
    (ToolkitSource("pyrun-scripts", {"path": "/srv/w/pyrun_scripts-0.1.0-py3-none-any.whl"},
                   "wheel", ">=3.9"),
     {"pyrun-scripts": {"path": "/srv/w/pyrun_scripts-0.1.0-py3-none-any.whl"}}),
    (ToolkitSource("pyrun-scripts", {"path": 'C:\\me\\"q"', "editable": True}, "editable",
                   ">=3.9"),
     {"pyrun-scripts": {"path": 'C:\\me\\"q"', "editable": True}}),
    (ToolkitSource(f"pyrun-scripts>={__version__}", None, "index", ">=3.9"), None),
])
def test_the_script_s_block_points_at_its_source(source: ToolkitSource, sources: object) -> None:
    text = script_text(source, 'my "project"', "tools.py")
    meta = parse(text, "tools.py")
    assert [str(r) for r in meta.dependencies] == [source.requirement]
    assert str(meta.requires_python) == ">=3.9"
    assert meta.tool.get("uv", {}).get("sources") == sources
    assert ("delete those two lines" in text) == (sources is not None)
    namespace: dict[str, object] = {"__file__": "/srv/p/tools.py", "__name__": "wf"}
    exec(compile(text, "tools.py", "exec"), namespace)  # imports the toolkit; does not serve
    assert namespace["app"].name == 'my "project"'  # type: ignore[attr-defined]
    assert '{script = "./tools.py"}' in text


def installed(tmp_path: Path) -> metadata.Distribution:
    """A distribution as pip leaves one: its files under site-packages (bytecode too), its
    script in bin with the #! line rewritten, and the installer's own files in .dist-info."""
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    info = site / "demo_pkg-1.2.dist-info"
    files = {
        "demo/__init__.py": b"VALUE = 1\n",
        "demo/__pycache__/__init__.cpython-311.pyc": b"\x00junk",
        "demo/py.typed": b"",
        "demo_pkg-1.2.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo-pkg\n"
                                           b"Version: 1.2\nRequires-Python: >=3.10\n",
        "demo_pkg-1.2.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: py3-none-any\n",
        "demo_pkg-1.2.dist-info/INSTALLER": b"pip\n",
        "demo_pkg-1.2.dist-info/REQUESTED": b"",
        "demo_pkg-1.2.dist-info/direct_url.json": b'{"url": "file:///gone.whl", '
                                                  b'"archive_info": {}}',
        "../../../bin/demo": b"#!/somewhere/venv/bin/python\nimport demo\n",
    }
    for name, content in files.items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (info / "RECORD").write_text("".join(f"{n},,\n" for n in files) + f"{info.name}/RECORD,,\n")
    return metadata.PathDistribution(info)


def test_an_installed_distribution_is_rebuilt_into_the_same_wheel(tmp_path: Path) -> None:
    dist = installed(tmp_path)
    wheel = rebuild_wheel(dist, tmp_path / "wheels")
    assert wheel.name == "demo_pkg-1.2-py3-none-any.whl"
    assert wheel.parent.stat().st_mode & 0o777 == 0o700
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert sorted(names) == sorted([
            "demo/__init__.py", "demo/py.typed", "demo_pkg-1.2.data/scripts/demo",
            "demo_pkg-1.2.dist-info/METADATA", "demo_pkg-1.2.dist-info/WHEEL",
            "demo_pkg-1.2.dist-info/RECORD"])
        assert z.read("demo_pkg-1.2.data/scripts/demo") == b"#!python\nimport demo\n"
        record = z.read("demo_pkg-1.2.dist-info/RECORD").decode().splitlines()
        for line in record:
            name, digest, size = line.split(",")
            if name.endswith("RECORD"):
                continue
            content = z.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            assert digest == f"sha256={expected.decode()}" and size == str(len(content))
    assert rebuild_wheel(dist, tmp_path / "wheels") == wheel  # the same files, the same wheel
    assert rebuild_wheel(dist, tmp_path / "other").read_bytes() == wheel.read_bytes()
    wheel.write_bytes(b"tampered")
    assert zipfile.is_zipfile(rebuild_wheel(dist, tmp_path / "wheels"))  # written again
    (tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "demo" / "__init__.py"
     ).write_text("VALUE = 2\n")
    assert rebuild_wheel(dist, tmp_path / "wheels") != wheel  # other files: another wheel


def test_a_distribution_without_its_files_cannot_be_rebuilt(tmp_path: Path) -> None:
    dist = installed(tmp_path)
    (tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "demo" / "py.typed").unlink()
    with pytest.raises(InstallError, match="cannot read the installed demo-pkg"):
        rebuild_wheel(dist, tmp_path / "wheels")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory would be")
    (tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "demo" / "py.typed"
     ).write_text("")
    with pytest.raises(OutputError):
        rebuild_wheel(dist, blocked)


def test_the_source_of_this_pyrun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert scaffold.toolkit_source(from_index=True).source is None
    here = scaffold.toolkit_source(wheels=tmp_path)  # the test suite's pyrun: installed
    assert here.kind in ("editable", "wheel") and here.source is not None
    if here.kind == "editable":
        assert here.source["editable"] is True
        assert (Path(here.source["path"]) / "src" / "pyrun" / "wsp" / "scaffold.py").is_file()

    def missing(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(InstallError, match="--from-index"):
        scaffold.toolkit_source(wheels=tmp_path)


def declared(project: Path) -> object:
    path, text = declaration(project, project / "wf.py")
    path.write_text(text)
    return tomllib.loads(text)["workflow"]["wsp"]


def test_the_declaration_is_added_where_it_belongs(tmp_path: Path) -> None:
    assert declared(tmp_path) == {"script": "./wf.py"}
    assert (tmp_path / "pyproject.toml").read_text() == '[workflow]\nwsp = {script = "./wf.py"}\n'
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"')
    assert declared(tmp_path) == {"script": "./wf.py"}
    assert (tmp_path / "pyproject.toml").read_text().startswith('[project]\nname = "x"\n\n')
    (tmp_path / "pyproject.toml").write_text('[workflow]  # mine\nother = 1\n\n[tool.x]\ny = 2\n')
    assert declared(tmp_path) == {"script": "./wf.py"}
    assert tomllib.loads((tmp_path / "pyproject.toml").read_text())["workflow"]["other"] == 1
    path, text = declaration(tmp_path / "sub" / "..", tmp_path / "tools" / "wf.py")
    assert 'wsp = {script = "./tools/wf.py"}' in text


@pytest.mark.parametrize(("text", "message"), [
    ('[workflow]\nwsp = {cmd = ["x"]}\n', "declares a workflow server already"),
    ("workflow.other = 1\n", "add `wsp = {script"),
    ("[project\n", "not valid TOML"),
])
def test_a_declaration_that_cannot_be_added_is_refused_and_nothing_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectFileError, match=message):
        scaffold.init(Path("wf.py"), declare=True, from_index=True)
    assert not (tmp_path / "wf.py").exists()
    assert (tmp_path / "pyproject.toml").read_text() == text


def test_init_writes_a_new_script_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    written = scaffold.init(Path("wf.py"), declare=True, from_index=True)
    assert written.script == tmp_path / "wf.py" and written.pyproject == tmp_path / "pyproject.toml"
    assert 'app = Server("' + tmp_path.name + '")' in written.script.read_text()
    with pytest.raises(UsageError, match="exists"):
        scaffold.init(Path("wf.py"), from_index=True)
    with pytest.raises(UsageError, match="ends in .py"):
        scaffold.init(Path("wf.txt"), from_index=True)
    with pytest.raises(UsageError, match="not inside"):
        scaffold.init(tmp_path.parent / "elsewhere.py", declare=True, from_index=True)
    assert not (tmp_path.parent / "elsewhere.py").exists()
