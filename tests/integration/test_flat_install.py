"""Pooled environments behave like a flat install, with real packages from PyPI.

One test (or a few) per case of issue 3, numbered as in docs/environments.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyrun.engine.interpreters import Interpreter, InterpreterFinder
from pyrun.progress import Reporter
from tests.helpers import Runner, write


def script(deps: list[str], body: str, requires_python: str | None = None) -> str:
    """A script whose inline metadata declares ``deps``."""
    lines = ["# /// script", f"# dependencies = {json.dumps(deps)}"]
    if requires_python:
        lines.append(f"# requires-python = {json.dumps(requires_python)}")
    return "\n".join([*lines, "# ///", body.strip(), ""])


def run_ok(pyrun: Runner, path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    out = pyrun(*args, str(path), **env)
    assert out.returncode == 0, out.stderr + out.stdout
    return out


def env_dir(pyrun: Runner, path: Path, *args: str) -> Path:
    """The environment a script runs in (from a second, warm run)."""
    out = pyrun("-v", *args, str(path))
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stderr.splitlines() if x.startswith("pyrun: warm: "))
    return Path(line.split(": ", 2)[2]).parent.parent


# 1. .pth files shipped inside wheels ---------------------------------------------------------


def test_setuptools_distutils_shim_runs(pyrun: Runner, tmp_path: Path) -> None:
    """setuptools' distutils-precedence.pth installs its distutils shim at start-up."""
    body = """
import sys
print("shim" if "_distutils_hack" in sys.modules else "no shim")
import distutils
print(distutils.__file__)
"""
    out = run_ok(pyrun, write(tmp_path / "d.py", script(["setuptools==75.8.0"], body)))
    first, path = out.stdout.splitlines()
    assert first == "shim"
    assert os.sep.join(["setuptools", "_distutils"]) in path


def test_legacy_nspkg_pth_namespaces(pyrun: Runner, tmp_path: Path) -> None:
    """protobuf 3.x and googleapis-common-protos 1.56 each ship a ``*-nspkg.pth`` for
    ``google``: it runs at start-up and both portions stay importable."""
    body = """
import sys
print("google" in sys.modules)
import google.protobuf, google.api.annotations_pb2, google.rpc.status_pb2
print(len(list(google.__path__)))
"""
    deps = ["protobuf==3.20.3", "googleapis-common-protos==1.56.4"]
    out = run_ok(pyrun, write(tmp_path / "ns.py", script(deps, body, "<3.13")))
    assert out.stdout.split() == ["True", "2"]


def test_startup_hook_imports_its_package(pyrun: Runner, tmp_path: Path) -> None:
    """hunter.pth imports hunter at start-up and traces as PYTHONHUNTER says."""
    body = """
import sys
print("hunter" in sys.modules)
def traced_function():
    return 1
traced_function()
"""
    path = write(tmp_path / "h.py", script(["hunter==3.9.0"], body))
    out = run_ok(pyrun, path, PYTHONHUNTER="function='traced_function'")
    assert out.stdout.splitlines()[0] == "True"
    assert "traced_function" in out.stderr and "call" in out.stderr


def test_pth_that_scans_sys_path_sees_every_pool_directory(pyrun: Runner, tmp_path: Path) -> None:
    """cmeel.pth (in the cmeel entry) looks through sys.path for cmeel.prefix directories of
    other distributions: cmeel-example's, in its own entry, is found."""
    body = """
import cmeel_example
print(cmeel_example.cmeel_add(2, 3), cmeel_example.cmeel_mult(4, 3))
"""
    path = write(tmp_path / "c.py", script(["cmeel-example==0.7.2"], body))
    out = run_ok(pyrun, path)
    assert out.stdout.split() == ["5", "12"]
    marker = json.loads((env_dir(pyrun, path) / "pyrun-env.json").read_text())
    assert marker["mode"] == "pooled"  # one cmeel.prefix: no reason for a link farm


# 2. Namespace packages split across distributions -------------------------------------------


