"""``pyrun outdated`` and ``pyrun upgrade`` (issue 24, point 4), with real uv and an index on
the loopback interface whose releases the test chooses: a folder with one script locked to an
old release and one up to date lists only the first; ``pyrun upgrade`` raises its bound and
its lock, which ``uv run --script --locked`` then accepts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import Runner, assert_fails, write
from tests.loopback import serve_index, wheel

INDEX = {"alpha": [wheel("alpha", "1.0"), wheel("alpha", "2.0")],
         "beta": [wheel("beta", "1.0", requires=["gamma"])],
         "gamma": [wheel("gamma", "1.0"), wheel("gamma", "1.5")]}


def _script(path: Path, index: str, *requirements: str) -> Path:
    listed = ", ".join(f'"{r}"' for r in requirements)
    return write(path, f'''# /// script
# requires-python = ">=3.9"
# dependencies = [{listed}]
# [tool.uv]
# index-url = "{index}"
# ///
import alpha
print(alpha.__version__)
''')


def test_outdated_lists_the_old_lock_and_upgrade_raises_it(pyrun: Runner,
                                                           tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    folder.mkdir()
    with serve_index(INDEX) as url:
        old = _script(folder / "old.py", url, "alpha>=1.0,<2", "beta")
        assert pyrun("lock", str(old)).returncode == 0
        _script(old, url, "alpha>=1.0", "beta")  # a bound relaxed: the lock keeps alpha 1.0
        assert pyrun("lock", str(old)).returncode == 0
        lock = Path(f"{old}.lock")
        assert 'name = "alpha"\nversion = "1.0"' in lock.read_text()
        _script(folder / "new.py", url, "alpha>=2.0")
        write(folder / "notes.txt", "not a script\n")
        before = lock.read_bytes()

        found = pyrun("outdated", str(folder))
        assert found.returncode == 0, found.stderr
        assert found.stdout.split("\n")[1:] == [f"{old}  alpha    1.0      2.0     lock", ""]
        assert found.stdout.split()[:5] == ["SCRIPT", "PACKAGE", "VERSION", "LATEST", "FROM"]
        as_json = json.loads(pyrun("outdated", str(folder), "--json").stdout)
        assert as_json["scripts"] == [str(folder / "new.py"), str(old)]
        assert as_json["outdated"] == [{"script": str(old), "name": "alpha", "version": "1.0",
                                        "latest": "2.0", "requirements": ["alpha>=1.0"],
                                        "locked": True}]
        assert lock.read_bytes() == before  # asking never writes the lock

        raised = pyrun("upgrade", str(old))
        assert raised.returncode == 0, raised.stderr
        assert f"{old}: alpha>=1.0 -> alpha>=2.0" in raised.stdout.splitlines()
        assert f"{lock}: alpha 1.0 -> 2.0" in raised.stdout.splitlines()
        assert '"alpha>=2.0"' in old.read_text() and old.read_text().endswith(
            "import alpha\nprint(alpha.__version__)\n")  # the rest kept byte for byte
        locked = pyrun.uv("run", "--script", "--locked", str(old))
        assert locked.returncode == 0 and locked.stdout == "2.0-private\n", locked.stderr
        ran = pyrun("--locked", str(old))
        assert ran.returncode == 0 and ran.stdout == "2.0-private\n", ran.stderr
        again = pyrun("outdated", str(folder))
        assert again.returncode == 0 and again.stdout == "", again.stdout
        assert "every direct requirement is at its newest release" in again.stderr


def test_a_cap_is_kept_and_each_script_answers_for_itself(pyrun: Runner,
                                                           tmp_path: Path) -> None:
    """An upper bound holds a requirement back: outdated says so, upgrade raises only the
    lower bound and says what holds the rest. A script uv cannot read is one error line (and
    the exit code), the others are still listed."""
    with serve_index(INDEX) as url:
        capped = _script(tmp_path / "capped.py", url, "alpha<2", "gamma")
        write(tmp_path / "broken.py", "# /// script\n# dependencies = [\"alpha>=\"]\n# ///\n")
        found = pyrun("outdated", str(tmp_path))
        assert_fails(found, 65, f"{tmp_path / 'broken.py'}")
        assert [line.split()[:4] for line in found.stdout.splitlines()[1:]] == [
            [str(capped), "alpha", "1.0", "2.0"]]
        raised = pyrun("upgrade", str(capped))
        assert raised.returncode == 0, raised.stderr
        assert raised.stdout.splitlines() == [
            f"{capped}: alpha<2 -> alpha>=1.0,<2",
            f"{capped}: gamma -> gamma>=1.5",
            f"{capped}: alpha stays at 1.0 (latest 2.0): its bounds, or another requirement's, "
            "hold it back"]
        assert not Path(f"{capped}.lock").exists()  # no lock: none written
        assert_fails(pyrun("upgrade", str(capped), "beta"), 64, "does not require beta")
