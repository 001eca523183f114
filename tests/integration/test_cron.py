"""Scripts run unattended (issue 24, point 2): a script warm in the user's shell stays warm
under cron's stripped environment (`env -i HOME=... PATH=/usr/bin:/bin`): no uv started, no
network. Settings the environment's installer never reads (`PIP_*` when uv resolved, the
operational `UV_*` ones) do not matter; a setting that changes what uv resolves does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Runner, write
from tests.loopback import serve_index, wheel

#: Network namespaces need root and unshare; elsewhere the cron runs have the network, and
#: the proof that nothing was resolved is the warm path's own line (-v).
NO_NETWORK = (["unshare", "--net"] if hasattr(os, "geteuid") and os.geteuid() == 0
              and shutil.which("unshare") and subprocess.run(
                  ["unshare", "--net", "true"], capture_output=True).returncode == 0 else [])


def script_for(tmp_path: Path, index: str) -> Path:
    return write(tmp_path / "job.py", f'''# /// script
# dependencies = ["cronpkg"]
# [tool.uv]
# index-url = "{index}"
# ///
import cronpkg
print("ran", cronpkg.__name__)
''')


def cron(script: Path, home: Path, *flags: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``pyrun [FLAGS] SCRIPT`` as cron runs it: ``env -i HOME=... PATH=/usr/bin:/bin`` (and
    no network, where a namespace can be had)."""
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", **extra}
    return subprocess.run([*NO_NETWORK, sys.executable, "-m", "pyrun", *flags, str(script)],
                          env=env, capture_output=True, text=True, timeout=300, cwd=home)


def test_a_script_warm_in_the_shell_runs_warm_from_cron(pyrun: Runner, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    pip_conf = write(tmp_path / "pip.conf", "[global]\ntimeout = 30\n")
    shell = {"HOME": str(home), "PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1",
             "UV_CACHE_DIR": str(pyrun.uv_cache), "UV_CONCURRENT_DOWNLOADS": "4",
             "PIP_CONFIG_FILE": str(pip_conf), "PIP_DEFAULT_TIMEOUT": "30",
             "PYRUN_COMPILE": "foreground"}
    with serve_index({"cronpkg": [wheel("cronpkg", "1.0")]}) as url:
        script = script_for(tmp_path, url)
        first = subprocess.run([sys.executable, "-m", "pyrun", str(script)], env=shell,
                               capture_output=True, text=True, timeout=300, cwd=home)
        assert first.returncode == 0 and first.stdout == "ran cronpkg\n", first.stderr
    # the index is gone, and cron has none of the shell's settings: warm all the same
    out = cron(script, home, "-v")
    assert out.returncode == 0 and out.stdout == "ran cronpkg\n", out.stderr
    assert "pyrun: warm:" in out.stderr, out.stderr
    again = cron(script, home, "-v")  # now an ordinary warm run: its own fast key recorded
    assert again.returncode == 0 and "pyrun: warm:" in again.stderr
    assert sum(p.is_file() for p in (home / ".cache" / "pyrun" / "index").rglob("*")) == 3
    pip_only = cron(script, home, "-v", PIP_INDEX_URL="http://127.0.0.1:9/simple")  # not uv's
    assert pip_only.returncode == 0 and "pyrun: warm:" in pip_only.stderr, pip_only.stderr


def test_a_setting_that_changes_the_resolution_resolves_again(pyrun: Runner,
                                                               tmp_path: Path) -> None:
    """uv's own settings are the environment's inputs: under cron with a different one (a
    prerelease policy), the run resolves (here with the index still up) rather than assume."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1",
           "UV_CACHE_DIR": str(pyrun.uv_cache), "PYRUN_COMPILE": "foreground"}
    with serve_index({"cronpkg": [wheel("cronpkg", "1.0")]}) as url:
        script = script_for(tmp_path, url)
        first = subprocess.run([sys.executable, "-m", "pyrun", str(script)], env=env,
                               capture_output=True, text=True, timeout=300, cwd=home)
        assert first.returncode == 0, first.stderr
        changed = subprocess.run([sys.executable, "-m", "pyrun", "-v", str(script)],
                                 env={**env, "UV_PRERELEASE": "allow"}, capture_output=True,
                                 text=True, timeout=300, cwd=home)
    assert changed.returncode == 0 and changed.stdout == "ran cronpkg\n", changed.stderr
    assert "pyrun: warm:" not in changed.stderr and "resolv" in changed.stderr.lower()


@pytest.mark.skipif(not NO_NETWORK, reason="needs root and unshare --net")
def test_without_the_block_entry_cron_has_no_network_and_fails_clearly(
        pyrun: Runner, tmp_path: Path) -> None:
    """The control: a script never run before has no environment to keep; under cron with
    no network it fails with pyrun's network error (exit 69), not a traceback."""
    home = tmp_path / "home"
    home.mkdir()
    script = script_for(tmp_path, "http://127.0.0.1:9/simple")
    out = cron(script, home)
    assert out.returncode == 69 and "Traceback" not in out.stderr, out.stderr
