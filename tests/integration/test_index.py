"""Index options against a package index served on the loopback interface: a private `six`
that shadows PyPI's, behind a password that must never reach pyrun's cache or its log."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Runner, write

USER, PASSWORD = "alice", "s3cret-pw-0451"


def private_wheel() -> tuple[str, bytes]:
    """A six 99.0 wheel whose module says it is the private one."""
    files = {
        "six.py": b"__version__ = '99.0-private'\n",
        "six-99.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: six\nVersion: 99.0\n",
        "six-99.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: pyrun-tests\n"
                                    b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={digest},{len(data)}\n"
    record += "six-99.0.dist-info/RECORD,,\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("six-99.0.dist-info/RECORD", record)
    return "six-99.0-py3-none-any.whl", out.getvalue()


@pytest.fixture
def index() -> Iterator[str]:
    """``http://127.0.0.1:PORT/simple`` (no credentials in it), answering only with them."""
    name, wheel = private_wheel()
    sha = hashlib.sha256(wheel).hexdigest()
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 - the http.server API
            self.answer(with_body=False)

        def do_GET(self) -> None:  # noqa: N802
            self.answer(with_body=True)

        def answer(self, with_body: bool) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.end_headers()
                return
            if self.path.rstrip("/") == "/simple/six":
                body = f'<a href="/files/{name}#sha256={sha}">{name}</a>'.encode()
                kind = "text/html"
            elif self.path == f"/files/{name}":
                body, kind = wheel, "application/octet-stream"
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


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
    for dirpath, _dirs, files in os.walk(cache):
        for f in files:
            path = os.path.join(dirpath, f)
            if not os.path.islink(path):
                with open(path, "rb") as fh:
                    assert PASSWORD.encode() not in fh.read(), path
    plain = pyrun(str(script), PYRUN_CACHE_DIR=str(cache), UV_CACHE_DIR=str(uv_cache))
    assert plain.returncode == 0 and plain.stdout.strip() != "99.0-private"  # another key
    again = pyrun("--index", with_credentials, str(script), PYRUN_CACHE_DIR=str(cache),
                  UV_CACHE_DIR=str(uv_cache))
    assert again.returncode == 0 and again.stdout.strip() == "99.0-private", again.stderr


def test_a_bad_index_option_is_a_usage_error(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "s.py", "print(1)\n")
    out = pyrun("--index-url", "--find-links=/tmp/evil", str(script))
    assert out.returncode == 64 and "Traceback" not in out.stderr, out.stderr
