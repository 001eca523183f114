"""``pyrun outdated`` and ``pyrun upgrade`` without uv: reading uv tree's output, and raising
a requirement's lower bound (:mod:`pyrun.engine.outdated`, :mod:`pyrun.engine.upgrading`)."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement

from pyrun.engine.outdated import tree_versions
from pyrun.engine.upgrading import raise_lower_bound

#: uv 0.13.9's `uv tree --script x.py --outdated` (roots, then their dependencies drawn below).
TREE = """\
beta v1.0
└── gamma v1.0 (latest: v1.5)
rich[jupyter] v13.9.4 (latest: v14.1.0)
├── markdown-it-py v3.0.0
│   └── mdurl v0.1.2
├── pygments v2.19.2 (extra: jupyter)
└── ipywidgets v8.1.7 (*)
Typing_Extensions v4.12.2
"""


def test_the_tree_s_packages_and_latest_releases() -> None:
    assert tree_versions(TREE, roots_only=True) == {
        "beta": ("1.0", ""), "rich": ("13.9.4", "14.1.0"), "typing-extensions": ("4.12.2", "")}
    every = tree_versions(TREE)
    assert every["gamma"] == ("1.0", "1.5") and every["mdurl"] == ("0.1.2", "")
    assert every["pygments"] == ("2.19.2", "") and every["ipywidgets"] == ("8.1.7", "")
    assert tree_versions("Resolved 3 packages in 9ms\nwarning: something\n") == {}


@pytest.mark.parametrize(("before", "version", "after"), [
    ("six", "1.17.0", "six>=1.17.0"),
    ("six>=1.0", "1.17.0", "six>=1.17.0"),
    ("six>1.0", "1.17.0", "six>=1.17.0"),
    ("six>=1.0,<2", "1.17.0", "six>=1.17.0,<2"),
    ("six!=1.5,>=1.0", "1.17.0", "six>=1.17.0,!=1.5"),
    ("six==1.*", "1.17.0", "six>=1.17.0,==1.*"),
    ("six~=1.2", "1.17.0", "six~=1.17"),
    ("six~=1.2.0", "1.2.5", "six~=1.2.5"),
    ("rich[jupyter,all]>=12; python_version >= '3.8'", "14.1.0",
     'rich[all,jupyter]>=14.1.0; python_version >= "3.8"'),
    ("six>=1.0", "2.0.0+local", "six>=2.0.0"),
    ("six>=1.0", "2.0rc1", "six>=2.0rc1"),
    # nothing to raise
    ("six>=1.17", "1.17.0", None),
    ("six>=2.0", "1.17.0", None),  # not the version uv would give: never written
    ("six~=1.17", "1.17.3", None),
    ("six==1.16.0", "1.16.0", None),
    ("six===1.16.0", "1.16.0", None),
    ("six @ https://example.org/six-1.0-py3-none-any.whl", "1.0", None),
    ("six>=1.0", "not a version", None),
])
def test_raising_a_lower_bound(before: str, version: str, after: str | None) -> None:
    assert raise_lower_bound(Requirement(before), version) == after