def test_pep420_namespace_across_entries(pyrun: Runner, tmp_path: Path) -> None:
    body = """
import importlib.resources, jaraco, jaraco.functools, jaraco.context
print(len(list(jaraco.__path__)))
print(sorted(p.name for p in importlib.resources.files("jaraco").iterdir() if p.is_dir()))
print((importlib.resources.files("jaraco.functools") / "__init__.py").is_file())
"""
    deps = ["jaraco.functools==4.6.0", "jaraco.context==6.1.2"]
    out = run_ok(pyrun, write(tmp_path / "j.py", script(deps, body, ">=3.10")))
    count, names, found = out.stdout.splitlines()
    assert count == "2" and found == "True"
    assert {"context", "functools"} <= set(eval(names))


def test_pkgutil_namespace_across_entries(pyrun: Runner, tmp_path: Path) -> None:
    body = """
import backports, backports.functools_lru_cache, backports.tarfile
print(len(backports.__path__))
print(backports.functools_lru_cache.lru_cache is not None, backports.tarfile.TarFile.__name__)
"""
    deps = ["backports.functools-lru-cache==2.0.0", "backports.tarfile==1.2.0"]
    out = run_ok(pyrun, write(tmp_path / "b.py", script(deps, body)))
    assert out.stdout.split() == ["2", "True", "TarFile"]


# 3. PEP 829 .start files ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def cpythons(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Interpreter]:
    """The installed CPython 3.x interpreters, by minor version."""
    finder = InterpreterFinder(tmp_path_factory.mktemp("finder"), Reporter(-1))
    return {i.version.minor: i for i in sorted(finder.installed(), key=lambda i: i.version)
            if i.implementation == "cpython" and i.version.major == 3}


@pytest.mark.parametrize("minor", [9, 10, 11, 12, 13, 14])
def test_activation_on_each_python(
    pyrun: Runner, tmp_path: Path, minor: int, cpythons: dict[int, Interpreter]
) -> None:
    """Nested .pth files run through the activation on every interpreter from 3.9 to 3.14."""
    found = [cpythons[minor]] if minor in cpythons else []
    if not found:
        pytest.skip(f"Python 3.{minor} is not installed")
    body = 'import sys; print("_distutils_hack" in sys.modules, sys.version_info[1])'
    path = write(tmp_path / "v.py", script(["setuptools==75.8.0"], body))
    out = run_ok(pyrun, path, "--python", found[0].executable)
    assert out.stdout.split() == ["True", str(minor)]


