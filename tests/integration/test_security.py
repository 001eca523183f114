"""Security basics: metadata is read, never run; the cache is private; the pool read-only; the
activation names only the pool (no shell anywhere: tests/unit/test_subprocesses.py)."""

from __future__ import annotations

import ast
import stat
from pathlib import Path

from tests.helpers import Runner, body, cold, env_of, write


def test_reading_metadata_never_runs_the_script(pyrun: Runner, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = write(tmp_path / "s.py", f"open({str(marker)!r}, 'w').close()\n"
                   "# /// script\n# dependencies = ['rich>>1']\n# ///\n")
    out = pyrun(str(script))
    assert out.returncode == 65 and not marker.exists()


def test_cache_is_private_and_pool_read_only(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold(pyrun, cache, write(tmp_path / "p.py", body("six")))
    for d in (cache, cache / "pool", cache / "envs", cache / "locks", cache / "index"):
        assert stat.S_IMODE(d.stat().st_mode) & 0o077 == 0, d
    (entry,) = [p for p in (cache / "pool").iterdir()]
    for d in [entry, *[p for p in entry.rglob("*") if p.is_dir()]]:
        assert stat.S_IMODE(d.stat().st_mode) & 0o222 == 0, d


def test_activation_names_only_the_pool(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold(pyrun, cache, write(tmp_path / "a.py", body("setuptools==75.8.0", "six")))
    (site,) = env_of(cache).glob("lib/python*/site-packages")
    pool = str((cache / "pool").resolve()) + "/"
    lines = (site / "_pyrun_pool.pth").read_text().splitlines()
    *paths, call = lines
    assert paths and all(p.startswith(pool) and p.endswith("/site-packages") for p in paths)
    assert call == "import _pyrun_pool; _pyrun_pool.activate()"
    dirs = ast.literal_eval(
        next(x for x in (site / "_pyrun_pool.py").read_text().splitlines()
             if x.startswith("DIRS = ")).split("=", 1)[1].strip())
    assert dirs and all(d.startswith(pool) for d in dirs)
    assert (site / "_pyrun_pool.start").read_text() == "_pyrun_pool:activate\n"
