"""pyrun as users install it (issue 14): the sdist and the wheel build, the wheel installs into a
fresh venv with pip, and its `pyrun` command runs an example script."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from pyrun.installers.uv import find_uv
from tests.conftest import Runner

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_installs_into_a_fresh_venv_and_runs_a_script(pyrun: Runner,
                                                                 tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run([find_uv(), "build", "--sdist", "--wheel", "--out-dir", str(dist),
                            str(ROOT)], env=pyrun.env(), capture_output=True, text=True,
                           timeout=600)
    assert built.returncode == 0, built.stderr
    wheel = next(dist.glob("pyrun_scripts-*-py3-none-any.whl"))
    sdist = next(dist.glob("pyrun_scripts-*.tar.gz"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    assert any(n.endswith(".data/scripts/pyrun") for n in names)  # the plain launcher
    assert "pyrun/engine.py" in names and not any("tests/" in n for n in names)
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
