"""Resolving from the pool first (issue 25, point 1), with real uv and an index on the loopback
interface whose releases the test chooses and whose requests it counts: a new script whose
packages the pool holds runs with no request to the index (and with no network at all); what
the pool lacks, what is older than the window, ``PYRUN_POOL_FRESHNESS=0``, ``-U`` and settings
that decide versions go to the index; the set chosen is the one ``uv pip compile`` chooses
from an index holding exactly the pooled versions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Runner, write
from tests.loopback import serve_index, wheel

#: Built once: a wheel's bytes hold its files' times, and two indexes must serve the same ones.
WHEELS = {
    "alpha": [wheel("alpha", "1.0", requires=["beta<1.5"]),
              wheel("alpha", "2.0", requires=["beta>=1", "gamma[x]"])],
    "beta": [wheel("beta", "1.0"), wheel("beta", "1.5"), wheel("beta", "2.5")],
    "gamma": [wheel("gamma", "1.0"), wheel("gamma", "1.1", requires=['delta; extra == "x"'])],
    "delta": [wheel("delta", "1.0"), wheel("delta", "2.0")],
    "omega": [wheel("omega", "1.0")],
}
NAMES = ("alpha", "beta", "gamma", "delta", "omega")
DAY = 86400


class Index:
    """The loopback index, the requests it answered, and a pyrun whose caches are this
    test's own and whose uv resolves from that index (``UV_INDEX_URL``)."""

    def __init__(self, pyrun: Runner, tmp: Path, url: str, requests: list[str]) -> None:
        self.url, self.requests, self.tmp = url, requests, tmp
        self.cache, self.uv_cache = tmp / "cache", tmp / "uv-cache"
        self.runner = Runner(cache=self.cache, uv_cache=self.uv_cache)
        self.count = 0

    def script(self, *requirements: str, table: str = "") -> Path:
        """A new script (a block of its own) requiring ``requirements``; it prints the
        version of each of :data:`NAMES` it can import, ``-`` for the others."""
        self.count += 1
        listed = ", ".join(f'"{r}"' for r in requirements)
        return write(self.tmp / f"s{self.count}.py", (
            f"# /// script\n# dependencies = [{listed}]\n{table}# ///\n"
            "import importlib.util\n"
            f"for name in {NAMES!r}:\n"
            "    found = importlib.util.find_spec(name)\n"
            "    print(name, __import__(name).__version__.split('-')[0] if found else '-')\n"))

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        extra.setdefault("UV_INDEX_URL", self.url)
        return self.runner("-v", *args, **extra)

    def asked(self) -> bool:
        """Whether the index answered a request since the last call."""
        asked = bool(self.requests)
        self.requests.clear()
        return asked

    def age_stamps(self, seconds: float) -> None:
        """Set every stamp back by ``seconds``."""
        then = time.time() - seconds
        for path in (self.cache / "pool-stamps").rglob("*"):
            if path.is_file():
                os.utime(path, (then, then))


