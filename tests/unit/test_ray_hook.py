"""pyrun.ray's hook and field, without Ray: what a driver in a pyrun environment adds to its
job's runtime environment (the plugin itself is tested with a real cluster in
tests/integration/test_ray.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import pyrun.ray


def _dist(site: Path, name: str, version: str, direct: dict[str, object] | None = None) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                                   encoding="utf-8")
    if direct is not None:
        (info / "direct_url.json").write_text(json.dumps(direct), encoding="utf-8")


def _environment(tmp_path: Path) -> tuple[Path, list[str]]:
    """A pyrun cache with one environment whose path holds two pool entries, a distribution
    installed from a URL, and what an import added (Ray's vendored ``thirdparty_files``)."""
    cache = tmp_path / "cache"
    env = cache / "envs" / "k1"
    env_site = env / "lib" / "python3.11" / "site-packages"
    env_site.mkdir(parents=True)
    (env / "pyrun-env.json").write_text("{}", encoding="utf-8")
    six = cache / "pool" / "six-1.16.0-aa" / "site-packages"
    ray = cache / "pool" / "ray-2.60.0-bb" / "site-packages"
    local = cache / "pool" / "tool-1.0-cc" / "site-packages"
    _dist(six, "six", "1.16.0")
    _dist(ray, "ray", "2.60.0")
    _dist(ray / "ray" / "thirdparty_files", "colorama", "0.4.6")
    _dist(local, "tool", "1.0", {"url": "file:///wheels/tool-1.0-py3-none-any.whl",
                                  "archive_info": {}})
    elsewhere = tmp_path / "elsewhere" / "site-packages"
    _dist(elsewhere, "pytest", "8.0")
    path = [str(tmp_path / "hook"), str(env_site), str(six), str(ray), str(local),
            str(ray / "ray" / "thirdparty_files"), str(elsewhere)]
    return env, path


def test_the_field_pins_the_environment_s_distributions_only(tmp_path: Path) -> None:
    env, path = _environment(tmp_path)
    field = pyrun.ray.field(str(env), path)
    assert field is not None
    assert field["requirements"] == ["ray==2.60.0", "six==1.16.0",
                                     "tool @ file:///wheels/tool-1.0-py3-none-any.whl"]
    assert field["format"] == 1 and field["env"] == "k1"
    assert field["python"] == ".".join(map(str, sys.version_info[:3]))


def test_not_a_pyrun_environment(tmp_path: Path) -> None:
    assert pyrun.ray.field(str(tmp_path), []) is None


def test_the_hook_adds_the_field_in_a_pyrun_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env, path = _environment(tmp_path)
    monkeypatch.setattr(sys, "prefix", str(env))
    monkeypatch.setattr(sys, "path", path)
    given = {"env_vars": {"A": "1"}}
    out = pyrun.ray.hook(given)
    assert out["env_vars"] == {"A": "1"} and out["pyrun"] == pyrun.ray.field(str(env), path)
    assert given == {"env_vars": {"A": "1"}}  # a copy
    assert pyrun.ray.hook(None)["pyrun"]["env"] == "k1"
    assert pyrun.ray.hook({"py_executable": "python3"}) == {"py_executable": "python3"}
    assert pyrun.ray.hook({"pyrun": {"x": 1}}) == {"pyrun": {"x": 1}}
    with pytest.raises(ValueError, match="pip"):
        pyrun.ray.hook({"pip": ["six"]})


def test_the_hook_leaves_another_driver_alone(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert pyrun.ray.hook({"pip": ["six"]}) == {"pip": ["six"]}
    assert pyrun.ray.hook(None) == {}


def test_one_uri_per_field() -> None:
    a = {"format": 1, "python": "3.11.7", "requirements": ["six==1.16.0"]}
    b = dict(reversed(list(a.items())))
    assert pyrun.ray.uri_of(a) == pyrun.ray.uri_of(b) != pyrun.ray.uri_of({**a, "python": "3.12"})
    assert pyrun.ray.uri_of(a).startswith("pyrun://")


def test_the_plugin_is_imported_only_when_asked() -> None:
    with pytest.raises(AttributeError):
        pyrun.ray.Other  # type: ignore[attr-defined]  # noqa: B018


def test_a_pool_layer_s_entry_is_the_environment_s_too(tmp_path: Path) -> None:
    """An entry read in place from a pool layer (issue 26) is pinned like the pool's own; a
    site-packages elsewhere without an entry marker is not."""
    from pyrun.layout import ENTRY_MARKER
    from pyrun.ray import runtime

    assert runtime._ENTRY_MARKER == ENTRY_MARKER
    env, path = _environment(tmp_path)
    layer_entry = tmp_path / "layer" / "idna-3.10-dd"
    _dist(layer_entry / "site-packages", "idna", "3.10")
    (layer_entry / ENTRY_MARKER).write_text("{}", encoding="utf-8")
    field = pyrun.ray.field(str(env), [*path, str(layer_entry / "site-packages")])
    assert field is not None and "idna==3.10" in field["requirements"]
    assert "pytest==8.0" not in field["requirements"]
