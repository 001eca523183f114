"""Shared fixtures: one pyrun cache and one uv cache for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import Runner


@pytest.fixture(scope="session")
def pyrun(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    root = tmp_path_factory.mktemp("pyrun-session")
    yield Runner(cache=root / "cache", uv_cache=root / "uv-cache")
