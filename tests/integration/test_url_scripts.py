"""Scripts given by URL against servers on the loopback interface that misbehave (issue 22):
a redirect off the HTTPS rule, credentials in the URL, a short body, a trickle, control
characters in the status line, a body over the size limit. Each failure is one line with a
documented code, names the URL with its password as ``***``, and runs nothing."""

from __future__ import annotations

import base64
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from tests.helpers import Runner, assert_fails
from tests.loopback import serve_http

SCRIPT = b"print('the script ran')\n"
PASSWORD = "s3cret-pw"


def answer(h: http.server.BaseHTTPRequestHandler, body: bytes = SCRIPT, status: int = 200,
           headers: dict[str, str] | None = None) -> None:
    """A well-formed answer."""
    h.send_response(status)
    for name, value in {"Content-Type": "text/x-python", "Content-Length": str(len(body)),
                        **(headers or {})}.items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(body)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """Set when the test ends: a server still trickling stops."""
    event = threading.Event()
    yield event
    event.set()


def test_a_redirect_is_held_to_the_https_rule(pyrun: Runner) -> None:
    """A redirect to plain HTTP off the loopback names (``127.1`` reaches this very server, so
    without the check at each hop the script would run) is refused; redirects between allowed
    URLs are followed, at most 10."""
    def respond(h: http.server.BaseHTTPRequestHandler) -> None:
        port = h.server.server_address[1]
        if h.path == "/x.py":
            answer(h)
        elif h.path == "/escape":
            answer(h, b"", 302, {"Location": f"http://127.1:{port}/x.py"})
        elif h.path == "/hop":
            answer(h, b"", 301, {"Location": "/x.py"})
        elif h.path.startswith("/loop"):
            answer(h, b"", 307, {"Location": f"/loop{len(h.path)}"})

    with serve_http(respond) as base:
        escaped = pyrun(f"{base}/escape")
        assert_fails(escaped, 66, f"{base}/escape (redirected to http://127.1:", "HTTPS only")
        assert "the script ran" not in escaped.stdout
        hop = pyrun(f"{base}/hop")
        assert hop.returncode == 0 and hop.stdout == "the script ran\n", hop.stderr
        assert_fails(pyrun(f"{base}/loop"), 66, "more than 10 redirects")


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(pyrun: Runner) -> None:
    """``user:password@host`` authenticates (uv does); a 401, a refused connection and a DNS
    failure each name the URL with ``***`` and never the password; a redirect to another
    origin does not carry the credentials."""
    expected = "Basic " + base64.b64encode(f"me:{PASSWORD}".encode()).decode()
    seen: list[str] = []

    def respond(h: http.server.BaseHTTPRequestHandler) -> None:
        seen.append(f"{h.path} {h.headers.get('Authorization')}")
        if h.path == "/elsewhere":  # same host, another port: another origin
            answer(h, b"", 302, {"Location": f"{other}/x.py"})
        elif h.headers.get("Authorization") != expected:
            answer(h, b"", 401, {"WWW-Authenticate": 'Basic realm="private"'})
        else:
            answer(h)

    def plain(h: http.server.BaseHTTPRequestHandler) -> None:
        seen.append(f"other {h.path} {h.headers.get('Authorization')}")
        answer(h)

    with serve_http(respond) as base, serve_http(plain) as other:
        host = base.split("://")[1]
        good = pyrun(f"http://me:{PASSWORD}@{host}/x.py")
        assert good.returncode == 0 and good.stdout == "the script ran\n", good.stderr
        assert seen == [f"/x.py {expected}"]
        for wrong in (f"http://me:wrong-{PASSWORD}@{host}/x.py", f"{base}/x.py"):
            refused = pyrun(wrong, "-v")  # -v: the traceback holds no password either
            assert refused.returncode == 66, refused.stderr
            assert "HTTP 401" in refused.stderr and PASSWORD not in refused.stderr
        unauthorized = pyrun(f"http://me:wrong-{PASSWORD}@{host}/x.py")
        assert_fails(unauthorized, 66, f"http://***@{host}/x.py: the server answered HTTP 401",
                     "check the user and password")
        assert PASSWORD not in unauthorized.stderr + unauthorized.stdout
        crossed = pyrun(f"http://me:{PASSWORD}@{host}/elsewhere")
        assert crossed.returncode == 0 and crossed.stdout == "the script ran\n", crossed.stderr
        assert seen[-1] == "other /x.py None"  # the other origin never saw the credentials
    for url in (f"http://me:{PASSWORD}@{host}/x.py",  # the server is gone: refused
                f"https://me:{PASSWORD}@no-such-host.invalid/x.py"):
        out = pyrun(url)
        assert_fails(out, 69, "://***@", "cannot be fetched")
        assert PASSWORD not in out.stderr + out.stdout


