"""The pool as the place new scripts resolve from: the resolver over pooled metadata
(:mod:`pyrun.engine.poolresolve`), the freshness window and the resolution context
(:mod:`pyrun.engine.freshness`), over pool entries written as pyrun writes them."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from pyrun.engine import freshness
from pyrun.engine.interpreters import Interpreter
from pyrun.engine.pool import entry_key
from pyrun.engine.poolresolve import GiveUp, PoolResolver, read_metadata
from pyrun.engine.resolution import LockedDistribution
from pyrun.errors import UsageError
from pyrun.script.metadata import Editable
from pyrun.store.cache import Cache
from pyrun.store.markers import EntryMarker, write_entry_marker

CONTEXT = "c" * 32
INTERPRETER = Interpreter("/usr/bin/python3.11", Version("3.11.7"), "cpython", "cpython-311",
                          "linux-x86_64", "cpython-311-x86_64-linux-gnu")
MARKERS = {"python_version": "3.11", "python_full_version": "3.11.7",
           "implementation_name": "cpython", "platform_python_implementation": "CPython",
           "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
           "platform_machine": "x86_64", "platform_release": "", "platform_version": "",
           "implementation_version": "3.11.7"}
TAGS = ["cp311-cp311-manylinux_2_17_x86_64", "cp311-abi3-manylinux_2_17_x86_64", "py3-none-any"]


class Pool:
    """A cache whose pool holds entries as pyrun writes them, stamped in :data:`CONTEXT`."""

    def __init__(self, root: Path) -> None:
        self.cache = Cache(root).create()

    def add(self, name: str, version: str, requires: Sequence[str] = (), python: str = "",
            tag: str = "py3-none-any", stamp: bool = True, metadata: bool = True) -> str:
        sha = hashlib.sha256(f"{name}{version}{tag}".encode()).hexdigest()
        url = f"https://files.example/{name}-{version}-{tag}.whl"
        dist = LockedDistribution(name, version, "wheel", url, sha, {})
        key = entry_key(dist, INTERPRETER)
        path = self.cache.pool / key
        info = path / "site-packages" / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        if metadata:
            lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
            lines += [f"Requires-Python: {python}"] if python else []
            lines += [f"Requires-Dist: {r}" for r in requires]
            (info / "METADATA").write_text("\n".join(lines) + "\n\nA description.\n")
        write_entry_marker(path, EntryMarker(name, version, "wheel", url, sha))
        if stamp:
            freshness.Stamps(self.cache.root, CONTEXT).touch([key])
        return key

    def resolve(self, *wanted: str | Editable, limit: float = 86400.0) -> dict[str, str]:
        reqs = [Requirement(w) if isinstance(w, str) else w for w in wanted]
        resolver = PoolResolver(self.cache, CONTEXT, INTERPRETER, (MARKERS, TAGS), limit)
        return {o.dist.name: o.dist.version for o in resolver.resolve(reqs)}


@pytest.fixture
def pool(tmp_path: Path) -> Pool:
    return Pool(tmp_path / "cache")


def test_the_highest_fresh_versions_and_only_the_closure(pool: Pool) -> None:
    pool.add("alpha", "1.0")
    pool.add("alpha", "2.0", requires=["beta>=1"])
    pool.add("beta", "1.0")
    pool.add("beta", "1.5")
    pool.add("gamma", "3.0")  # pooled, never asked for
    assert pool.resolve("alpha") == {"alpha": "2.0", "beta": "1.5"}
    assert pool.resolve("alpha<2") == {"alpha": "1.0"}
    assert pool.resolve("Alpha<2", "GAMMA") == {"alpha": "1.0", "gamma": "3.0"}


def test_a_second_requirement_that_would_choose_otherwise_gives_up(pool: Pool) -> None:
    pool.add("alpha", "1.0", requires=["gamma<2"])
    pool.add("beta", "1.0", requires=["gamma"])
    pool.add("gamma", "1.0")
    pool.add("gamma", "2.0")
    with pytest.raises(GiveUp, match="gamma"):  # consistent, but a resolver might pick beta first
        pool.resolve("alpha", "beta")
    pool.add("delta", "1.0", requires=["gamma>=2"])
    with pytest.raises(GiveUp, match="gamma"):  # a conflict
        pool.resolve("alpha", "delta")
    assert pool.resolve("beta", "delta") == {"beta": "1.0", "delta": "1.0", "gamma": "2.0"}


def test_extras_and_markers_are_evaluated_for_the_interpreter(pool: Pool) -> None:
    pool.add("alpha", "1.0", requires=['beta; extra == "fast"', 'gamma; python_version < "3"',
                                       'delta; python_version >= "3.8"',
                                       'alpha[more]; extra == "all"', 'eps; extra == "more"'])
    for name in ("beta", "gamma", "delta", "eps"):
        pool.add(name, "1.0")
    assert pool.resolve("alpha") == {"alpha": "1.0", "delta": "1.0"}
    assert pool.resolve("alpha[fast]") == {"alpha": "1.0", "beta": "1.0", "delta": "1.0"}
    assert pool.resolve("alpha[all]") == {"alpha": "1.0", "delta": "1.0", "eps": "1.0"}
    assert pool.resolve('alpha; python_version < "3"') == {}


def test_stale_unstamped_and_missing_entries_are_not_offered(pool: Pool) -> None:
    pool.add("alpha", "1.0")
    new = pool.add("alpha", "2.0")
    pool.add("alpha", "3.0", stamp=False)  # in the pool, never chosen in this context
    old = time.time() - 2 * 86400
    os.utime(pool.cache.root / freshness.STAMPS / CONTEXT / new, (old, old))
    assert pool.resolve("alpha") == {"alpha": "1.0"}
    assert pool.resolve("alpha", limit=float("inf")) == {"alpha": "2.0"}  # offline: any age
    freshness.Stamps(pool.cache.root, CONTEXT).touch(["zeta-1.0-" + "0" * 32])  # no entry
    with pytest.raises(GiveUp, match="no zeta"):
        pool.resolve("zeta")


def test_tags_requires_python_and_prereleases_choose_the_offers(pool: Pool) -> None:
    pool.add("alpha", "1.0")
    pool.add("alpha", "2.0", tag="cp312-cp312-manylinux_2_17_x86_64")  # another Python's
    pool.add("alpha", "1.5", python=">=3.12")
    pool.add("alpha", "1.2", tag="cp311-cp311-manylinux_2_17_x86_64")
    pool.add("alpha", "1.2", tag="cp311-abi3-manylinux_2_17_x86_64")
    resolver = PoolResolver(pool.cache, CONTEXT, INTERPRETER, (MARKERS, TAGS), 86400.0)
    offers = resolver.offers("alpha")
    assert [str(o.version) for o in offers] == ["1.2", "1.0"]
    assert "cp311-cp311" in offers[0].dist.url  # the best-tagged artifact of 1.2
    pool.add("beta", "2.0b1")
    pool.add("beta", "1.0")
    assert pool.resolve("beta") == {"beta": "1.0"}
    with pytest.raises(GiveUp, match="pre-release"):
        pool.resolve("beta>=2.0b1")
    with pytest.raises(GiveUp, match="pre-release"):
        pool.resolve("beta>1.0")


def test_what_the_pool_cannot_settle_gives_up(pool: Pool, tmp_path: Path) -> None:
    pool.add("alpha", "1.0", metadata=False)
    with pytest.raises(GiveUp, match="metadata"):
        pool.resolve("alpha")
    with pytest.raises(GiveUp, match="direct reference"):
        pool.resolve("beta @ https://example.com/beta-1.0-py3-none-any.whl")
    with pytest.raises(GiveUp, match="not a requirement"):
        pool.resolve(Editable(str(tmp_path)))


def test_a_resolution_names_each_entry_by_its_own_pool_key(pool: Pool) -> None:
    key = pool.add("alpha", "1.0")
    resolver = PoolResolver(pool.cache, CONTEXT, INTERPRETER, (MARKERS, TAGS), 86400.0)
    (offer,) = resolver.resolve([Requirement("alpha")])
    assert entry_key(offer.dist, INTERPRETER) == key
    assert offer.dist.package["wheels"][0]["hashes"]["sha256"] == offer.dist.sha256


def test_metadata_headers_are_read_with_folded_lines(tmp_path: Path) -> None:
    info = tmp_path / "Foo_Bar-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Foo_Bar\nRequires-Python: >=3.8,\n"
                                   " <4\nRequires-Dist: six\nRequires-Dist: idna;\n"
                                   '  extra == "x"\n\nRequires-Dist: not-a-header\n')
    assert read_metadata(tmp_path, "foo-bar") == (">=3.8, <4", ["six", 'idna; extra == "x"'])
    assert read_metadata(tmp_path, "other") is None


def test_a_folded_field_with_a_line_of_blanks_does_not_end_the_header(tmp_path: Path) -> None:
    """matplotlib 3.11's ``License`` is folded over many lines, some of them only blanks (an
    empty line of the licence): its ``Requires-Dist`` come after it (a pool resolution once
    left them out, and the environment lacked ``packaging``)."""
    info = tmp_path / "matplotlib-3.11.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: matplotlib\nLicense: License agreement\n"
        "         =====\n         \n         1. This LICENSE AGREEMENT\n\t\n"
        "Requires-Python: >=3.11\nRequires-Dist: packaging>=20.0\n"
        "Requires-Dist: pyparsing>=3\n\nthe description\n")
    assert read_metadata(tmp_path, "matplotlib") == (">=3.11",
                                                    ["packaging>=20.0", "pyparsing>=3"])


def test_the_window_is_read_from_its_variable() -> None:
    assert freshness.window({}) == freshness.DEFAULT_WINDOW == 86400
    assert freshness.window({"PYRUN_POOL_FRESHNESS": "12h"}) == 43200
    assert freshness.window({"PYRUN_POOL_FRESHNESS": " 0 "}) == 0
    for bad in ("-1", "1y", "soon", "nan", "inf"):
        with pytest.raises(UsageError, match="PYRUN_POOL_FRESHNESS"):
            freshness.window({"PYRUN_POOL_FRESHNESS": bad})


def test_the_context_is_where_the_index_is_and_nothing_else(tmp_path: Path) -> None:
    script = str(tmp_path / "x.py")
    quiet = {"XDG_CONFIG_HOME": str(tmp_path / "none"), "XDG_CONFIG_DIRS": str(tmp_path / "n")}
    plain, why = freshness.context(script, quiet)
    assert plain and not why
    assert freshness.context(script, {**quiet, "UV_OFFLINE": "1", "UV_CACHE_DIR": "/x"})[0] \
        == plain
    private = freshness.context(script, {**quiet, "UV_INDEX_URL": "http://127.0.0.1/simple"})[0]
    assert private and private != plain
    assert freshness.context(script, {**quiet, "UV_RESOLUTION": "lowest"}) == \
        ("", "UV_RESOLUTION is set")
    (tmp_path / "uv.toml").write_text('index-url = "http://127.0.0.1/simple"\n')
    assert freshness.context(script, quiet)[0] not in ("", plain)
    (tmp_path / "uv.toml").write_text('exclude-newer = "2024-01-01T00:00:00Z"\n')
    assert freshness.context(script, quiet) == ("", "the project configuration sets "
                                                "`exclude-newer`")
    assert freshness.context(script, {**quiet, "UV_NO_CONFIG": "1"})[0] == plain


def test_a_dependency_only_for_an_extra_is_told_by_its_text(pool: Pool) -> None:
    pool.add("alpha", "1.0", requires=["beta ; extra == 'Fast_Path'", 'gamma; extra=="x" ',
                                       'delta; extra == "x" and python_version >= "3"',
                                       "not a requirement; extra == 'never'"])
    for name in ("beta", "gamma", "delta"):
        pool.add(name, "1.0")
    assert pool.resolve("alpha") == {"alpha": "1.0"}  # the broken one is never parsed
    assert pool.resolve("alpha[fast-path]") == {"alpha": "1.0", "beta": "1.0"}
    assert pool.resolve("alpha[x]") == {"alpha": "1.0", "gamma": "1.0", "delta": "1.0"}
    with pytest.raises(GiveUp, match="pool entry alpha-1.0"):
        pool.resolve("alpha[never]")


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


def test_the_plan_asks_the_pool_only_where_it_may_answer(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from pyrun.engine.options import RunOptions
    from pyrun.engine.poolfirst import plan
    from pyrun.engine.request import BuildRequest
    from pyrun.progress import Reporter
    from pyrun.script.metadata import ScriptMetadata
    from pyrun.script.uvsettings import UvSettings

    for name in ("PYRUN_POOL_FRESHNESS", "UV_OFFLINE", "UV_RESOLUTION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    cache = Cache(tmp_path / "cache").create()

    def asked(options: RunOptions = RunOptions(), settings: UvSettings | None = None,
              installer: str = "uv") -> tuple[bool, bool] | None:
        settings = settings if settings is not None else UvSettings()
        request = BuildRequest(str(tmp_path / "x.py"), ScriptMetadata(path="x.py"), options,
                               lambda: "k", Reporter(-1), cache)
        found = plan(request, settings, _Named(installer))  # type: ignore[arg-type]
        return None if found is None else (found.asks, found.offline)

    assert asked() == (True, False)
    assert asked(RunOptions(upgrade=True)) == asked(RunOptions(refresh=True)) == (False, False)
    assert asked(RunOptions(upgrade_packages=("six",))) == (False, False)  # still stamps
    assert asked(RunOptions(offline=True)) == (True, True)
    assert asked(RunOptions(no_cache=True)) is None
    assert asked(installer="pip") is None
    assert asked(settings=UvSettings(table={"exclude-newer": "2024-01-01"})) is None
    assert asked(settings=UvSettings(command_line={"index-url": "http://x/simple"})) is None
    monkeypatch.setenv("UV_OFFLINE", "true")
    assert asked() == (True, True)
    monkeypatch.setenv("PYRUN_POOL_FRESHNESS", "0")
    assert asked() == (False, True)
    monkeypatch.setenv("UV_RESOLUTION", "lowest")
    assert asked() is None
