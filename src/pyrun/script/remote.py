"""Scripts given by URL (``pyrun https://example.org/x.py``), as ``uv run`` takes them: fetched
over HTTPS (plain HTTP only from the loopback interface), with a timeout, a size limit and
redirects followed, then run like a script read from a pipe (a copy in the cache).

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
from urllib.parse import urlsplit

from pyrun import layout
from pyrun.errors import NetworkError, ScriptNotFoundError

#: Seconds to wait for the server before giving up.
TIMEOUT = 30.0
#: The largest script accepted (bytes).
MAX_BYTES = 10 * 2**20

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_url(script: str) -> bool:
    """Whether ``script`` names a script by URL rather than a path."""
    return script.startswith(("https://", "http://"))


def fetch(url: str, root: str | None = None) -> bytes:
    """The script at ``url``; with ``root`` (pyrun's cache, used only when :func:`layout.check_root`
    accepts it), by a conditional request when it was fetched before.

    Raises:
        ScriptNotFoundError: plain HTTP off the loopback interface, an HTTP error (404, ...),
            an HTML page, or more than :data:`MAX_BYTES`; the message says which.
        NetworkError: the server cannot be reached.
    """
    import urllib.error
    import urllib.request

    parts = urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in _LOOPBACK:
        raise ScriptNotFoundError(url, f"{url}: a script is fetched over HTTPS only (plain "
                                  "HTTP only from this machine's loopback interface)")
    headers = {"User-Agent": "pyrun"}
    record_path = None
    if root is not None and layout.check_root(root) is None:
        record = f"url-{layout.digest(url.encode())}.json"
        record_path = os.path.join(root, layout.SCRIPTS, record)
    known = _known(record_path)
    if known is not None:
        headers.update({k: v for k, v in (("If-None-Match", known[0]),
                                          ("If-Modified-Since", known[1])) if v})
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            kind = response.headers.get("Content-Type", "")
            data: bytes = response.read(MAX_BYTES + 1)
            validators = (response.headers.get("ETag", ""),
                          response.headers.get("Last-Modified", ""))
    except urllib.error.HTTPError as exc:
        if exc.code == 304 and known is not None:
            return known[2]
        raise ScriptNotFoundError(url, f"{url}: the server answered HTTP {exc.code} "
                                  f"({exc.reason}); check the URL") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NetworkError(f"{url}: cannot be fetched ({reason}); check the URL and the "
                           "network connection", unreachable=True) from None
    if len(data) > MAX_BYTES:
        raise ScriptNotFoundError(url, f"{url}: larger than {MAX_BYTES // 2**20} MiB; not a "
                                  "script pyrun runs from a URL")
    if "html" in kind.lower() or data.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        raise ScriptNotFoundError(url, f"{url}: an HTML page, not a Python script (for a file on "
                                  "a forge, use its raw URL)")
    if record_path is not None and root is not None and any(validators):
        try:
            copy = layout.runnable_copy(root, data)
            layout.write_atomic(record_path, json.dumps(
                {"etag": validators[0], "last-modified": validators[1],
                 "copy": os.path.basename(copy)}))
        except OSError:  # a cache that cannot be written only costs the next run a body
            pass
    return data


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