def versions(out: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(line.split() for line in out.stdout.splitlines())


def from_pool(out: subprocess.CompletedProcess[str]) -> bool:
    return "from the pool" in out.stderr


@pytest.fixture
def index(pyrun: Runner, tmp_path: Path) -> Iterator[Index]:
    requests: list[str] = []
    with serve_index(WHEELS, requests=requests) as url:
        yield Index(pyrun, tmp_path, url, requests)


def test_a_pooled_subset_runs_without_the_index(index: Index) -> None:
    first = index.run(str(index.script("alpha", "omega")))
    assert versions(first) == {"alpha": "2.0", "beta": "2.5", "gamma": "1.1", "delta": "2.0",
                               "omega": "1.0"}
    assert index.asked() and not from_pool(first)

    subset = index.script("alpha>=1")
    second = index.run(str(subset))
    assert versions(second) == {"alpha": "2.0", "beta": "2.5", "gamma": "1.1", "delta": "2.0",
                                "omega": "-"}  # the closure of what it needs, not the pool
    assert not index.asked() and from_pool(second), second.stderr
    warm = index.run(str(subset))
    assert "pyrun: warm:" in warm.stderr and not index.asked()  # recorded for the warm path
    assert versions(index.run("--with", "omega", str(index.script("gamma")))) == {
        "alpha": "-", "beta": "-", "gamma": "1.1", "delta": "-", "omega": "1.0"}
    assert not index.asked()

    lower = index.run(str(index.script("beta<2")))  # no pooled beta below 2: the index
    assert versions(lower)["beta"] == "1.5" and index.asked() and not from_pool(lower)
    missing = index.run(str(index.script("gamma", "delta<2")))
    assert versions(missing)["delta"] == "1.0" and index.asked()


def test_the_window_decides_and_index_resolutions_refresh_it(index: Index) -> None:
    assert versions(index.run(str(index.script("alpha"))))["alpha"] == "2.0"
    index.asked()
    index.age_stamps(2 * DAY)
    stale = index.run(str(index.script("alpha>=1.1")))
    assert versions(stale)["alpha"] == "2.0" and index.asked() and not from_pool(stale)
    stamps = [p for p in (index.cache / "pool-stamps").rglob("*") if p.is_file()]
    assert stamps and all(time.time() - p.stat().st_mtime < 600 for p in stamps)  # refreshed

    assert versions(index.run(str(index.script("alpha>=1.2"))))["alpha"] == "2.0"
    assert not index.asked()
    never = index.run(str(index.script("alpha>=1.3")), PYRUN_POOL_FRESHNESS="0")
    assert versions(never)["alpha"] == "2.0" and index.asked() and not from_pool(never)
    upgrade = index.run("-U", str(index.script("alpha>=1.4")))
    assert versions(upgrade)["alpha"] == "2.0" and index.asked() and not from_pool(upgrade)

    index.age_stamps(2 * DAY)
    longer = index.run(str(index.script("alpha>=1.5")), PYRUN_POOL_FRESHNESS="3d")
    assert from_pool(longer) and not index.asked()
    bad = index.run(str(index.script("alpha>=1.6")), PYRUN_POOL_FRESHNESS="soon")
    assert bad.returncode == 64 and "PYRUN_POOL_FRESHNESS" in bad.stderr, bad.stderr


def test_settings_that_decide_versions_never_take_the_pool(index: Index, tmp_path: Path) -> None:
    assert versions(index.run(str(index.script("alpha"))))["alpha"] == "2.0"
    index.asked()
    newer = index.run(str(index.script(
        "alpha>=1", table='# [tool.uv]\n# exclude-newer = "2100-01-01T00:00:00Z"\n')))
    assert newer.returncode == 67 and index.asked()  # uv's answer: no file has upload dates
    for table in (f'# [tool.uv]\n# index-url = "{index.url}"\n',
                  '# [tool.uv]\n# resolution = "highest"\n'):
        out = index.run(str(index.script("alpha>=1", table=table)))
        assert out.returncode == 0 and not from_pool(out), (table, out.stderr[-2000:])
    by_option = index.run("--index-url", index.url, str(index.script("alpha>=1")))
    assert by_option.returncode == 0 and not from_pool(by_option), by_option.stderr
    by_variable = index.run(str(index.script("alpha>=1")), UV_RESOLUTION="highest")
    assert by_variable.returncode == 0 and not from_pool(by_variable)
    assert "UV_RESOLUTION is set" in by_variable.stderr

    locked = index.script("alpha>=1")
    assert index.runner("lock", str(locked), UV_INDEX_URL=index.url).returncode == 0
    out = index.run(str(locked))
    assert versions(out)["alpha"] == "2.0" and not from_pool(out), out.stderr

    project = tmp_path / "project"
    project.mkdir()
    write(project / "uv.toml", 'prerelease = "allow"\n')
    inside = write(project / "p.py", index.script("alpha>=1").read_text())
    out = index.run(str(inside))
    assert out.returncode == 0 and not from_pool(out), out.stderr
    assert "the project configuration sets `prerelease`" in out.stderr


def _pins(text: str) -> dict[str, str]:
    return dict(m.groups() for m in re.finditer(r"^([a-z][a-z0-9-]*)==(\S+)$", text, re.M))


def test_the_set_is_what_uv_chooses_from_the_pooled_versions(index: Index,
                                                             tmp_path: Path) -> None:
    for pins in (["alpha==2.0"], ["alpha==1.0"], ["beta==1.5", "gamma==1.0"], ["delta==1.0"]):
        assert index.run(str(index.script(*pins))).returncode == 0
    pooled = {p.name.rsplit("-", 1)[0] for p in (index.cache / "pool").iterdir()}
    assert pooled == {"alpha-1.0", "alpha-2.0", "beta-1.0", "beta-1.5", "beta-2.5",
                      "gamma-1.0", "gamma-1.1", "delta-1.0", "delta-2.0"}
    exact = {name: [w for w in wheels if w[0].split("-")[0] + "-" + w[0].split("-")[1]
                    in pooled] for name, wheels in WHEELS.items()}
    from pyrun.engine.installers.uv import find_uv

    with serve_index(exact) as only_pooled:
        for wanted in (["alpha"], ["alpha<2"], ["gamma[x]", "beta<2"], ["beta>1", "delta"],
                       ["gamma"]):
            out = index.run(str(index.script(*wanted)))
            assert from_pool(out), (wanted, out.stderr[-2000:])
            chosen = _pins(re.search(r"from the pool: (.*)", out.stderr)[1]  # type: ignore[index]
                           .replace(", ", "\n"))
            python = re.search(r"interpreter: (\S+)", out.stderr)[1]  # type: ignore[index]
            uv = subprocess.run(
                [find_uv(), "pip", "compile", "-", "--python", python, "--no-header",
                 "--no-annotate", "--index-url", only_pooled, "--no-config"],
                input="\n".join(wanted) + "\n", capture_output=True, text=True,
                env={**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-compile")}, check=True)
            assert chosen and chosen == _pins(uv.stdout), (wanted, uv.stdout)
        ambiguous = index.run(str(index.script("alpha", "delta<2")))
        assert versions(ambiguous)["delta"] == "1.0" and not from_pool(ambiguous)
        assert "does not settle it" in ambiguous.stderr


def _without_network() -> list[str]:
    unshare = shutil.which("unshare")
    for prefix in (["-rn"], ["--net"]):
        if unshare and subprocess.run([unshare, *prefix, "true"],
                                      capture_output=True).returncode == 0:
            return [unshare, *prefix]
    pytest.skip("needs unshare -rn or --net (network namespaces)")


def test_a_pooled_script_runs_with_no_network_and_no_uv_cache(index: Index,
                                                             tmp_path: Path) -> None:
    isolated = _without_network()
    assert versions(index.run(str(index.script("alpha"))))["alpha"] == "2.0"
    index.asked()
    script = index.script("alpha>=1", "delta")
    out = subprocess.run([*isolated, sys.executable, "-m", "pyrun", "-v", str(script)],
                         capture_output=True, text=True, timeout=300,
                         env=index.runner.env(UV_INDEX_URL=index.url,
                                              UV_CACHE_DIR=str(tmp_path / "empty-uv-cache")))
    assert versions(out)["alpha"] == "2.0" and from_pool(out), out.stderr[-3000:]
    assert not index.asked()


def test_offline_or_unreachable_any_age_answers_with_a_warning(pyrun: Runner,
                                                              tmp_path: Path) -> None:
    requests: list[str] = []
    with serve_index(WHEELS, requests=requests) as url:
        index = Index(pyrun, tmp_path, url, requests)
        assert versions(index.run(str(index.script("alpha"))))["alpha"] == "2.0"
        index.asked()
        index.age_stamps(30 * DAY)
        offline = index.run("--offline", str(index.script("alpha>=1")))
        assert versions(offline)["alpha"] == "2.0" and from_pool(offline)
        assert "offline: running with what the pool holds, chosen by the index more than " \
               "1d ago (alpha==2.0, beta==2.5, delta==2.0, gamma==1.1)" in offline.stderr
        assert not index.asked()
    # the index is gone, and uv's cache is empty: the pool, of any age, with a warning
    gone = index.run(str(index.script("alpha>=1.1")),
                     UV_CACHE_DIR=str(tmp_path / "empty-uv-cache"))
    assert versions(gone)["alpha"] == "2.0" and from_pool(gone)
    assert "cannot be reached: running with what the pool holds" in gone.stderr, gone.stderr
