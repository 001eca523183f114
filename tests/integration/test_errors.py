"""Every error a user can cause: one clear message, a documented exit code, no traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Runner, write


def check(out: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("pyrun: error: "), out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr


def test_bad_metadata(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "bad.py", 'import os\n# /// script\n# dependencies = ["rich>>1"]\n# ///\n')
    check(pyrun(str(script)), 65, f"{script}:3:19", "'rich>>1'")


def test_bad_toml_and_verbose_traceback(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "toml.py", "# /// script\n# dependencies = [rich]\n# ///\n")
    check(pyrun(str(script)), 65, f"{script}:2:", "invalid TOML")
    verbose = pyrun("-v", str(script))
    assert verbose.returncode == 65 and "Traceback" in verbose.stderr


def test_unknown_package(pyrun: Runner, tmp_path: Path) -> None:
    name = "pyrun-surely-no-such-package-0xdeadbeef"
    script = write(tmp_path / "unknown.py", f'# /// script\n# dependencies = ["{name}"]\n# ///\n')
    check(pyrun(str(script)), 67, name, "cannot be satisfied")


def test_no_matching_python(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "future.py", '# /// script\n# requires-python = ">=4.1"\n# ///\n')
    check(pyrun(str(script)), 68, "'>=4.1'", "found ", f"{sys.version_info[0]}.{sys.version_info[1]}")
    check(pyrun("--python", "2.1", str(script)), 68, "--python 2.1")


def test_missing_script_and_usage(pyrun: Runner, tmp_path: Path) -> None:
    check(pyrun(str(tmp_path / "nope.py")), 66, "no such file")
    check(pyrun(str(tmp_path)), 66, "is a directory")
    check(pyrun("--bogus", "x.py"), 64, "unknown option --bogus")


def test_no_network(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "net.py", '# /// script\n# dependencies = ["six"]\n# ///\n')
    env = {"UV_CACHE_DIR": str(tmp_path / "empty-uv-cache"), "UV_HTTP_RETRIES": "0"}
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        out = subprocess.run(
            [unshare, "-rn", sys.executable, "-m", "pyrun", str(script)],
            capture_output=True, text=True, env=pyrun.env(**env),
        )
    else:  # pragma: no cover - no network namespaces: an index nobody listens on
        out = pyrun(str(script), UV_INDEX_URL="http://127.0.0.1:9/simple", **env)
    check(out, 69, "cannot be reached", "six")


@pytest.mark.parametrize("flag", ["--offline"])
def test_offline_without_cache(pyrun: Runner, tmp_path: Path, flag: str) -> None:
    script = write(tmp_path / "off.py", '# /// script\n# dependencies = ["six"]\n# ///\n')
    out = pyrun(flag, str(script), UV_CACHE_DIR=str(tmp_path / "empty-uv-cache"))
    check(out, 69, "--offline")
