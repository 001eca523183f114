"""Scripts given by URL (``pyrun https://example.org/x.py``), as ``uv run`` takes them: fetched
over HTTPS (plain HTTP only from the loopback interface, at every redirect too), with a
deadline, a size limit and at most :data:`MAX_REDIRECTS` redirects, then run like a script read
from a pipe (a copy in the cache).

Credentials in the URL (``https://user:password@host/x.py``) are sent as HTTP Basic auth, as uv
sends them, to that URL's origin only (a redirect to another host, port or scheme loses them,
as in uv); every URL a message names is shown by :func:`shown` (credentials as ``***``,
control characters escaped), and so is every text the server chose (the reason phrase).

The copy is kept by content (``scripts/<hash>.py``) with a record of the URL's validators
(``scripts/url-<hash of the URL>.json``: ``ETag``, ``Last-Modified``, the copy's name), so a
later run of the same URL makes a conditional request and, on ``304 Not Modified``, reads the
copy (its name is checked against its content) instead of the body. The record holds no URL,
so no credentials in one reach the cache.

Standard library only (``urllib``); imported only when a script is a URL.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Optional
from urllib.parse import urlsplit

from pyrun import layout
from pyrun.errors import NetworkError, ScriptNotFoundError, UsageError

if TYPE_CHECKING:
    from http.client import HTTPResponse

#: Seconds to wait for any one answer of the server (connecting, each read).
TIMEOUT = 30.0
#: Seconds the whole download may take, redirects included (``PYRUN_URL_TIMEOUT`` sets it).
DEADLINE = 60.0
#: The largest script accepted (bytes).
MAX_BYTES = 10 * 2**20
#: Redirects followed before giving up (uv's ``DEFAULT_MAX_REDIRECTS``).
MAX_REDIRECTS = 10

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_REDIRECTS = (301, 302, 303, 307, 308)
#: What a download gives: ``(body, Content-Type, (ETag, Last-Modified))``, or None for
#: ``304 Not Modified``.
_Answer = Optional[tuple[bytearray, str, tuple[str, str]]]


def is_url(script: str) -> bool:
    """Whether ``script`` names a script by URL rather than a path."""
    return script.startswith(("https://", "http://"))


def shown(text: str) -> str:
    r"""``text`` (a URL, or what a server said) as a message shows it: the user and password
    of a URL as ``***``, and every character that is not printable escaped (control characters
    as git quotes a path: ``\033`` for ESC, ``\r``; others as Python does: ``\u202e``), so
    that nothing a server sends can move the cursor or recolour a terminal.

    >>> shown("https://me:s3cret@example.org/x.py")
    'https://***@example.org/x.py'
    >>> shown("Not\x1b[2JFound\x07")
    'Not\\033[2JFound\\a'
    """
    scheme, sep, rest = text.partition("://")
    if sep:
        end = min([i for i in map(rest.find, "/?#") if i >= 0] or [len(rest)])
        if "@" in rest[:end]:
            text = f"{scheme}://***@{rest[rest.rfind('@', 0, end) + 1:]}"
    from pyrun.progress import escaped

    return escaped(text, keep="")


def fetch(url: str, root: str | None = None) -> bytes:
    """The script at ``url``; with ``root`` (pyrun's cache, used only when :func:`layout.check_root`
    accepts it), by a conditional request when it was fetched before.

    Raises:
        ScriptNotFoundError: plain HTTP off the loopback interface (at any redirect), too many
            redirects, an HTTP error (404, 401, ...), an HTML page, or more than
            :data:`MAX_BYTES`; the message says which.
        NetworkError: the server cannot be reached, the body is shorter than its
            ``Content-Length``, or the download takes longer than its deadline.
        UsageError: ``PYRUN_URL_TIMEOUT`` is not a positive number of seconds.
    """
    import threading

    limit = _deadline()
    _check_rule(url, url)
    headers = {"User-Agent": "pyrun"}
    record_path = None
    if root is not None and layout.check_root(root) is None:
        record = f"url-{layout.digest(url.encode())}.json"
        record_path = os.path.join(root, layout.SCRIPTS, record)
    known = _known(record_path)
    if known is not None:
        headers.update({k: v for k, v in (("If-None-Match", known[0]),
                                          ("If-Modified-Since", known[1])) if v})
    # In a thread of its own, so that a server that trickles (headers or body) cannot hold
    # pyrun past the deadline; the thread also stops itself at the deadline (between reads).
    outcome: list[_Answer | BaseException] = []

    def download() -> None:
        try:
            outcome.append(_download(url, headers, limit))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=download, name="pyrun-url", daemon=True)
    worker.start()
    worker.join(limit)
    if not outcome:
        raise _too_slow(url, limit)
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    answer = outcome[0]
    if answer is None:  # 304 Not Modified
        if known is None:
            raise ScriptNotFoundError(url, f"{shown(url)}: the server answered HTTP 304 (Not "
                                      "Modified) to a request that was not conditional")
        return known[2]
    body, kind, validators = answer
    data = bytes(body)
    if "html" in kind.lower() or data.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        raise ScriptNotFoundError(url, f"{shown(url)}: an HTML page, not a Python script (for a "
                                  "file on a forge, use its raw URL)")
    if record_path is not None and root is not None and any(validators):
        try:
            copy = layout.runnable_copy(root, data)
            layout.write_atomic(record_path, json.dumps(
                {"etag": validators[0], "last-modified": validators[1],
                 "copy": os.path.basename(copy)}))
        except OSError:  # a cache that cannot be written only costs the next run a body
            pass
    return data


def _deadline() -> float:
    """Seconds the download may take: ``PYRUN_URL_TIMEOUT``, else :data:`DEADLINE`."""
    value = os.environ.get("PYRUN_URL_TIMEOUT", "")
    if not value:
        return DEADLINE
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise UsageError(f"PYRUN_URL_TIMEOUT={shown(value)!s}: not a positive number of "
                         "seconds; set it to one (the default is 60) or unset it")
    return seconds


def _check_rule(url: str, first: str) -> None:
    """Refuse ``url`` (``first``, or a redirect from it) unless it is HTTPS, or plain HTTP to
    the loopback interface."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return
    where = "" if url == first else f" (redirected to {shown(url)})"
    raise ScriptNotFoundError(first, f"{shown(first)}{where}: a script is fetched over HTTPS "
                              "only (plain HTTP only from this machine's loopback interface)")


