"""Servers on the loopback interface for tests: a small "simple" package index (PEP 503) with
optional Basic auth, and the wheels it serves. Usable outside pytest too::

    with serve_index({"six": [wheel("six", "99.0")]}) as url: ...
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence


def wheel(name: str, version: str, module: str | None = None,
          requires: Sequence[str] = (), files: Mapping[str, bytes] | None = None,
          ) -> tuple[str, bytes]:
    """A pure wheel ``(filename, bytes)`` of ``name`` holding one module ``name`` whose
    ``__version__`` is ``module`` (default: ``"<version>-private"``), requiring ``requires``
    (``Requires-Dist``); ``files`` (``{path in the wheel: bytes}``, an ``entry_points.txt``
    say) are added, or replace the module."""
    text = module if module is not None else f"{version}-private"
    depends = "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{name}.py": f"__version__ = {text!r}\n".encode(),
        f"{name}-{version}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{depends}".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: pyrun-tests\n"
                                             b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        **(files or {}),
    }
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    record += f"{name}-{version}.dist-info/RECORD,,\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
        z.writestr(f"{name}-{version}.dist-info/RECORD", record)
    return f"{name}-{version}-py3-none-any.whl", out.getvalue()


@contextlib.contextmanager
def serve_index(
    projects: Mapping[str, Sequence[tuple[str, bytes]]],
    credentials: tuple[str, str] | None = None,
    requests: list[str] | None = None,
    before: Callable[[str], None] | None = None,
) -> Iterator[str]:
    """Serve ``projects`` (``{name: [(filename, bytes)]}``) as a simple index; yields
    ``http://127.0.0.1:PORT/simple`` (without credentials). With ``credentials``, every
    request without them gets 401. Each request's path is appended to ``requests``, and
    ``before(path)`` is called before it is answered (a test's moment to change something)."""
    files = {fn: data for dists in projects.values() for fn, data in dists}
    expected = ("Basic " + base64.b64encode(":".join(credentials).encode()).decode()
                if credentials else None)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 - the http.server API
            self.answer(with_body=False)

        def do_GET(self) -> None:  # noqa: N802
            self.answer(with_body=True)

        def answer(self, with_body: bool) -> None:
            if requests is not None:
                requests.append(self.path)
            if before is not None:
                before(self.path)
            if expected and self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.end_headers()
                return
            parts = self.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "simple" and parts[1] in projects:
                body = "".join(
                    f'<a href="/files/{fn}#sha256={hashlib.sha256(data).hexdigest()}">{fn}</a>\n'
                    for fn, data in projects[parts[1]]).encode()
                kind = "text/html"
            elif len(parts) == 2 and parts[0] == "files" and parts[1] in files:
                body, kind = files[parts[1]], "application/octet-stream"
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



@contextlib.contextmanager
def serve_http(respond: Callable[[http.server.BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """Serve every GET with ``respond(handler)``, which writes the whole answer itself (through
    ``handler.wfile``, raw bytes when a test needs a broken one: a short body, a trickle, a
    control character in the status line); yields ``http://127.0.0.1:PORT``. The server's
    threads are daemons, so a ``respond`` still writing when the test ends does not hold it."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            with contextlib.suppress(OSError):  # the client may give up first
                respond(self)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

if __name__ == "__main__":  # serve a private six until interrupted, for trying things by hand
    import time

    with serve_index({"six": [wheel("six", "99.0")]}) as url:
        print(url, flush=True)
        while True:
            time.sleep(3600)
