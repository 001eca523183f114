"""Choosing from a universal PEP 751 lock what one interpreter installs (select_pylock)."""

from __future__ import annotations

import pytest

from pyrun.engine.resolution import select_pylock, write_pylock
from pyrun.errors import LockError

H = "0" * 64
X, LINUX = "https://x", "manylinux_2_17_x86_64"
LOCK = f'''lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.8"

[[packages]]
name = "native"
version = "1.0"
index = "https://pypi.org/simple"
sdist = {{ url = "https://x/native-1.0.tar.gz", hashes = {{ sha256 = "{H}" }} }}
wheels = [
  {{ url = "{X}/native-1.0-cp312-cp312-{LINUX}.whl", hashes = {{ sha256 = "{"1" * 64}" }} }},
  {{ url = "{X}/native-1.0-cp311-cp311-{LINUX}.whl", hashes = {{ sha256 = "{"2" * 64}" }} }},
]

[[packages]]
name = "backport"
version = "2.0"
marker = "python_version < '3.9'"
wheels = [{{ url = "{X}/backport-2.0-py3-none-any.whl", hashes = {{ sha256 = "{"3" * 64}" }} }}]

[[packages]]
name = "local"
version = "0.1"
archive = {{ path = "dist/local-0.1.tar.gz", hashes = {{ sha256 = "{"4" * 64}" }} }}
'''


def markers(version: str) -> dict[str, str]:
    return {"python_version": version, "python_full_version": f"{version}.0",
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
            "platform_machine": "x86_64", "platform_release": "", "platform_version": "",
            "implementation_version": f"{version}.0"}


def test_the_wheel_for_the_interpreters_tags_and_markers_is_chosen() -> None:
    tags = ["cp311-cp311-manylinux_2_17_x86_64", "py3-none-any"]
    got = {d.name: d for d in select_pylock(LOCK, "pylock.toml", markers("3.11"), tags, "/lk")}
    assert set(got) == {"native", "local"}  # backport's marker is false on 3.11
    assert got["native"].kind == "wheel" and got["native"].sha256 == "2" * 64
    assert got["native"].package["wheels"] == [{"url": "https://x/native-1.0-cp311-cp311-"
                                                "manylinux_2_17_x86_64.whl",
                                                "hashes": {"sha256": "2" * 64}}]
    assert got["local"].url == "/lk/dist/local-0.1.tar.gz"  # relative to the lock
    assert "sdist" not in write_pylock(list(got.values()))  # only the chosen artifact


def test_without_a_matching_wheel_the_sdist_is_chosen_and_markers_apply() -> None:
    tags = ["cp38-cp38-manylinux_2_17_x86_64", "py3-none-any"]
    got = {d.name: d for d in select_pylock(LOCK, "pylock.toml", markers("3.8"), tags, "/")}
    assert got["native"].kind == "sdist" and got["backport"].version == "2.0"


@pytest.mark.parametrize(("text", "words"), [
    ("lock-version = ", "not TOML"),
    ('lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nversion = "1"\n', "not a valid"),
    (LOCK.replace('sdist = {', 'x-sdist = {'), "nothing in it can be installed"),
])
def test_a_bad_lock_is_a_lock_error_naming_it(text: str, words: str) -> None:
    with pytest.raises(LockError, match="pylock.toml") as caught:
        select_pylock(text, "pylock.toml", markers("3.11"), ["cp39-cp39-linux_x86_64"], "/")
    assert words in str(caught.value)
