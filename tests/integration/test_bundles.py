"""Offline bundles (issue 26, point 2): ``pyrun bundle SCRIPT... -o DIR [--tar FILE]`` and
``pyrun --bundle DIR SCRIPT``. A bundle built here runs in a network namespace with no network
and empty ``PYRUN_CACHE_DIR`` and ``UV_CACHE_DIR``, starting no resolver (``-v`` shows no uv
resolution, export or install); so does its tar archive unpacked elsewhere; a script the
bundle does not hold, and another interpreter than the bundle's, are clear errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.helpers import Runner, assert_fails, write

SCRIPT = ('# /// script\n# dependencies = ["six"]\n# ///\n'
          "import six, sys\nprint(six.__file__)\nprint(sys.version_info[:2])\n")


def offline_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rn", "true"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(the bundle, its tar archive, the script), built once with real uv and PyPI."""
    tmp = tmp_path_factory.mktemp("bundles")
    script = write(tmp / "job.py", SCRIPT)
    out = Runner(cache=tmp / "cache", uv_cache=tmp / "uv-cache")(
        "bundle", str(script), "-o", str(tmp / "bundle"), "--tar", str(tmp / "bundle.tar.gz"))
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp / "bundle", tmp / "bundle.tar.gz", script


def run_offline(bundle: Path, script: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """``pyrun -v --bundle BUNDLE SCRIPT`` with no network and empty caches."""
    env = Runner(cache=tmp / "empty-cache", uv_cache=tmp / "empty-uv-cache").env()
    return subprocess.run(["unshare", "-rn", sys.executable, "-m", "pyrun", "-v", "--bundle",
                           str(bundle), str(script)],
                          capture_output=True, text=True, env=env, timeout=300)


def no_resolver(stderr: str) -> None:
    started = [ln for ln in stderr.splitlines() if "running:" in ln]
    assert not [ln for ln in started if any(w in ln for w in ("compile", "export", "install"))]
    assert "from the bundle:" in stderr


@pytest.mark.skipif(not offline_works(), reason="needs unshare -rn (a network namespace)")
def test_a_bundle_runs_with_no_network_and_empty_caches(bundled: tuple[Path, Path, Path],
                                                        tmp_path: Path) -> None:
    bundle, _, script = bundled
    out = run_offline(bundle, script, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0].startswith(str(bundle / "pool") + os.sep)
    no_resolver(out.stderr)
    own = tmp_path / "empty-cache" / "pool"
    assert not own.is_dir() or not [p for p in own.iterdir() if not p.name.startswith(".")]


@pytest.mark.skipif(not offline_works(), reason="needs unshare -rn (a network namespace)")
def test_its_tar_archive_runs_unpacked_elsewhere(bundled: tuple[Path, Path, Path],
                                                 tmp_path: Path) -> None:
    _, archive, script = bundled
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "image", filter="tar")  # as a container build unpacks it
    unpacked = tmp_path / "image" / "bundle"
    copy = write(tmp_path / "job.py", script.read_text())  # the same block, another place
    out = run_offline(unpacked, copy, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0].startswith(str(unpacked / "pool") + os.sep)
    no_resolver(out.stderr)


def test_a_script_the_bundle_does_not_hold(bundled: tuple[Path, Path, Path],
                                           tmp_path: Path) -> None:
    bundle, _, _ = bundled
    other = write(tmp_path / "other.py", '# /// script\n# dependencies = ["idna"]\n# ///\n')
    out = Runner(cache=tmp_path / "c", uv_cache=tmp_path / "u")("--bundle", str(bundle),
                                                                 str(other))
    assert_fails(out, 64, "its block is not in the bundle", "it holds job.py",
                 f"pyrun bundle {other} -o {bundle}")


def test_another_interpreter_than_the_bundles_is_named(bundled: tuple[Path, Path, Path],
                                                       tmp_path: Path) -> None:
    bundle, _, script = bundled
    others = [p for p in (shutil.which(f"python3.{m}") for m in range(8, 15)) if p
              and os.path.realpath(p) != os.path.realpath(sys.executable)]
    other = others[0] if others else "/usr/bin/python3"
    out = Runner(cache=tmp_path / "c", uv_cache=tmp_path / "u")(
        "--bundle", str(bundle), "--python", other, str(script))
    assert_fails(out, 68, "was built for Python", other)


def test_a_bundle_others_can_write_is_refused(bundled: tuple[Path, Path, Path],
                                              tmp_path: Path) -> None:
    """A bundle names the interpreter a run starts and the lock it installs: one another user
    could have written is not used, as a pool layer is not."""
    bundle, _, script = bundled
    mode = bundle.stat().st_mode
    bundle.chmod(mode | 0o002)
    try:
        out = Runner(cache=tmp_path / "c", uv_cache=tmp_path / "u")("--bundle", str(bundle),
                                                                     str(script))
    finally:
        bundle.chmod(mode)
    assert_fails(out, 64, f"the bundle {bundle} is not used: everyone can write to it")
