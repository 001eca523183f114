"""Scripts given by URL (``pyrun https://example.org/x.py``), as ``uv run`` takes them: fetched
once per run over HTTPS (plain HTTP only from the loopback interface), with a timeout, a size
limit and redirects followed, then run like a script read from a pipe (a copy in the cache).

Standard library only (``urllib``); imported only when a script is a URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pyrun.errors import NetworkError, ScriptNotFoundError

#: Seconds to wait for the server before giving up.
TIMEOUT = 30.0
#: The largest script accepted (bytes).
MAX_BYTES = 10 * 2**20

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_url(script: str) -> bool:
    """Whether ``script`` names a script by URL rather than a path."""
    return script.startswith(("https://", "http://"))


def fetch(url: str) -> bytes:
    """The script at ``url``.

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
    request = urllib.request.Request(url, headers={"User-Agent": "pyrun"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            kind = response.headers.get("Content-Type", "")
            data: bytes = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
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
    return data
