"""Property-based fuzz of the PEP 723 parser (hypothesis): it agrees with the specification's
reference regex, and any input ends in metadata or a MetadataError, never another exception."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrun.errors import MetadataError
from pyrun.script import metadata

#: Lines that matter to the grammar, mixed with arbitrary text.
TRICKY = [
    "# /// script", "# /// script ", "# ///", "# /// ", "#///", "# /// other", "# /// a-b",
    "#", "# ", "#a", "# a = 1", '# dependencies = ["six"]', "# dependencies = [1]",
    '# requires-python = ">=3.9"', "# requires-python = 3", "# [tool.x]", "# x = '''",
    "# '''", "x = 1", "", "    # /// script", "# dependencies = [", "# ]", '# "rich>=1",',
    "# \udc80", "#\t/// script",
]
LINES = st.one_of(st.sampled_from(TRICKY), st.text(max_size=20).map(lambda s: s.replace("\n", "")))
TEXTS = st.lists(LINES, max_size=14).map("\n".join) | st.lists(LINES, max_size=14).map(
    lambda ls: "\n".join(ls) + "\n"
)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXTS)
def test_scanner_matches_the_reference_regex(text: str) -> None:
    expected = [(m.group("type"), text[: m.start()].count("\n"))
                for m in re.finditer(metadata.REFERENCE_REGEX, text)]
    assert [(b.type, b.start) for b in metadata.scan_blocks(text).blocks] == expected


@SETTINGS
@given(TEXTS)
def test_parse_ends_in_metadata_or_a_metadata_error(text: str) -> None:
    scripts = [m for m in re.finditer(metadata.REFERENCE_REGEX, text)
               if m.group("type") == "script"]
    try:
        meta = metadata.parse(text, "x.py")
    except MetadataError as exc:
        assert str(exc).startswith("x.py:") or "x.py" in str(exc)
        return
    # Where the parser accepts, it took exactly the regex's one script block (or none).
    assert len(scripts) <= 1
    assert meta.has_block == bool(scripts)
