"""PEP 723 parsing: the block scanner against the specification's reference regex, and errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyrun.errors import MetadataError, ScriptNotFoundError
from pyrun.script import metadata

SPEC_EXAMPLE = '''\
# /// some-toml
# embedded-csharp = """
# /// <summary>
# /// text
# ///
# /// </summary>
# public class MyClass { }
# """
# ///
'''

CASES = [
    "",
    "print(1)\n",
    "# /// script\n# dependencies = []\n# ///\n",
    "# /// script\n# dependencies = []\n# ///",  # closing line at end of file, no newline
    "# /// script\n# ///\n",  # no content line: not a block
    "# /// script\n#\n# ///\n",
    "# /// script\n# a = 1\n# ///\n# b = 2\n# ///\nx = 1\n",  # the last `# ///` of the run closes
    "# /// script\n#a = 1\n# ///\n",  # `#a` is not a content line
    "# /// script \n# a = 1\n# ///\n",  # trailing space: not a start line
    "x = 1\n# /// script\n# a = 1\n\n# ///\n",  # blank line breaks the run: unclosed
    "# /// script\n# a = 1\n# ///\n# /// other\n# b = 1\n# ///\n",
    "# /// script\n# a = 1\n# ///\n\n# /// script\n# b = 1\n# ///\n",
    SPEC_EXAMPLE,
    "# /// x\n# /// y\n# a\n# ///\n",
    "#/// script\n# a\n# ///\n",
]


@pytest.mark.parametrize("text", CASES)
def test_scanner_agrees_with_reference_regex(text: str) -> None:
    expected = [
        (m.group("type"), text[: m.start()].count("\n"), m.group("content"))
        for m in re.finditer(metadata.REFERENCE_REGEX, text)
    ]
    got = metadata.scan_blocks(text).blocks
    assert [(b.type, b.start) for b in got] == [(t, s) for t, s, _ in expected]
    for block, (_, _, raw) in zip(got, expected):
        reference = "".join(
            line[2:] if line.startswith("# ") else line[1:]
            for line in raw.splitlines(keepends=True)
        )
        assert block.content == reference


def test_spec_example_is_one_block() -> None:
    blocks = metadata.scan_blocks(SPEC_EXAMPLE).blocks
    assert len(blocks) == 1 and blocks[0].type == "some-toml" and blocks[0].end == 8


def test_valid_block_fields() -> None:
    meta = metadata.parse(
        '# /// script\n# requires-python = ">=3.11"\n# dependencies = ["rich>=13", "Requests"]\n'
        "# [tool.pyrun]\n# x = 1\n# ///\n",
        "x.py",
    )
    assert [str(r) for r in meta.dependencies] == ["rich>=13", "Requests"]
    assert meta.requires_python is not None and "3.11.0" in meta.requires_python
    assert meta.tool == {"pyrun": {"x": 1}}
    assert meta.has_block and meta.warnings == ()


def test_no_block() -> None:
    meta = metadata.parse("print('hi')\n", "x.py")
    assert not meta.has_block and meta.dependencies == () and meta.requires_python is None


def test_two_script_blocks_name_both_lines() -> None:
    text = "# /// script\n# a = 1\n# ///\nx = 1\n# /// script\n# b = 1\n# ///\n"
    with pytest.raises(MetadataError) as info:
        metadata.parse(text, "x.py")
    assert "x.py:5:1" in str(info.value) and "line 1" in str(info.value)


def test_start_line_inside_open_block_names_both_lines() -> None:
    text = "# /// script\n# a = 1\n# /// script\n# b = 1\n# ///\n"
    with pytest.raises(MetadataError) as info:
        metadata.parse(text, "x.py")
    assert "x.py:3:1" in str(info.value) and "line 1" in str(info.value)
    assert "close that block with `# ///` before line 3" in str(info.value)


def test_a_second_block_right_after_a_closed_one_says_why_it_is_inside() -> None:
    """PEP 723's regex ends a block at the last ``# ///`` before a non-comment line, so a
    second block directly below a closed one is inside it: the message says so, not "close
    it"."""
    text = "# /// script\n# a = 1\n# ///\n# /// script\n# b = 1\n# ///\n"
    with pytest.raises(MetadataError) as info:
        metadata.parse(text, "x.py")
    assert "x.py:4:1" in str(info.value) and "the `# ///` on line 3 does not end it" in str(
        info.value) and "blank line before line 4" in str(info.value)


def test_unclosed_block_is_ignored_with_a_warning() -> None:
    meta = metadata.parse('x = 1\n# /// script\n# dependencies = ["rich"]\nprint(x)\n', "x.py")
    assert not meta.has_block and meta.dependencies == ()
    assert len(meta.warnings) == 1 and meta.warnings[0].startswith("x.py:2:1: warning")


def test_invalid_toml_points_at_script_line_and_column() -> None:
    text = "import os\n# /// script\n# dependencies = [rich]\n# ///\n"
    with pytest.raises(MetadataError) as info:
        metadata.parse(text, "x.py")
    message = str(info.value)
    # TOML line 1, column 17 (the `r` of rich) is script line 3, column 19 after the "# ".
    assert message.startswith("x.py:3:19: invalid TOML")
    assert "# dependencies = [rich]" in message and message.rstrip().endswith("^")
    caret_line = message.splitlines()[-1]
    assert caret_line.index("^") - 4 == 18


@pytest.mark.parametrize(
    ("body", "where", "needle"),
    [
        ('# dependencies = ["rich>>1"]\n', "x.py:2:19", "'rich>>1'"),
        ('# dependencies = "rich"\n', "x.py:2:3", "must be a list"),
        ("# dependencies = [3]\n", "x.py:2:3", "not a string"),
        ('# requires-python = "3.11+"\n', "x.py:2:21", "'3.11+'"),
        ("# requires-python = 3\n", "x.py:2:3", "must be a string"),
        ('# tool = "x"\n', "x.py:2:3", "must be a table"),
    ],
)
def test_field_errors_name_the_bad_value(body: str, where: str, needle: str) -> None:
    with pytest.raises(MetadataError) as info:
        metadata.parse(f"# /// script\n{body}# ///\n", "x.py")
    assert str(info.value).startswith(where) and needle in str(info.value)


def test_all_validation_problems_are_gathered() -> None:
    text = '# /// script\n# dependencies = ["a b c"]\n# requires-python = "nope"\n# ///\n'
    with pytest.raises(MetadataError) as info:
        metadata.parse(text, "x.py")
    assert len(info.value.problems) == 2


def test_unknown_field_warns() -> None:
    meta = metadata.parse('# /// script\n# dependecies = ["rich"]\n# ///\n', "x.py")
    assert meta.warnings and "dependecies" in meta.warnings[0]


def test_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_bytes(
        b'\xef\xbb\xbf# /// script\r\n# dependencies = ["rich"]\r\n# ///\r\nprint(1)\r\n')
    meta = metadata.load(path)
    assert [r.name for r in meta.dependencies] == ["rich"]


def test_non_utf8_outside_block_is_fine_inside_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\nprint('caf\xe9')\n")
    assert not metadata.load(path).has_block
    path.write_bytes(b'# /// script\n# dependencies = ["caf\xe9"]\n# ///\n')
    with pytest.raises(MetadataError, match=r"x.py:2:\d+: .*not valid UTF-8"):
        metadata.load(path)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ScriptNotFoundError, match="no such file"):
        metadata.load(tmp_path / "nope.py")
    with pytest.raises(ScriptNotFoundError, match="is a directory"):
        metadata.load(tmp_path)


@pytest.mark.parametrize("escaped", [
    "idna @ https://x.invalid/idna-3.7-py3-none-any.whl\\n--find-links /tmp/evil",
    "idna\\r--index-url http://evil.invalid/simple",
    "idna\\u000b",
    "six\\u007f",
])
def test_a_requirement_with_a_control_character_is_refused(escaped: str) -> None:
    """A line break inside a requirement would reach uv as a line of its own (an option)."""
    text = f'# /// script\n# dependencies = ["{escaped}"]\n# ///\n'
    with pytest.raises(MetadataError, match="control character"):
        metadata.parse(text, "x.py")


def test_parse_requirement_is_the_one_validator() -> None:
    assert str(metadata.parse_requirement("rich>=13")) == "rich>=13"
    for bad in ("-r other.txt", "--index-url=x", "rich\n", ""):
        with pytest.raises(ValueError):
            metadata.parse_requirement(bad)


def test_tool_uv_is_handed_to_uv_whole_as_a_uv_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = ('# /// script\n# dependencies = ["six"]\n# [tool.uv]\n'
            '# exclude-newer = "2020-01-01T00:00:00Z"\n# compile-bytecode = true\n'
            '# python-preference = "only-system"\n# find-links = ["./wheels"]\n'
            '# constraint-dependencies = ["six<1.14"]\n# future-key = 1\n# ///\n')
    monkeypatch.chdir(tmp_path)  # no project configuration above it
    meta = metadata.parse(text, str(tmp_path / "sub" / "x.py"))
    assert meta.uv.compile_options(tmp_path) == []  # nothing translated into options
    config = meta.uv.config()
    assert config == {"exclude-newer": "2020-01-01T00:00:00Z", "compile-bytecode": True,
                      "python-preference": "only-system",
                      "find-links": [str(tmp_path / "sub" / "wheels")],  # from the script's dir
                      "constraint-dependencies": ["six<1.14"], "future-key": 1}
    # the working directory's project configuration is combined below the script's
    (tmp_path / "uv.toml").write_text('exclude-newer = "2030-01-01T00:00:00Z"\n'
                                      'find-links = ["more"]\nnative-tls = true\n')
    config = metadata.parse(text, str(tmp_path / "sub" / "x.py")).uv.config()
    assert config is not None and config["exclude-newer"] == "2020-01-01T00:00:00Z"
    assert config["find-links"] == [str(tmp_path / "sub" / "wheels"), str(tmp_path / "more")]
    assert config["native-tls"] is True
    from pyrun.script.uvconfig import project_args

    with project_args(config) as args:
        assert len(args) == 1 and args[0].startswith("--project=")
        written = Path(args[0].split("=", 1)[1], "uv.toml").read_text()
        assert 'exclude-newer = "2020-01-01T00:00:00Z"' in written
    assert not Path(args[0].split("=", 1)[1]).exists()
    with project_args(None) as args:
        assert args == []


def test_tool_uv_sources_and_indexes_send_the_script_to_uv_export() -> None:
    text = ('# /// script\n# dependencies = ["six"]\n# [[tool.uv.index]]\n# name = "private"\n'
            '# url = "https://example.org/simple"\n# explicit = true\n'
            '# [tool.uv.sources]\n# six = { index = "private" }\n# ///\n')
    meta = metadata.parse(text, "x.py")
    assert meta.uv.script_read
    assert meta.uv.compile_options(Path(".")) == []  # uv reads them from the script itself
    assert meta.uv.index_options() == ["--index=private=https://example.org/simple"]
    assert not metadata.parse('# /// script\n# dependencies = []\n# ///\n', "x.py").uv.script_read


@pytest.mark.parametrize(("table", "words"), [
    ('[tool.uv]\n# sources = "private"', "`sources` must be a table of sources"),
    ('[[tool.uv.index]]\n# name = "a b"\n# url = "https://x/simple"', "`name` must be letters"),
    ('[[tool.uv.index]]\n# name = "p"\n# url = "--find-links=/x"', "p: needs a `url`"),
    ('[tool.uv]\n# index-url = "--find-links=/tmp"', "`index-url` must be a string"),
])
def test_tool_uv_keys_pyrun_reads_itself_are_checked(table: str, words: str) -> None:
    text = f"# /// script\n# dependencies = []\n# {table}\n# ///\n"
    with pytest.raises(MetadataError, match="x.py:") as caught:
        metadata.parse(text, "x.py")
    assert words in str(caught.value)


def test_an_unnamed_index_table_is_uvs_too() -> None:
    """uv accepts ``[[tool.uv.index]]`` with a ``url`` and no ``name`` (a real script does)."""
    text = ('# /// script\n# dependencies = []\n# [[tool.uv.index]]\n'
            '# url = "https://pypi.org/simple"\n# default = true\n# ///\n')
    meta = metadata.parse(text, "x.py")
    assert meta.uv.named_indexes() == ["--index=https://pypi.org/simple"]
