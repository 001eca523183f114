"""Index options against a package index served on the loopback interface: a private `six`
that shadows PyPI's, behind a password that must never reach pyrun's cache or its log."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Runner, assert_fails, write
from tests.loopback import serve_index, wheel

USER, PASSWORD = "alice", "s3cret-pw-0451"


def assert_not_kept(cache: Path, secret: str) -> None:
    """No file of the cache holds ``secret`` (copies of piped scripts aside: a script that
    holds a credential is the user's own file)."""
    for dirpath, _dirs, files in os.walk(cache):
        for f in files:
            path = os.path.join(dirpath, f)
            if not os.path.islink(path) and not path.startswith(str(cache / "scripts")):
                with open(path, "rb") as fh:
                    assert secret.encode() not in fh.read(), path


@pytest.fixture
def index() -> Iterator[str]:
    """``http://127.0.0.1:PORT/simple`` (no credentials in it), answering only with them."""
    with serve_index({"six": [wheel("six", "99.0")]}, credentials=(USER, PASSWORD)) as url:
        yield url


def test_an_index_option_with_credentials_gets_the_private_package(
    pyrun: Runner, tmp_path: Path, index: str
) -> None:
    cache, uv_cache = tmp_path / "cache", tmp_path / "uv-cache"
    script = write(tmp_path / "p.py", '# /// script\n# dependencies = ["six"]\n# ///\n'
                   "import six\nprint(six.__version__)\n")
    with_credentials = index.replace("http://", f"http://{USER}:{PASSWORD}@")
    out = pyrun("-v", "--index", with_credentials, str(script), PYRUN_CACHE_DIR=str(cache),
                UV_CACHE_DIR=str(uv_cache))
    assert out.returncode == 0 and out.stdout.strip() == "99.0-private", out.stderr
    assert PASSWORD not in out.stderr and "***@" in out.stderr  # the log shows no password
    assert_not_kept(cache, PASSWORD)
    plain = pyrun(str(script), PYRUN_CACHE_DIR=str(cache), UV_CACHE_DIR=str(uv_cache))
    assert plain.returncode == 0 and plain.stdout.strip() != "99.0-private"  # another key
    again = pyrun("--index", with_credentials, str(script), PYRUN_CACHE_DIR=str(cache),
                  UV_CACHE_DIR=str(uv_cache))
    assert again.returncode == 0 and again.stdout.strip() == "99.0-private", again.stderr


def test_a_bad_index_option_is_a_usage_error(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "s.py", "print(1)\n")
    out = pyrun("--index-url=--find-links=/tmp/evil", str(script))  # one word: pyrun's check
    assert_fails(out, 64, "not starting with -")


@pytest.fixture
def explicit_index() -> Iterator[str]:
    """A private index holding a `six` and an `idna` that both shadow PyPI's."""
    projects = {"six": [wheel("six", "99.0")], "idna": [wheel("idna", "99.0")]}
    with serve_index(projects, credentials=(USER, PASSWORD)) as url:
        yield url


def test_an_index_pinned_source_gets_the_private_package_and_only_that(
    pyrun: Runner, tmp_path: Path, explicit_index: str
) -> None:
    cache = tmp_path / "cache"
    script = write(tmp_path / "p.py", (
        '# /// script\n# dependencies = ["six", "idna"]\n'
        f'# [[tool.uv.index]]\n# name = "private"\n# url = "{explicit_index}"\n'
        "# explicit = true\n"
        '# [tool.uv.sources]\n# six = { index = "private" }\n# ///\n'
        "import idna, six\nprint(six.__version__, idna.__version__)\n"))
    secrets = {"UV_INDEX_PRIVATE_USERNAME": USER, "UV_INDEX_PRIVATE_PASSWORD": PASSWORD}
    out = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache), **secrets)
    assert out.returncode == 0, out.stderr
    six_version, idna_version = out.stdout.split()
    assert six_version == "99.0-private"  # pinned to the private index
    assert idna_version != "99.0-private"  # explicit: used for nothing else
    assert PASSWORD not in out.stderr
    assert_not_kept(cache, PASSWORD)
    warm = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache), **secrets)
    assert warm.stdout == out.stdout and "warm" in warm.stderr, warm.stderr
    edited = script.read_text().replace("explicit = true", "explicit = false")
    script.write_text(edited.replace('# six = { index = "private" }',
                                     '# idna = { index = "private" }'))
    swapped = pyrun(str(script), PYRUN_CACHE_DIR=str(cache), **secrets)  # a new fast key
    assert swapped.returncode == 0 and swapped.stdout.split()[1] == "99.0-private", swapped.stderr


def test_credentials_from_netrc_reach_uv(pyrun: Runner, tmp_path: Path, index: str) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1\nlogin {USER}\npassword {PASSWORD}\n")
    netrc.chmod(0o600)
    script = write(tmp_path / "p.py", '# /// script\n# dependencies = ["six"]\n# ///\n'
                   "import six\nprint(six.__version__)\n")
    out = pyrun("--index", index, "--index-strategy", "unsafe-first-match", str(script),
                PYRUN_CACHE_DIR=str(tmp_path / "cache"), NETRC=str(netrc))
    assert out.returncode == 0 and out.stdout.strip() == "99.0-private", out.stderr


def test_credentials_in_a_named_index_url_work_and_are_never_kept(
    pyrun: Runner, tmp_path: Path, explicit_index: str
) -> None:
    cache = tmp_path / "cache"
    url = explicit_index.replace("http://", f"http://{USER}:{PASSWORD}@")
    script = write(tmp_path / "p.py", (
        '# /// script\n# dependencies = ["six"]\n'
        f'# [[tool.uv.index]]\n# name = "private"\n# url = "{url}"\n# explicit = true\n'
        '# [tool.uv.sources]\n# six = { index = "private" }\n# ///\n'
        "import six\nprint(six.__version__)\n"))
    out = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 0 and out.stdout.strip() == "99.0-private", out.stderr
    assert PASSWORD not in out.stderr and "***@" in out.stderr
    assert_not_kept(cache, PASSWORD)


def test_a_url_source_and_a_default_named_index(pyrun: Runner, tmp_path: Path) -> None:
    projects = {"six": [wheel("six", "99.0")], "idna": [wheel("idna", "99.0")]}
    with serve_index(projects) as url:
        files = url.replace("/simple", "/files")
        script = write(tmp_path / "u.py", (
            '# /// script\n# dependencies = ["six", "idna"]\n'
            f'# [[tool.uv.index]]\n# name = "mine"\n# url = "{url}"\n# default = true\n'
            f'# [tool.uv.sources]\n# six = {{ url = "{files}/six-99.0-py3-none-any.whl" }}\n'
            "# ///\nimport idna, six\nprint(six.__version__, idna.__version__)\n"))
        out = pyrun(str(script), PYRUN_CACHE_DIR=str(tmp_path / "cache"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["99.0-private", "99.0-private"]  # PyPI replaced, URL taken