def _too_slow(url: str, limit: float) -> NetworkError:
    return NetworkError(f"{shown(url)}: not fetched within {limit:g} s; check the URL and the "
                        "network connection, or allow more time with PYRUN_URL_TIMEOUT",
                        place=shown(url))


def _download(url: str, headers: dict[str, str], limit: float) -> _Answer:
    """``(body, Content-Type, (ETag, Last-Modified))`` of ``url``, redirects followed by hand
    (each checked by :func:`_check_rule`), or None for ``304 Not Modified``."""
    import base64
    import http.client
    import time
    import urllib.error
    import urllib.request
    from urllib.parse import unquote, urljoin

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None  # a 3xx then arrives as an HTTPError, and the loop below follows it

    end = time.monotonic() + limit
    opener = urllib.request.build_opener(NoRedirects())
    current, auth = url, ""
    origin: tuple[str, str, int | None] = ("", "", None)
    for _ in range(MAX_REDIRECTS + 1):
        _check_rule(current, url)
        parts = urlsplit(current)
        where = "" if current == url else f" (redirected to {shown(current)})"
        try:
            if parts.username is not None:  # sent as uv sends it: Basic auth, to this origin
                user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                auth = "Basic " + base64.b64encode(user.encode()).decode()
                origin = (parts.scheme, parts.hostname or "", parts.port)
                current = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
            sent = dict(headers)
            if auth and (parts.scheme, parts.hostname or "", parts.port) == origin:
                sent["Authorization"] = auth
            request = urllib.request.Request(current, headers=sent)
            response: HTTPResponse = opener.open(request, timeout=min(TIMEOUT, limit))
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in _REDIRECTS and exc.headers.get("Location"):
                current = urljoin(current, exc.headers["Location"])
                continue
            if exc.code == 304:
                return None
            hint = ("check the user and password in the URL" if exc.code in (401, 403)
                    else "check the URL")
            raise ScriptNotFoundError(url, f"{shown(url)}{where}: the server answered HTTP "
                                      f"{exc.code} ({shown(str(exc.reason))}); {hint}") from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            reason = shown(str(getattr(exc, "reason", exc)))
            raise NetworkError(f"{shown(url)}{where}: cannot be fetched ({reason}); check the "
                               "URL and the network connection", unreachable=True,
                               place=shown(url)) from None
        with response:
            data = _body(response, url, where, end, limit)
            return (data, response.headers.get("Content-Type", ""),
                    (response.headers.get("ETag", ""), response.headers.get("Last-Modified", "")))
    raise ScriptNotFoundError(url, f"{shown(url)}: more than {MAX_REDIRECTS} redirects (last to "
                              f"{shown(current)}); check the URL")


def _body(response: HTTPResponse, url: str, where: str, end: float, limit: float) -> bytearray:
    """The body of ``response``: refused when larger than :data:`MAX_BYTES`, shorter than its
    ``Content-Length``, or still arriving at ``end`` (``time.monotonic()``)."""
    import http.client
    import time

    declared = response.headers.get("Content-Length", "")
    length = int(declared) if declared.isdigit() else None
    too_large = ScriptNotFoundError(url, f"{shown(url)}{where}: larger than {MAX_BYTES // 2**20} "
                                    "MiB; not a script pyrun runs from a URL")
    if length is not None and length > MAX_BYTES:
        raise too_large
    data = bytearray()
    try:
        while chunk := response.read1(2**16):
            data += chunk
            if len(data) > MAX_BYTES:
                raise too_large
            if time.monotonic() > end:
                raise _too_slow(url, limit)
    except (OSError, http.client.HTTPException) as exc:  # a chunked body cut short, a reset
        if time.monotonic() > end:
            raise _too_slow(url, limit) from None
        raise _short(url, where, f"{len(data)} bytes arrived, then {shown(str(exc))}") from None
    if length is not None and len(data) < length:
        raise _short(url, where, f"{len(data)} of the {length} bytes its Content-Length "
                     "announced arrived")
    return data


def _short(url: str, where: str, what: str) -> NetworkError:
    return NetworkError(f"{shown(url)}{where}: the download was cut short ({what}); nothing "
                        "was run; try again, or check the server", place=shown(url))


def _known(record_path: str | None) -> tuple[str, str, bytes] | None:
    """``(etag, last-modified, content)`` of an earlier fetch, or None when there is no
    usable record (missing, damaged, or its copy gone or altered: then the body is fetched)."""
    if record_path is None:
        return None
    record = layout.read_marker(record_path)
    if not record:
        return None
    etag, modified, copy = (record.get(k) for k in ("etag", "last-modified", "copy"))
    if not (isinstance(etag, str) and isinstance(modified, str) and isinstance(copy, str)):
        return None
    if not copy.endswith(".py") or not layout.is_key(copy[:-3]) or not (etag or modified):
        return None
    if any(c < " " for c in etag + modified):
        return None  # never a header split
    try:
        with open(os.path.join(os.path.dirname(record_path), copy), "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError:
        return None
    return (etag, modified, data) if layout.digest(data) + ".py" == copy else None
