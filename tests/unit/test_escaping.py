"""Everything pyrun shows is escaped (issue 22): control characters from project files, URLs,
servers and package metadata reach the terminal as backslash escapes, never raw."""

from __future__ import annotations

import io

import pytest

from pyrun.errors import UsageError, report
from pyrun.progress import Reporter, escaped

FORGED = "harmless\x1b[2K\r\x1b[1Aall fine\x07\x9b"


@pytest.mark.parametrize("control", [chr(c) for c in [*range(0, 9), *range(11, 32), 127,
                                                       *range(128, 160)]])
def test_every_control_character_is_escaped(control: str) -> None:
    shown = escaped(f"a{control}b")
    assert control not in shown and shown.startswith("a\\") and shown.endswith("b")


def test_text_without_controls_is_unchanged() -> None:
    for text in ["/home/o'brien/x.py", "C:\\Users\\x.py", "naïve – ünïcode ✓", "a\tb\nc"]:
        assert escaped(text) == text


def test_errors_and_progress_lines_are_escaped_and_pyruns_own_colours_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = io.StringIO()
    assert report(UsageError(f"{FORGED}: no such file"), 0, out) == 64
    reporter = Reporter(1, stream=out)
    reporter.warn(FORGED)
    reporter.notice(FORGED)
    reporter.debug(FORGED)
    text = out.getvalue()
    assert "\x1b[2K" not in text and "\r" not in text and "\x07" not in text
    assert text.count("harmless\\033[2K\\r\\033[1Aall fine\\a\\233") == 4
    assert "\x1b[1;31merror:\x1b[0m" in text and "\x1b[1;33mwarning:\x1b[0m" in text


def test_a_right_to_left_override_cannot_reorder_what_is_shown() -> None:
    assert escaped("evil\u202etxt.py") == "evil\\u202etxt.py"