def test_pep829_start_file_replaces_import_lines(pyrun: Runner, tmp_path: Path) -> None:
    """Python 3.15's site, as PEP 829 specifies it: the paths of every .pth first, then the
    entry points of the .start files, and no import line of a .pth that has a matching .start.
    No 3.15 is installed here, so the test performs those phases itself with ``-S``."""
    path = write(tmp_path / "s.py", script(["setuptools==75.8.0"], "print('ok')"))
    run_ok(pyrun, path)
    env = env_dir(pyrun, path)
    (site,) = env.glob("lib/python*/site-packages")
    start = (site / "_pyrun_pool.start").read_text().split()
    assert start == ["_pyrun_pool:activate"]
    emulate = f"""
import os, pkgutil, sys
site_dir = {str(site)!r}
sys.path.append(site_dir)
for name in sorted(n for n in os.listdir(site_dir) if n.endswith(".pth")):
    for line in open(os.path.join(site_dir, name), encoding="utf-8-sig"):
        line = line.strip()
        if line and not line.startswith(("#", "import ", "import\\t")):
            sys.path.append(line)
for name in sorted(n for n in os.listdir(site_dir) if n.endswith(".start")):
    for line in open(os.path.join(site_dir, name), encoding="utf-8"):
        if line.strip() and not line.startswith("#"):
            pkgutil.resolve_name(line.strip())()
import distutils
print(distutils.__file__)
"""
    out = subprocess.run([str(env / "bin" / "python"), "-S", "-c", emulate],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert os.sep.join(["setuptools", "_distutils"]) in out.stdout


# 4. Entry points -----------------------------------------------------------------------------


def test_console_scripts_by_name_and_with_an_empty_environment(
    pyrun: Runner, tmp_path: Path
) -> None:
    body = """
import os, shutil, subprocess, sys
print(shutil.which("pygmentize") == os.path.join(os.path.dirname(sys.executable), "pygmentize"))
print(subprocess.run(["pygmentize", "-V"], capture_output=True, text=True).stdout.split()[0])
exe = shutil.which("pygmentize")
print(subprocess.run([exe, "-V"], env={}, capture_output=True, text=True).stdout.split()[0])
"""
    out = run_ok(pyrun, write(tmp_path / "p.py", script(["pygments"], body)))
    assert out.stdout.split() == ["True", "Pygments", "Pygments"]


def test_gui_scripts_are_written(pyrun: Runner, tmp_path: Path) -> None:
    path = write(tmp_path / "g.py", script(["pyzo==4.22.0"], "print('ok')"))
    run_ok(pyrun, path)
    wrapper = env_dir(pyrun, path) / "bin" / "pyzo"
    text = wrapper.read_text()
    assert os.access(wrapper, os.X_OK)
    assert text.startswith(f"#!{wrapper.parent / 'python'}\n") and "from pyzo import start" in text


def test_long_interpreter_path_gets_a_trampoline(pyrun: Runner, tmp_path: Path) -> None:
    """Past the kernel's shebang limit, wrappers start through /bin/sh and still work."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    body = "import subprocess; print(subprocess.run(['pygmentize', '-V'], capture_output=True,"
    body += " text=True).stdout.split()[0])"
    path = write(tmp_path / "t.py", script(["pygments"], body))
    out = run_ok(pyrun, path, PYRUN_CACHE_DIR=str(deep))
    assert out.stdout.strip() == "Pygments"
    (wrapper,) = deep.glob("envs/*/bin/pygmentize")
    assert wrapper.read_text().startswith("#!/bin/sh\n")


def test_entry_point_plugins_are_discovered(pyrun: Runner, tmp_path: Path) -> None:
    """pytest finds the pytest-timeout plugin through its pytest11 entry point."""
    (tmp_path / "t").mkdir()
    write(tmp_path / "t" / "test_one.py", "def test_one():\n    assert True\n")
    body = f"""
import importlib.metadata, sys, pytest
print(sorted(ep.name for ep in importlib.metadata.entry_points(group="pytest11")))
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "--timeout=30", {str(tmp_path / "t")!r}]))
"""
    path = write(tmp_path / "pt.py", script(["pytest==8.3.4", "pytest-timeout==2.3.1"], body))
    out = run_ok(pyrun, path)
    assert "['timeout']" in out.stdout and "1 passed" in out.stdout


# 5. Wheel data -------------------------------------------------------------------------------


def test_data_scripts_are_rewritten_and_runnable(pyrun: Runner, tmp_path: Path) -> None:
    """docutils 0.20 ships ``#!python`` scripts in .data/scripts, dumb-init a binary."""
    body = """
import subprocess
print(subprocess.run(["rst2html.py", "--version"], capture_output=True,
                     text=True).stdout.split()[0])
print(subprocess.run(["dumb-init", "--version"], capture_output=True, text=True).stderr.split()[0])
"""
    path = write(tmp_path / "ds.py", script(["docutils==0.20.1", "dumb-init==1.2.5.post1"], body))
    out = run_ok(pyrun, path)
    assert out.stdout.split() == ["rst2html.py", "dumb-init"]
    bin_dir = env_dir(pyrun, path) / "bin"
    assert (bin_dir / "rst2html.py").read_text().startswith(f"#!{bin_dir / 'python'}\n")
    pooled = [p for p in (pyrun.cache / "pool").glob("docutils-0.20.1-*/bin/rst2html.py")]
    assert pooled and pooled[0].read_text().startswith("#!python\n")  # the pool names no Python
    assert os.access(bin_dir / "dumb-init", os.X_OK)


