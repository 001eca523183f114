"""A Ray driver's hook without Ray (issue 26, point 3): with ``RAY_RUNTIME_ENV_HOOK`` naming
``pyrun.ray.hook``, the script's own process imports ``pyrun`` although its environment holds
only the block: pyrun puts a directory holding only a link to its package first on the
script's ``PYTHONPATH``, on a first run and on a warm one. Without the variable the script
cannot import pyrun; a directory others can write is not used, with a warning. (The hook with
a real cluster: tests/integration/test_ray.py.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import pyrun
from tests.helpers import Runner, write

DRIVER = '''\
# /// script
# dependencies = []
# ///
import json
import sys

try:
    import pyrun.ray
except ImportError:
    print("RESULT " + json.dumps({"imported": False}))
    raise SystemExit(0)
print("RESULT " + json.dumps({"imported": True, "file": pyrun.__file__, "path": sys.path,
                              "runtime_env": pyrun.ray.hook({"env_vars": {"A": "1"}})}))
'''


def _result(out: str) -> dict[str, object]:
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    result: dict[str, object] = json.loads(line[len("RESULT "):])
    return result


@pytest.fixture
def runner(pyrun: Runner, tmp_path: Path) -> Runner:
    return Runner(cache=tmp_path / "cache", uv_cache=pyrun.uv_cache)


def test_the_hook_imports_in_a_driver_first_and_warm(runner: Runner, tmp_path: Path) -> None:
    driver = write(tmp_path / "driver.py", DRIVER)
    elsewhere = str(tmp_path / "elsewhere")
    for run in ("first", "warm"):
        out = runner(str(driver), RAY_RUNTIME_ENV_HOOK="pyrun.ray.hook", PYTHONPATH=elsewhere)
        assert out.returncode == 0, (run, out.stderr[-3000:])
        result = _result(out.stdout)
        assert result["imported"] is True, (run, result)
        package = runner.cache / "package-path" / "pyrun"
        assert Path(str(result["file"])).parent == package, result
        assert os.readlink(package) == str(Path(pyrun.__file__).parent)
        path = [str(p) for p in result["path"]]  # type: ignore[union-attr]
        assert path.index(str(package.parent)) < path.index(elsewhere), path  # kept, after it
        runtime_env = result["runtime_env"]
        assert isinstance(runtime_env, dict) and runtime_env["env_vars"] == {"A": "1"}
        field = runtime_env["pyrun"]
        assert (runner.cache / "envs" / field["env"] / "pyrun-env.json").is_file(), field


def test_no_hook_no_pyrun_on_the_driver_s_path(runner: Runner, tmp_path: Path) -> None:
    driver = write(tmp_path / "driver.py", DRIVER)
    out = runner(str(driver), PYTHONPATH="")
    assert out.returncode == 0, out.stderr[-3000:]
    assert _result(out.stdout) == {"imported": False}
    assert not (runner.cache / "package-path").exists()


def test_a_package_path_others_can_write_is_not_used(runner: Runner, tmp_path: Path) -> None:
    driver = write(tmp_path / "driver.py", DRIVER)
    assert runner(str(driver)).returncode == 0
    planted = runner.cache / "package-path"
    planted.mkdir(mode=0o700)
    planted.chmod(0o777)
    (planted / "pyrun").symlink_to(tmp_path)  # what another user would put there
    out = runner(str(driver), RAY_RUNTIME_ENV_HOOK="pyrun.ray.hook", PYTHONPATH="")
    assert out.returncode == 0, out.stderr[-3000:]
    assert _result(out.stdout) == {"imported": False}
    assert "cannot be given pyrun's package" in out.stderr and "everyone can write" in out.stderr
    assert os.readlink(planted / "pyrun") == str(tmp_path)  # not trusted, not changed
