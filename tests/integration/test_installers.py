"""The installers with real uv: settings of the user's that must not reach the pool."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import Runner, write


def test_uv_link_mode_symlink_does_not_tie_the_pool_to_uvs_cache(
    pyrun: Runner, tmp_path: Path
) -> None:
    """With ``UV_LINK_MODE=symlink`` set, a cold build, then uv's cache cleared: the warm run
    still works, because pool installs pin uv's link mode."""
    cache, uv_cache = tmp_path / "cache", tmp_path / "uv-cache"
    script = write(tmp_path / "s.py", '# /// script\n# dependencies = ["six"]\n# ///\n'
                   "import six\nprint(six.__name__)\n")
    env = {"PYRUN_CACHE_DIR": str(cache), "UV_CACHE_DIR": str(uv_cache), "UV_LINK_MODE": "symlink"}
    cold = pyrun(str(script), **env)
    assert cold.returncode == 0 and cold.stdout.strip() == "six", cold.stderr
    links = [os.path.join(d, f) for d, _dirs, files in os.walk(cache / "pool") for f in files
             if os.path.islink(os.path.join(d, f))]
    assert links == []
    shutil.rmtree(uv_cache)  # what `uv cache clean` does
    warm = pyrun("-v", str(script), **env)
    assert warm.returncode == 0 and warm.stdout.strip() == "six", warm.stderr
    assert "pyrun: warm:" in warm.stderr  # the warm path, no rebuild
