"""pyrun as users install it (issue 14): the sdist and the wheel build, the wheel installs into a
fresh venv with pip, and its `pyrun` command runs an example script."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from pyrun import DOCS_URL
from pyrun.engine.installers.uv import find_uv
from tests.helpers import Runner

ROOT = Path(__file__).resolve().parents[2]


def _build(pyrun: Runner, dist: Path) -> tuple[Path, Path]:
    """``(wheel, sdist)`` built from the repository into ``dist``."""
    # uv build's default: the sdist, then the wheel from the sdist, as a release is built (a
    # wheel built from the work tree would carry whatever a stale build/ directory holds)
    built = subprocess.run([find_uv(), "build", "--out-dir", str(dist), str(ROOT)],
                           env=pyrun.env(), capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    return (next(dist.glob("pyrun_scripts-*-py3-none-any.whl")),
            next(dist.glob("pyrun_scripts-*.tar.gz")))


def test_the_wheel_installs_into_a_fresh_venv_and_runs_a_script(pyrun: Runner,
                                                                 tmp_path: Path) -> None:
    wheel, sdist = _build(pyrun, tmp_path / "dist")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert f"Project-URL: Documentation, {DOCS_URL}".encode() in metadata
    assert any(n.endswith(".data/scripts/pyrun") for n in names)  # the plain launcher
    sources = {f"pyrun/{p.relative_to(ROOT / 'src' / 'pyrun').as_posix()}"
               for p in (ROOT / "src" / "pyrun").rglob("*") if p.suffix in (".py", ".typed")}
    shipped = {n for n in names if n.startswith("pyrun/")}
    assert shipped == sources and "pyrun/engine/__init__.py" in shipped
    with tarfile.open(sdist) as t:
        assert any(n.endswith("/bin/pyrun") for n in t.getnames())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = pyrun.env(PYRUN_CACHE_DIR=str(tmp_path / "cache"))
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                str(wheel)], env=env, capture_output=True, text=True,
                               timeout=600)
    assert installed.returncode == 0, installed.stderr
    command = venv / "bin" / "pyrun"
    assert command.read_text().startswith(f"#!{venv / 'bin' / 'python'}")
    assert "import re" not in command.read_text()
    ran = subprocess.run([str(command), str(ROOT / "scripts-examples" / "rich_table.py")],
                         env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0 and ran.stdout.strip(), ran.stderr
    version = subprocess.run([str(command), "--version"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert version.stdout.startswith("pyrun ")


def test_uv_tool_install_and_pipx_install_give_the_pyrun_command(pyrun: Runner,
                                                                 tmp_path: Path) -> None:
    """The README's two ways to install pyrun as a user, each into directories of the test's
    own: `uv tool install` and `pipx install` (pipx itself from PyPI) of the built wheel."""
    wheel, _ = _build(pyrun, tmp_path / "dist")
    script = str(ROOT / "scripts-examples" / "rich_table.py")
    env = pyrun.env(PYRUN_CACHE_DIR=str(tmp_path / "cache"), UV_TOOL_DIR=str(tmp_path / "uvt"),
                    UV_TOOL_BIN_DIR=str(tmp_path / "uvbin"), PIPX_HOME=str(tmp_path / "pipx"),
                    PIPX_BIN_DIR=str(tmp_path / "pipxbin"))
    tool = subprocess.run([find_uv(), "tool", "install", str(wheel)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert tool.returncode == 0, tool.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    got = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "pipx"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert got.returncode == 0, got.stderr
    pipx = subprocess.run([str(venv / "bin" / "pipx"), "install", str(wheel)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert pipx.returncode == 0, pipx.stderr
    for command in (tmp_path / "uvbin" / "pyrun", tmp_path / "pipxbin" / "pyrun"):
        assert "import re" not in command.read_text()  # the plain launcher, not a wrapper
        ran = subprocess.run([str(command), script], env=env, capture_output=True, text=True,
                             timeout=600)
        assert ran.returncode == 0 and ran.stdout.strip(), (command, ran.stderr)


def test_the_readme_set_up_works_in_a_fresh_activated_venv(pyrun: Runner, tmp_path: Path) -> None:
    """README's set-up install command, run as written in a copy of the repository inside a
    fresh venv activated as `. .venv/bin/activate` activates it (what the README tells the user
    of an externally-managed Python to do first): pyrun installs and runs the example."""
    import os
    import shutil

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- setup -->", 2)[1]
    command = next(ln for ln in block.splitlines() if ln.startswith("python3 -m pip install"))
    assert "scripts-examples/rich_table.py" in command
    clone = tmp_path / "pyrun"
    shutil.copytree(ROOT, clone, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
        ".benchmarks", ".work", "envs", ".task-envs"))
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = pyrun.env(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
                    PYRUN_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip()  # the example's table
    where = subprocess.run(["bash", "-c", "command -v pyrun"], env=env, capture_output=True,
                           text=True)
    assert where.stdout.strip() == str(venv / "bin" / "pyrun")
