"""The warm path runs a script in pyrun's own process when the environment's interpreter is
pyrun's (issue 12): the script must not be able to tell the difference from
``ENV/bin/python x.py`` started as the exec would start it. Each test runs a probe both ways
and compares what it shows; the documented differences (a few more standard-library modules
loaded, pyrun's frames below the script's in ``traceback.extract_stack()``) are not probed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Runner, write

pytestmark = pytest.mark.skipif(sys.version_info < (3, 10) or os.name != "posix",
                                reason="in-process runs need Python 3.10+ on POSIX")

STATE = '''# /// script
# dependencies = ["six"]
# ///
import json, os, site, sys, sysconfig, __main__
import six
print(json.dumps({
    "argv": sys.argv, "orig_argv": sys.orig_argv, "executable": sys.executable,
    "prefix": [sys.prefix, sys.exec_prefix, sys.base_prefix], "path": sys.path,
    "flags": str(sys.flags), "bytecode": sys.dont_write_bytecode,
    "sitepackages": site.getsitepackages(), "user_site": site.ENABLE_USER_SITE,
    "purelib": sysconfig.get_paths()["purelib"],
    "main": sorted(vars(__main__)), "file": __main__.__file__,
    "loader": [type(__main__.__loader__).__name__, __main__.__loader__.path],
    "spec": repr(__main__.__spec__), "package": __main__.__package__,
    "builtins": repr(__main__.__builtins__),
    "meta_path": [type(f).__name__ for f in sys.meta_path],
    "path_hooks": len(sys.path_hooks), "six": six.__file__,
    "env": [os.environ.get("VIRTUAL_ENV"), os.environ["PATH"].split(os.pathsep)[0],
            os.environ.get("PYTHONHOME")],
    "pyrun_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("pyrun",
                                                                         "_distutils_hack")),
}, indent=1))
'''


def launcher(tmp_path: Path) -> Path:
    """A ``pyrun`` command as an installer writes one: this interpreter runs pyrun's ``main``
    (``python -m pyrun`` is never run in-process: its ``sys.flags`` could differ)."""
    path = tmp_path / "bin" / "pyrun"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"#!{sys.executable}\nimport sys\nfrom pyrun.cli import main\n"
                    "if __name__ == '__main__':\n    sys.exit(main())\n")
    path.chmod(0o755)
    return path


def both(pyrun: Runner, tmp_path: Path, script: Path, *args: str, cwd: Path | None = None,
         **env: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """``(pyrun SCRIPT ARGS, warm and in this process; ENV/bin/python SCRIPT ARGS started as
    the exec starts it)``."""
    command = launcher(tmp_path)
    subprocess.run([str(command), str(script), *args], env=pyrun.env(**env), cwd=cwd,
                   capture_output=True, timeout=600)  # builds the environment
    python = subprocess.run([str(command), "python", str(script)], env=pyrun.env(**env),
                            cwd=cwd, capture_output=True, text=True, timeout=600,
                            check=True).stdout.strip()
    warm = subprocess.run([str(command), "-v", str(script), *args], env=pyrun.env(**env),
                          cwd=cwd, capture_output=True, text=True, timeout=600)
    assert "(in this process)" in warm.stderr, warm.stderr
    env_dir = os.path.dirname(os.path.dirname(python))
    real_env = pyrun.env(**env)
    real_env.update(VIRTUAL_ENV=env_dir, PATH=f"{env_dir}/bin{os.pathsep}{real_env['PATH']}")
    real_env.pop("PYTHONHOME", None)
    real = subprocess.run([python, str(script), *args], env=real_env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    warm.stderr = "\n".join(line for line in warm.stderr.splitlines()
                            if not line.startswith("pyrun: ")) + ("\n" if warm.stderr else "")
    if not real.stderr:
        warm.stderr = warm.stderr.strip()
    return warm, real


def test_the_interpreter_state_is_the_environments(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "state.py", STATE)
    warm, real = both(pyrun, tmp_path, script, "a", "--b", cwd=tmp_path)
    assert warm.returncode == real.returncode == 0, warm.stderr + real.stderr
    mine, theirs = json.loads(warm.stdout), json.loads(real.stdout)
    assert mine == theirs
    assert mine["pyrun_modules"] == [] and mine["argv"] == [str(script), "a", "--b"]


def test_a_relative_path_through_a_symlinked_directory(pyrun: Runner, tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    write(real_dir / "state.py", STATE)
    (tmp_path / "link").symlink_to(real_dir)
    warm, real = both(pyrun, tmp_path, Path("link/state.py"), cwd=tmp_path)
    assert json.loads(warm.stdout) == json.loads(real.stdout)
    assert json.loads(warm.stdout)["path"][0] == str(real_dir)  # symlinks resolved


@pytest.mark.parametrize("tail", [
    "def f():\n    raise ValueError('boom')\nf()\n",
    "x = (\n",  # a SyntaxError: no traceback header, no frames
    "import sys\nsys.exit('a message')\n",
    "import sys\nsys.exit(3)\n",
    "import atexit\natexit.register(print, 'at exit')\nraise SystemExit(None)\n",
    "import os\nos._exit(7)\n",
])
def test_endings_exit_codes_and_tracebacks(pyrun: Runner, tmp_path: Path, tail: str) -> None:
    script = write(tmp_path / "end.py", '# /// script\n# dependencies = ["six"]\n# ///\n' + tail)
    warm, real = both(pyrun, tmp_path, script)
    assert (warm.returncode, warm.stdout, warm.stderr) == (real.returncode, real.stdout,
                                                           real.stderr)
    assert "pyrun" not in warm.stderr.replace(str(tmp_path), "")  # no pyrun frames


def test_ctrl_c_ends_the_process_by_sigint_after_shutdown(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "intr.py", '# /// script\n# dependencies = ["six"]\n# ///\n'
                   "import atexit\natexit.register(print, 'cleaned up', flush=True)\n"
                   "raise KeyboardInterrupt\n")
    warm, real = both(pyrun, tmp_path, script)
    assert warm.returncode == real.returncode == -signal.SIGINT
    assert warm.stdout == real.stdout == "cleaned up\n"
    assert warm.stderr == real.stderr


def test_children_started_with_sys_executable_and_multiprocessing(
    pyrun: Runner, tmp_path: Path
) -> None:
    script = write(tmp_path / "kids.py", '# /// script\n# dependencies = ["six"]\n# ///\n'
                   "import multiprocessing as mp, subprocess, sys\n"
                   "def version(_):\n    import six\n    return six.__version__, sys.executable\n"
                   "if __name__ == '__main__':\n"
                   "    for method in ('spawn', 'forkserver'):\n"
                   "        with mp.get_context(method).Pool(1) as pool:\n"
                   "            print(method, pool.map(version, [0]))\n"
                   "    print(subprocess.run([sys.executable, '-c', 'import six, sys; "
                   "print(sys.prefix)'], capture_output=True, text=True).stdout.strip())\n")
    warm, real = both(pyrun, tmp_path, script)
    assert warm.returncode == real.returncode == 0, warm.stderr
    assert warm.stdout == real.stdout and "spawn" in warm.stdout


def test_pyrun_exec_and_another_interpreter_exec_as_before(pyrun: Runner, tmp_path: Path) -> None:
    command = launcher(tmp_path)
    script = write(tmp_path / "s.py", STATE)
    subprocess.run([str(command), str(script)], env=pyrun.env(), capture_output=True,
                   timeout=600, check=True)
    for env in ({"PYRUN_EXEC": "1"}, {"PYTHONINSPECT": "1"}):  # the prompt is the interpreter's
        forced = subprocess.run([str(command), "-v", str(script)], env=pyrun.env(**env),
                                capture_output=True, text=True, timeout=600, input="")
        assert forced.returncode == 0 and "(in this process)" not in forced.stderr, env
        assert "pyrun: warm:" in forced.stderr
