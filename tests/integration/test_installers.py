"""The installers with real uv: settings of the user's that must not reach the pool."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.helpers import Runner, assert_fails, write


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


def test_tool_uv_exclude_newer_pins_an_older_release(pyrun: Runner, tmp_path: Path) -> None:
    """six 1.14.0 came out on 2020-01-15: a script that excludes what is newer than 2020 gets
    1.13.0, as `uv run --script` gives it."""
    script = write(tmp_path / "old.py", '# /// script\n# dependencies = ["six"]\n'
                   '# [tool.uv]\n# exclude-newer = "2020-01-01T00:00:00Z"\n# ///\n'
                   "import six\nprint(six.__version__)\n")
    out = pyrun(str(script), PYRUN_CACHE_DIR=str(tmp_path / "cache"))
    assert out.returncode == 0 and out.stdout.strip() == "1.13.0", out.stderr
    # a key uv does not know: refused by uv, in uv's words, as the script's metadata
    refused = write(tmp_path / "src.py", '# /// script\n# dependencies = ["six"]\n'
                    '# [tool.uv]\n# not-a-uv-key = true\n# ///\n')
    out = pyrun(str(refused))
    assert_fails(out, 65, "unknown field `not-a-uv-key`", "[tool.uv]")
    assert "pyrun-uvconfig" not in out.stderr, out.stderr
    theirs = pyrun.uv("run", "--script", str(refused))
    assert theirs.returncode != 0 and "unknown field `not-a-uv-key`" in theirs.stderr


def test_a_damaged_uv_lock_beside_the_script_is_an_error_naming_it(
    pyrun: Runner, tmp_path: Path
) -> None:
    script = write(tmp_path / "locked.py", '# /// script\n# dependencies = []\n# ///\nprint(1)\n')
    (tmp_path / "locked.py.lock").write_text("version = 1\n")
    out = pyrun(str(script), PYRUN_CACHE_DIR=str(tmp_path / "cache"))
    assert_fails(out, 65, "locked.py.lock is damaged", "pyrun lock")