def test_a_body_shorter_than_its_content_length_is_refused(pyrun: Runner) -> None:
    """The server announces 1000 bytes, sends a runnable script of 24 and closes: nothing runs
    (uv refuses the same), one line says the download was cut short."""
    def respond(h: http.server.BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/x-python\r\n"
                      b"Content-Length: 1000\r\n\r\n" + SCRIPT)

    with serve_http(respond) as base:
        out = pyrun(f"{base}/x.py")
    assert_fails(out, 69, f"{base}/x.py: the download was cut short", "24 of the 1000 bytes")
    assert "the script ran" not in out.stdout


def test_a_trickling_body_fails_at_the_deadline(pyrun: Runner, stop: threading.Event) -> None:
    """A byte every 50 ms of a 400-byte script (20 s in all): with ``PYRUN_URL_TIMEOUT=1`` the
    run fails with exit 69 well before the script could arrive, and runs nothing."""
    script = SCRIPT + b"#" * (400 - len(SCRIPT) - 1) + b"\n"

    def respond(h: http.server.BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/x-python\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(script))
        for i in range(len(script)):
            h.wfile.write(script[i:i + 1])
            h.wfile.flush()
            if stop.wait(0.05):  # the server's pace, not a wait of the test
                return

    with serve_http(respond) as base:
        started = time.monotonic()
        out = pyrun(f"{base}/x.py", PYRUN_URL_TIMEOUT="1")
        took = time.monotonic() - started
    assert_fails(out, 69, f"{base}/x.py: not fetched within 1 s", "PYRUN_URL_TIMEOUT")
    assert "the script ran" not in out.stdout
    assert took < 15, f"took {took:.1f} s"  # the whole script would have taken 20 s
    assert_fails(pyrun(f"{base}/x.py", PYRUN_URL_TIMEOUT="soon"), 64, "PYRUN_URL_TIMEOUT=soon")


def test_control_characters_from_the_server_are_escaped(pyrun: Runner) -> None:
    """An ESC in the reason phrase (``\\x1b[2J`` clears a terminal) is shown as ``\\033``, as
    git quotes a path, and a BEL as ``\\a``."""
    def respond(h: http.server.BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.0 404 Not\x1b[2JFound\x07\r\nContent-Length: 0\r\n\r\n")

    with serve_http(respond) as base:
        out = pyrun(f"{base}/x.py")
    assert_fails(out, 66, "HTTP 404 (Not\\033[2JFound\\a)")
    assert "\x1b" not in out.stderr and "\x07" not in out.stderr


def test_a_script_over_the_size_limit_is_refused(pyrun: Runner) -> None:
    """More than 10 MiB, announced by Content-Length or only sent, is one line (66)."""
    big = SCRIPT + b"#" * (10 * 2**20) + b"\n"

    def respond(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.path == "/announced.py":
            answer(h, big)
        else:  # no Content-Length: the body ends when the connection does
            h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/x-python\r\n\r\n" + big)

    with serve_http(respond) as base:
        for path in ("/announced.py", "/sent.py"):
            out = pyrun(f"{base}{path}")
            assert_fails(out, 66, f"{base}{path}: larger than 10 MiB")
            assert "the script ran" not in out.stdout


def test_a_url_scripts_metadata_error_never_shows_its_password(pyrun: Runner) -> None:
    """An invalid block in a script given by a URL with credentials: the error names the URL
    with the credentials as ***."""
    bad = b'# /// script\n# dependencies = ["not a requirement!"]\n# ///\nprint(1)\n'

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(bad)))
        handler.end_headers()
        handler.wfile.write(bad)

    with serve_http(respond) as base:
        url = base.replace("http://", "http://me:s3cret@") + "/x.py"
        for flags in ([], ["-v"]):
            out = pyrun(*flags, url)
            assert out.returncode == 65, out.stderr
            assert "s3cret" not in out.stderr and "***@" in out.stderr, out.stderr
