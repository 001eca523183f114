"""The docs cannot drift: docs/cli.md is generated from the parsers (regenerate it with
``python -m tests.unit.test_docs``), and every relative link in README.md and docs/ resolves,
anchors included."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    ("pyrun", ["--help"]), ("pyrun init", ["init", "--help"]), ("pyrun add", ["add", "--help"]),
    ("pyrun remove", ["remove", "--help"]), ("pyrun lock", ["lock", "--help"]),
    ("pyrun export", ["export", "--help"]), ("pyrun python", ["python", "--help"]),
    ("pyrun env", ["env", "--help"]), ("pyrun cache", ["cache", "--help"]),
    ("pyrun wsp", ["wsp", "--help"]), ("pyrun completion", ["completion", "--help"]),
]


def cli_reference() -> str:
    """docs/cli.md's text: every command's ``--help``, as the parsers print it."""
    import contextlib
    import io

    from pyrun.cli import main

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal's width
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    out = ["# Command-line reference", "",
           "Generated from pyrun's parsers (`python -m tests.unit.test_docs` writes it; a test",
           "fails when it differs). The other pages explain; this one lists.", "",
           f"<!-- generated with Python {version}: argparse's layout differs between versions -->",
           ""]
    for title, argv in COMMANDS:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            main(argv)
        out += [f"## `{title}`", "", "```", buffer.getvalue().rstrip(), "```", ""]
    if columns is None:
        del os.environ["COLUMNS"]
    else:
        os.environ["COLUMNS"] = columns
    return "\n".join(out)


def test_the_cli_reference_is_generated_from_the_parsers() -> None:
    recorded = re.search(r"generated with Python (\d+\.\d+)",
                         (ROOT / "docs" / "cli.md").read_text(encoding="utf-8"))
    if recorded is None or recorded.group(1) != f"{sys.version_info[0]}.{sys.version_info[1]}":
        pytest.skip("docs/cli.md was generated with another Python's argparse")
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == cli_reference(), (
        "docs/cli.md is stale: run `python -m tests.unit.test_docs`")


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            text = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
            found.add(text)
    return found


def test_every_relative_link_resolves() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # an absolute URL: not checked here (no network in unit tests)
            file, _, anchor = target.partition("#")
            where = (page.parent / file) if file else page
            if not where.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and where.suffix == ".md" and anchor not in _anchors(where):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


if __name__ == "__main__":
    (ROOT / "docs" / "cli.md").write_text(cli_reference(), encoding="utf-8")


def test_the_docs_build_with_mkdocs_in_strict_mode(tmp_path: Path) -> None:
    """The documentation tool builds the site from docs/ (mkdocs.yml), failing on any broken
    link, unlisted page or missing anchor (strict mode)."""
    import subprocess

    pytest.importorskip("mkdocs")
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                          "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "site" / "tutorial" / "index.html").is_file()
