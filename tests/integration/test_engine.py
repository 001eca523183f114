"""The engine end to end: cold and warm runs, sharing, interpreters, and running like python."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

from pyrun.engine.interpreters import Interpreter
from tests.helpers import Runner, pool_names, write

RICH = """\
# /// script
# dependencies = ["rich>=13"]
# ///
import os, sys
from rich.console import Console
Console(width=60, force_terminal=False).print("[bold]rich says hi[/bold]")
print("args", sys.argv[1:])
print("file", __file__)
print("argv0", sys.argv[0])
print("cwd", os.getcwd())
print("prefix", sys.prefix)
print("stdin", sys.stdin.read().strip())
sys.exit(int(os.environ.get("EXIT_WITH", "0")))
"""

NUMPY = """\
# /// script
# dependencies = ["numpy"]
# ///
import sys
import numpy as np
a = np.arange(12, dtype=np.float64).reshape(3, 4)
v = sys.version_info
print(f"sum={a.sum():.1f} det={np.linalg.det(np.eye(3) * 2):.1f} py={v[0]}.{v[1]}")
"""


def test_cold_then_warm_run(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "x.py", RICH)
    work = tmp_path / "work"
    work.mkdir()
    for attempt in ("cold", "warm"):
        out = pyrun("-v", str(script), "a", "--b", cwd=work, input="piped in\n", EXIT_WITH="7")
        assert out.returncode == 7, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == "rich says hi" and "args ['a', '--b']" in lines
        assert f"file {script}" in lines and f"argv0 {script}" in lines
        assert f"cwd {work}" in lines and "stdin piped in" in lines
        assert ("pyrun: warm:" in out.stderr) == (attempt == "warm"), out.stderr
        assert "resolving" in out.stderr or attempt == "warm"


def test_warm_run_without_uv_and_pip_as_the_fallback(pyrun: Runner, tmp_path: Path) -> None:
    """With uv neither importable, nor in $UV, nor on PATH, a warm run still works; a cold run
    resolves and installs with pip; with no pip either, the error says what to install."""
    script = write(tmp_path / "warm.py", RICH)
    assert pyrun(str(script)).returncode == 0
    # A pyrun whose sys.path holds pyrun and its libraries but not the uv package.
    sandbox = tmp_path / "no-uv"
    sandbox.mkdir()
    import filelock
    import packaging
    import platformdirs

    import pyrun as pyrun_pkg

    for mod in (pyrun_pkg, packaging, filelock, platformdirs):
        os.symlink(Path(mod.__file__).parent, sandbox / mod.__name__)
    launcher = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); from pyrun.cli import main; "
        "sys.exit(main())"
    )
    env = pyrun.env(PATH=str(tmp_path))
    env.pop("UV", None)
    cmd = [sys.executable, "-S", "-c", launcher, str(sandbox)]
    warm = subprocess.run([*cmd, str(script)], capture_output=True, text=True, env=env, input="")
    assert warm.returncode == 0, warm.stderr
    assert "rich says hi" in warm.stdout
    cold = write(tmp_path / "cold.py", DATA_SCRIPTS)
    env["PYRUN_CACHE_DIR"] = str(tmp_path / "pip-cache")  # nothing from uv's runs
    built = subprocess.run([*cmd, "-v", str(cold)], capture_output=True, text=True, env=env,
                           input="")
    assert built.returncode == 0, built.stderr
    assert "resolving and installing with pip" in built.stderr
    assert built.stdout.split() == ["rst2html.py", "1.17.0"]
    (entry,) = (tmp_path / "pip-cache" / "pool").glob("docutils-*")
    assert (entry / "bin" / "rst2html.py").read_text().startswith("#!python\n")
    nopip = tmp_path / "nopip"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(nopip)], check=True)
    other = write(tmp_path / "other.py", RICH.replace("rich>=13", "rich>=13.0.1"))
    failed = subprocess.run([str(nopip / "bin" / "python"), *cmd[1:], str(other)],
                            capture_output=True, text=True, env=env, input="")
    assert failed.returncode == 71 and "neither uv nor pip" in failed.stderr, failed.stderr


DATA_SCRIPTS = """\
# /// script
# dependencies = ["docutils==0.20.1", "six==1.17.0"]
# ///
import subprocess, six
out = subprocess.run(["rst2html.py", "--version"], capture_output=True, text=True).stdout
print(out.split()[0], six.__version__)
"""


def test_same_set_shares_one_environment(pyrun: Runner, tmp_path: Path) -> None:
    body = "import sys\nimport rich\nprint(sys.prefix)\n"
    a = write(tmp_path / "a.py",
              f'# /// script\n# dependencies = ["Rich>=13", "pygments"]\n# ///\n{body}')
    b = write(tmp_path / "b.py", f'# /// script\n# dependencies = ["rich >= 13.0"]\n# ///\n{body}')
    out_a, out_b = pyrun(str(a)), pyrun(str(b))
    assert out_a.returncode == 0 and out_b.returncode == 0, out_a.stderr + out_b.stderr
    assert out_a.stdout == out_b.stdout
    names = pool_names(pyrun.cache)
    for name in ("rich", "pygments", "markdown-it-py", "mdurl"):
        assert names.count(name) == 1, names


def test_compiled_extension_on_two_interpreters(
    pyrun: Runner, tmp_path: Path, other_python: Interpreter
) -> None:
    script = write(tmp_path / "np.py", NUMPY)
    seen = []
    for python in (sys.executable, other_python.executable):
        out = pyrun("--python", python, str(script))
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("sum=66.0 det=8.0 py="), out.stdout
        seen.append(out.stdout.strip().rsplit("=", 1)[1])
    assert seen == [f"{sys.version_info[0]}.{sys.version_info[1]}", other_python.short_version]
    # A platform wheel is a different artifact per interpreter: two numpy entries.
    assert pool_names(pyrun.cache).count("numpy") == 2


def test_requires_python_picks_another_installed_version(
    pyrun: Runner, tmp_path: Path, other_python: Interpreter
) -> None:
    spec = f"=={other_python.short_version}.*"
    script = write(
        tmp_path / "rp.py",
        f'# /// script\n# requires-python = "{spec}"\n# ///\n'
        "import sys; print('%d.%d' % sys.version_info[:2])\n",
    )
    out = pyrun(str(script))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == other_python.short_version


def test_no_block_runs_in_an_empty_environment(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "plain.py", "import sys\nprint(sys.prefix != sys.base_prefix)\n"
                   "import importlib.util\nprint(importlib.util.find_spec('pytest') is None)\n")
    out = pyrun(str(script))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]  # a venv, and pyrun's own packages not visible


def test_shebang_script(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "tool.py",
                   "#!/usr/bin/env pyrun\nimport sys\nprint('args', sys.argv[1:])\n")
    script.chmod(0o755)
    bindir = sysconfig.get_path("scripts")
    assert shutil.which("pyrun", path=bindir), "pyrun is installed beside this interpreter"
    out = subprocess.run(
        [str(script), "x", "y"], capture_output=True, text=True,
        env=pyrun.env(PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}"),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "args ['x', 'y']"


def test_signal_exit_is_the_scripts(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "sig.py", "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n")
    out = pyrun(str(script))
    assert out.returncode == -signal.SIGTERM  # exec: the script's own death, seen by the parent


def test_pool_entries_are_compiled_and_read_only(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "ro.py",
                   '# /// script\n# dependencies = ["mdurl"]\n# ///\nimport mdurl\n')
    assert pyrun(str(script), PYTHONDONTWRITEBYTECODE="1").returncode == 0
    (entry,) = [p for p in (pyrun.cache / "pool").iterdir() if p.name.startswith("mdurl-")]
    tag = sys.implementation.cache_tag
    assert list((entry / "site-packages" / "mdurl" / "__pycache__").glob(f"__init__.{tag}.pyc"))
    for d in (entry, entry / "site-packages", entry / "site-packages" / "mdurl"):
        assert d.stat().st_mode & 0o222 == 0, d
    assert (entry / "pyrun-entry.json").is_file()