def test_data_files_and_headers_under_the_prefix(pyrun: Runner, tmp_path: Path) -> None:
    """widgetsnbextension's share/jupyter and etc/jupyter land under sys.prefix; greenlet's
    header lands in include/site/pythonX.Y, as pip and uv place them in a venv."""
    body = """
import os, sys
v = f"python{sys.version_info[0]}.{sys.version_info[1]}"
for rel in ("share/jupyter/nbextensions/jupyter-js-widgets/extension.js",
            "etc/jupyter/nbconfig/notebook.d/widgetsnbextension.json",
            f"include/site/{v}/greenlet/greenlet.h"):
    print(os.path.isfile(os.path.join(sys.prefix, rel)))
"""
    deps = ["widgetsnbextension==4.0.16", "greenlet>=3"]
    out = run_ok(pyrun, write(tmp_path / "dd.py", script(deps, body, "<3.14")))
    assert out.stdout.split() == ["True", "True", "True"]


# 6. Metadata ---------------------------------------------------------------------------------


def test_each_distribution_seen_once(pyrun: Runner, tmp_path: Path) -> None:
    body = """
import collections, importlib.metadata, json, subprocess, sys
names = [d.metadata["Name"].lower() for d in importlib.metadata.distributions()]
print(json.dumps(sorted(names)))
pip = subprocess.run([sys.executable, "-m", "pip", "list", "--format=json"],
                     capture_output=True, text=True, check=True)
print(json.dumps(sorted(d["name"].lower() for d in json.loads(pip.stdout))))
check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
print(check.returncode, check.stdout.strip())
"""
    deps = ["pip", "six", "python-dateutil"]
    out = run_ok(pyrun, write(tmp_path / "m.py", script(deps, body)),
                 PIP_DISABLE_PIP_VERSION_CHECK="1")
    dists, listed, checked = out.stdout.splitlines()
    names = json.loads(dists)
    assert len(names) == len(set(names)) and {"pip", "python-dateutil", "six"} <= set(names)
    assert json.loads(listed) == names
    assert checked.startswith("0 No broken requirements found")


# 7. Child interpreters -----------------------------------------------------------------------


def test_children_see_the_same_packages(pyrun: Runner, tmp_path: Path) -> None:
    user_base = tmp_path / "userbase"
    v = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    user_site = user_base / "lib" / v / "site-packages"
    user_site.mkdir(parents=True)
    write(user_site / "from_user_site.py", "")
    body = """
import multiprocessing, os, site, subprocess, sys
import six

def where():
    import six
    return six.__file__

if __name__ == "__main__":
    print(where())
    child = subprocess.run([sys.executable, "-c", "import six; print(six.__file__)"],
                           env={}, capture_output=True, text=True)
    print(child.stdout.strip())
    with multiprocessing.get_context("spawn").Pool(1) as p:
        print(p.apply(where))
    try:
        import from_user_site
        print("user site visible")
    except ImportError:
        print("user site hidden", site.ENABLE_USER_SITE)
"""
    path = write(tmp_path / "ch.py", script(["six"], body))
    out = run_ok(pyrun, path, PYTHONUSERBASE=str(user_base))
    lines = out.stdout.splitlines()
    assert lines[0] == lines[1] == lines[2] and "site-packages" in lines[0]
    assert lines[3] == "user site hidden False"


# 8. Backports that shadow stdlib names ------------------------------------------------------


def test_backports_do_not_shadow_the_stdlib(pyrun: Runner, tmp_path: Path) -> None:
    body = """
import enum, importlib.metadata, re, sys, sysconfig, typing
stdlib = sysconfig.get_paths()["stdlib"]
print(enum.__file__.startswith(stdlib), typing.__file__.startswith(stdlib))
print(bool(re.match(r"a+", "aaa")), enum.Enum.__name__)
print(sorted(d.metadata["Name"] for d in importlib.metadata.distributions()))
"""
    out = run_ok(pyrun, write(tmp_path / "bp.py", script(["enum34", "typing"], body)))
    lines = out.stdout.splitlines()
    assert lines[0] == "True True" and lines[1] == "True Enum"
    assert lines[2] == "['enum34', 'typing']"


# 9. Compiled wheels with vendored libraries -------------------------------------------------


