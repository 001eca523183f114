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
    ("pyrun export", ["export", "--help"]), ("pyrun tree", ["tree", "--help"]),
    ("pyrun outdated", ["outdated", "--help"]), ("pyrun upgrade", ["upgrade", "--help"]),
    ("pyrun install", ["install", "--help"]), ("pyrun uninstall", ["uninstall", "--help"]),
    ("pyrun list", ["list", "--help"]), ("pyrun bundle", ["bundle", "--help"]),
    ("pyrun python", ["python", "--help"]),
    ("pyrun env", ["env", "--help"]), ("pyrun cache", ["cache", "--help"]),
    *[(f"pyrun cache {name}", ["cache", name, "--help"])
      for name in ("dir", "info", "prune", "clean", "verify", "seed")],
    ("pyrun wsp", ["wsp", "--help"]), ("pyrun wsp init", ["wsp", "init", "--help"]),
    ("pyrun completion", ["completion", "--help"]),
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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site the documentation tool builds from docs/ (mkdocs.yml), as Read the Docs does,
    failing on any broken link, unlisted page or missing anchor (strict mode)."""
    import subprocess

    pytest.importorskip("mkdocs")
    where = tmp_path_factory.mktemp("docs") / "site"
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                          "-f", str(ROOT / "mkdocs.yml"), "-d", str(where)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return where


def test_the_docs_build_with_mkdocs_in_strict_mode(site: Path) -> None:
    assert (site / "tutorial" / "index.html").is_file()
    assert (site / "cli" / "index.html").is_file()


def _helps() -> dict[str, str]:
    """``{command: its --help}`` for every parser pyrun has, sub-parsers included."""
    import argparse
    import importlib

    from pyrun.cli import COMMANDS, command_module

    parsers = [command_module(name).parser(name)
               for name, *_ in COMMANDS]
    for name, *_ in COMMANDS:  # commands with a module of their own under one (wsp init)
        for nested, module in getattr(command_module(name), "NESTED", {}).items():
            parsers.append(importlib.import_module(module).parser(nested))
    helps = {}
    while parsers:
        parser = parsers.pop()
        helps[parser.prog] = parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += action.choices.values()
    return helps


def test_every_help_ends_with_a_link_to_its_own_section_of_the_published_docs(
        site: Path) -> None:
    """Every ``--help`` (``pyrun cache clean --help`` too) links to the published docs: its
    command's section of the generated command-line reference, an id that exists in the built
    site; and every other link in a help text names a page the site has."""
    from pyrun import DOCS_URL

    helps = _helps()
    assert set(cli_name for cli_name, _ in COMMANDS) == set(helps), (
        "a parser's help is missing from docs/cli.md (add it to COMMANDS)")
    for prog, text in helps.items():
        last = text.rstrip().splitlines()[-1]
        assert last == f"docs: {DOCS_URL}cli/#{prog.replace(' ', '-')}", prog
        for url in re.findall(r"https://\S+", text):
            assert url.startswith(DOCS_URL), url
            page, _, anchor = url[len(DOCS_URL):].partition("#")
            html = (site / page / "index.html").read_text(encoding="utf-8")
            assert not anchor or f'id="{anchor}"' in html, url


def test_the_docs_url_is_the_one_read_the_docs_publishes() -> None:
    """pyrun.DOCS_URL, mkdocs.yml's site_url and pyproject.toml's Documentation URL agree, and
    .readthedocs.yaml builds mkdocs.yml with the docs extra that names mkdocs."""
    from pyrun import DOCS_URL

    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["urls"]["Documentation"] == DOCS_URL
    assert any(r.startswith("mkdocs") for r in project["optional-dependencies"]["docs"])
    mkdocs = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert f"\nsite_url: {DOCS_URL}\n" in mkdocs
    rtd = (ROOT / ".readthedocs.yaml").read_text(encoding="utf-8")
    assert re.search(r"^mkdocs:\n  configuration: mkdocs.yml$", rtd, re.M)
    assert re.search(r"extra_requirements:\n\s+- docs$", rtd, re.M)