def test_compiled_wheel_with_vendored_libraries(pyrun: Runner, tmp_path: Path) -> None:
    body = """
import io
from PIL import Image, features
im = Image.new("RGB", (32, 16), (200, 10, 10))
buf = io.BytesIO()
im.save(buf, "JPEG")
again = Image.open(io.BytesIO(buf.getvalue()))
print(again.size, again.format, features.check("jpg"), features.check("zlib"))
"""
    out = run_ok(pyrun, write(tmp_path / "pil.py", script(["pillow"], body)))
    assert out.stdout.strip() == "(32, 16) JPEG True True"


# 10. Bytecode --------------------------------------------------------------------------------


def pool_state(pool: Path) -> list[tuple[str, int, int]]:
    """Every path in the pool with its size and mtime: what any write would change."""
    state = []
    for dirpath, dirnames, filenames in os.walk(pool):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            state.append((os.path.relpath(p, pool), st.st_size, st.st_mtime_ns))
    return sorted(state)


def test_imports_use_the_pools_bytecode_and_never_write_it(pyrun: Runner, tmp_path: Path) -> None:
    body = """
import importlib.util, os, sys, attr
pyc = importlib.util.cache_from_source(attr.__file__)
with open(pyc, "rb") as f:
    flags = int.from_bytes(f.read(8)[4:8], "little")
print(os.path.isfile(pyc), flags, sys.dont_write_bytecode)
"""
    path = write(tmp_path / "bc.py", script(["attrs"], body))
    out = run_ok(pyrun, path, PYTHONDONTWRITEBYTECODE="1")
    # 1: hash-based, source never checked (PEP 552); and the activation turned writes off
    assert out.stdout.split() == ["True", "1", "True"]
    before = pool_state(pyrun.cache / "pool")
    env = pyrun.env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for _ in range(2):  # -B: pyrun's own modules leave no bytecode (the script's python: none)
        again = subprocess.run([sys.executable, "-B", "-m", "pyrun", str(path)], env=env,
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
    assert pool_state(pyrun.cache / "pool") == before


def test_pure_wheel_is_one_entry_for_two_interpreters(
    pyrun: Runner, tmp_path: Path, other_python: Interpreter
) -> None:
    path = write(tmp_path / "pw.py", script(["idna==3.10"], "import idna; print(idna.__file__)"))
    first = run_ok(pyrun, path).stdout.strip()
    second = run_ok(pyrun, path, "--python", other_python.executable).stdout.strip()
    assert first == second  # the same pool file
    (entry,) = list((pyrun.cache / "pool").glob("idna-3.10-*"))
    cache = entry / "site-packages" / "idna" / "__pycache__"
    tags = {p.name.split(".")[1] for p in cache.glob("__init__.*.pyc")}
    assert tags == {sys.implementation.cache_tag, other_python.cache_tag}
    record = json.loads((entry / "pyrun-entry.json").read_text())
    assert sorted(record["compiled-for"]) == sorted(tags)


# 11. Distributions that need one merged site-packages ---------------------------------------


def test_shared_native_libraries_get_a_link_farm(pyrun: Runner, tmp_path: Path) -> None:
    """cmeel-urdfdom's binaries load libtinyxml2 and libconsole_bridge from other wheels
    through $ORIGIN: auto mode builds a link farm and check_urdf runs."""
    urdf = write(tmp_path / "r.urdf", '<robot name="r"><link name="base"/></robot>\n')
    body = f"""
import site, subprocess
print(subprocess.run(["check_urdf", {str(urdf)!r}], capture_output=True, text=True).stdout)
"""
    path = write(tmp_path / "u.py", script(["cmeel-urdfdom==6.0.0"], body, ">=3.10"))
    out = pyrun("-v", str(path))
    assert out.returncode == 0, out.stderr
    assert "robot name is: r" in out.stdout
    assert "link farm: cmeel.prefix/ holds native libraries" in out.stderr
    env = env_dir(pyrun, path)
    assert json.loads((env / "pyrun-env.json").read_text())["mode"] == "link-farm"
    (site,) = env.glob("lib/python*/site-packages")
    assert (site / "_pyrun_pool.pth").read_text().splitlines() == [
        "import sys; sys.dont_write_bytecode = True"
    ]  # no pool directory on sys.path: the files are here
    assert list((site / "cmeel.prefix" / "lib").glob("libtinyxml2.so*"))


def test_site_packages_searcher_gets_a_link_farm(pyrun: Runner, tmp_path: Path) -> None:
    """cuda-pathfinder looks for the CUDA wheels under site.getsitepackages(): in a pooled
    environment it misses the wheel (and takes a system CUDA if there is one); auto mode
    builds a link farm, where it finds the wheel's libcudart."""
    body = """
import site
from cuda.pathfinder import load_nvidia_dynamic_lib
lib = load_nvidia_dynamic_lib("cudart")
print(lib.found_via, lib.abs_path.startswith(site.getsitepackages()[0]))
"""
    deps = ["cuda-pathfinder==1.9.0", "nvidia-cuda-runtime-cu12==12.9.79"]
    out = run_ok(pyrun, write(tmp_path / "cp.py", script(deps, body, ">=3.11")), "-v")
    assert out.stdout.split() == ["site-packages", "True"]
    assert "link farm: cuda-pathfinder searches site.getsitepackages()" in out.stderr


def test_composition_can_be_asked_for(pyrun: Runner, tmp_path: Path) -> None:
    body = "import attr, site; print(attr.__file__.startswith(site.getsitepackages()[0]))"
    path = write(tmp_path / "lm.py", script(["attrs"], body))
    assert run_ok(pyrun, path, "--composition", "link-farm").stdout.strip() == "True"
    assert run_ok(pyrun, path, "--composition", "pooled").stdout.strip() == "False"
    bad = pyrun("--composition", "copy", str(path))
    assert bad.returncode == 64 and "invalid choice: 'copy'" in bad.stderr
    assert bad.stderr.count("\n") == 1 and "--help" in bad.stderr  # one line, where to look
    old = pyrun("--link-mode", "farm", str(path))  # the deprecated spelling, for one release
    assert old.returncode == 0 and old.stdout.strip() == "True"
    assert "--link-mode is deprecated" in old.stderr and "--composition link-farm" in old.stderr


def test_site_packages_is_in_pooled_paths(pyrun: Runner, tmp_path: Path) -> None:
    """Code such as streamlit's tests ``"site-packages" in __file__``."""
    body = "import attr; print('site-packages' in attr.__file__)"
    out = run_ok(pyrun, write(tmp_path / "sp.py", script(["attrs"], body)), "--composition",
                 "pooled")
    assert out.stdout.strip() == "True"


# 12. Overlapping top-level names ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["pooled", "link-farm"])
def test_overlapping_top_level_names(pyrun: Runner, tmp_path: Path, mode: str) -> None:
    """file-magic (a module) and python-magic (a package) both provide ``magic``: file-magic
    wins, first by name, in both modes, and the user is warned once, when the environment is
    built. (Neither is imported: both need the libmagic system library.)"""
    body = "import importlib.util; print(importlib.util.find_spec('magic').origin)"
    path = write(tmp_path / "ov.py", script(["python-magic==0.4.27", "file-magic==0.4.1"], body))
    out = run_ok(pyrun, path, "--composition", mode)
    assert out.stdout.strip().endswith(os.sep + "magic.py")
    assert "'magic' is provided by file-magic and by python-magic; file-magic's copy" in out.stderr
    assert "is provided by" not in run_ok(pyrun, path, "--composition", mode).stderr


def test_entry_points_run_from_an_environment_whose_path_holds_a_quote_and_a_space(
    pyrun: Runner, tmp_path: Path
) -> None:
    """Issue 21: the wrapper's /bin/sh trampoline quoted the interpreter's path by hand, so a
    home like /home/o'brien broke every entry point."""
    cache = tmp_path / "o'brien cache"
    script = write(tmp_path / "t.py", '# /// script\n# dependencies = ["tabulate"]\n# ///\n'
                   "import subprocess\nout = subprocess.run(['tabulate', '--help'], "
                   "capture_output=True, text=True)\nprint(out.returncode, 'usage' in "
                   "out.stdout.lower())\n")
    out = pyrun(str(script), PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "True"]
    wrapper = next((cache / "envs").glob("*/bin/tabulate"))
    assert wrapper.read_text().startswith("#!/bin/sh\n")  # the trampoline was needed
