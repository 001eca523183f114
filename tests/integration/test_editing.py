"""pyrun init / add / remove (issue 14): real-world block shapes round-trip, the rest of the
file is kept byte for byte, and the edited scripts run under pyrun and `uv run --script`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import Runner, assert_fails

SHAPES = {
    "comments and trailing comma": (
        '"""A tool."""\n'
        "# /// script\n"
        "# requires-python = \">=3.9\"  # the oldest we test\n"
        "# dependencies = [\n"
        "#     # pinned for the API\n"
        '#     "six>=1.16",\n'
        "# ]\n"
        "# ///\n"
        "import six\nprint('six', six.__version__)\n"),
    "extras and markers, no trailing newline": (
        "# /// script\n"
        '# dependencies = ["six; python_version >= \'3.8\'", "idna[all]>=3"]\n'
        "# ///\n"
        "import six\nprint('six', six.__version__)"),
    "block below a docstring, CRLF": (
        '"""Doc.\r\n\r\nMore.\r\n"""\r\n'
        "# /// script\r\n"
        '# dependencies = ["six"]\r\n'
        "# ///\r\n"
        "import six\r\nprint('six', six.__version__)\r\n"),
    "no block, shebang and encoding line": (
        "#!/usr/bin/env python3\n"
        "# -*- coding: utf-8 -*-\n"
        "import six\nprint('six', six.__version__)\n"),
}


def uv_run(runner: Runner, script: Path) -> subprocess.CompletedProcess[str]:
    """`uv run --script`, checked to have read the block (:meth:`Runner.uv`)."""
    return runner.uv("run", "--script", str(script))


#: Shapes uv's editor keeps as they are, so that adding a requirement and removing it again
#: gives the original file byte for byte (uv reflows a one-line array to one item per line).
STABLE = {"comments and trailing comma", "byte order mark, no block"}

SHAPES["byte order mark, no block"] = "\ufeffimport six\nprint('six', six.__version__)\n"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_add_then_remove_round_trips(pyrun: Runner, tmp_path: Path, shape: str) -> None:
    text = SHAPES[shape]
    script = tmp_path / "s.py"
    script.write_bytes(text.encode())
    before_code = text.encode().split(b"import six", 1)[1]
    if "no block" in shape:  # the first edit makes the block; from there on it round-trips
        assert pyrun("add", str(script), "six").returncode == 0
        text = script.read_text(encoding="utf-8")
    added = pyrun("add", str(script), "attrs>=21")
    assert added.returncode == 0, added.stderr
    edited = script.read_bytes()
    assert edited.endswith(before_code)  # the code after the block: byte for byte
    assert b'"attrs>=21"' in edited
    if "comments" in shape:
        assert b"# the oldest we test" in edited and b"#     # pinned for the API" in edited
    if "markers" in shape:  # the requirements already there are kept as written
        assert b'"six; python_version >= \'3.8\'"' in edited and b'"idna[all]>=3"' in edited
    if "encoding" in shape:  # the block comes after the shebang and the encoding line
        assert edited.startswith(b"#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n# /// script")
    if "byte order mark" in shape:  # it stays first
        assert edited.startswith(b"\xef\xbb\xbf# /// script\n")
    if "CRLF" in shape:
        assert b"\r\n# ///\r\n" in edited and edited.startswith(b'"""Doc.\r\n')
    ours = pyrun(str(script))
    assert ours.returncode == 0 and ours.stdout.startswith("six "), ours.stderr
    if "byte order mark" in shape:  # uv 0.13 does not see a block right after one: said so
        assert "byte order mark" in added.stderr and "uv run --script" in added.stderr
    else:
        theirs = uv_run(pyrun, script)
        assert theirs.returncode == 0 and ours.stdout == theirs.stdout, theirs.stderr
    removed = pyrun("remove", str(script), "attrs")
    assert removed.returncode == 0, removed.stderr
    assert b"attrs" not in script.read_bytes() and script.read_bytes().endswith(before_code)
    if shape in STABLE:
        assert script.read_bytes() == text.encode()


def test_a_script_in_another_encoding_is_edited_and_kept(pyrun: Runner, tmp_path: Path) -> None:
    """A Latin-1 script (PEP 263): only its block reaches uv, so the rest is kept byte for
    byte and the script runs (uv 0.13 itself cannot edit or run it: it reads scripts as
    UTF-8)."""
    script = tmp_path / "l1.py"
    text = "# -*- coding: latin-1 -*-\nimport six\nprint('caf\xe9', six.__version__)\n"
    script.write_bytes(text.encode("latin-1"))
    added = pyrun("add", str(script), "six")
    assert added.returncode == 0, added.stderr
    edited = script.read_bytes()
    assert edited.startswith(b"# -*- coding: latin-1 -*-\n# /// script\n")
    assert edited.endswith(text.encode("latin-1").split(b"\n", 1)[1])
    ran = pyrun(str(script))
    assert ran.returncode == 0 and ran.stdout.startswith("caf\xe9 "), ran.stderr


def test_init_makes_a_script_both_tools_run(pyrun: Runner, tmp_path: Path) -> None:
    script = tmp_path / "new.py"
    made = pyrun("init", str(script), "-d", "six")
    assert made.returncode == 0, made.stderr
    assert b'"six>=' in script.read_bytes() and b"requires-python" in script.read_bytes()
    assert pyrun(str(script)).stdout == uv_run(pyrun, script).stdout != ""
    again = pyrun("init", str(script))
    assert again.returncode == 64 and "exists already" in again.stderr
    import sys

    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    pinned = tmp_path / "pinned.py"
    assert pyrun("init", str(pinned), "--python", version).returncode == 0
    assert f'# requires-python = ">={version}"\n' in pinned.read_text()


@pytest.mark.parametrize(("bounds", "shape"), [("exact", r'"six==\d+\.\d+\.\d+"'),
                                               ("major", r'"six>=\d+\.\d+\.\d+,<\d+\.0\.0"')])
def test_add_with_bounds(pyrun: Runner, tmp_path: Path, bounds: str, shape: str) -> None:
    import re

    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    added = pyrun("add", str(script), "six", "--bounds", bounds)
    assert added.returncode == 0, added.stderr
    assert re.search(shape, script.read_text()), script.read_text()


@pytest.mark.parametrize(("text", "code", "words"), [
    ("# /// script\n# dependencies = []\n# ///\n# /// script\n# dependencies = []\n# ///\n",
     65, "script"),
    ("# /// script\n# dependencies = []\nprint(1)\n", 65, "never closed"),
])
def test_two_blocks_or_an_unclosed_one_are_refused(pyrun: Runner, tmp_path: Path, text: str,
                                                    code: int, words: str) -> None:
    script = tmp_path / "bad.py"
    script.write_text(text)
    out = pyrun("add", str(script), "six")
    assert_fails(out, code, words)
    assert script.read_text() == text  # untouched


def test_unknown_names_and_packages(pyrun: Runner, tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text('# /// script\n# dependencies = ["six"]\n# ///\n')
    gone = pyrun("remove", str(script), "attrs")
    assert gone.returncode == 64 and "requires six" in gone.stderr
    missing = pyrun("add", str(script), "surely-no-such-package-pyrun-0")
    assert missing.returncode == 67 and "surely-no-such-package-pyrun-0" in missing.stderr
    assert script.read_text() == '# /// script\n# dependencies = ["six"]\n# ///\n'
    bare = tmp_path / "bare.py"  # a failed add makes no block either: the file is untouched
    bare.write_text("print(1)\n")
    assert pyrun("add", str(bare), "surely-no-such-package-pyrun-0").returncode == 67
    assert bare.read_text() == "print(1)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.py", "s.py"]  # no copies left


def test_add_updates_the_lock_beside_the_script(pyrun: Runner, tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text('# /// script\n# dependencies = ["six"]\n# ///\nimport six\n')
    assert pyrun("lock", str(script)).returncode == 0
    assert pyrun("add", str(script), "attrs").returncode == 0
    assert 'name = "attrs"' in (tmp_path / "s.py.lock").read_text()  # as uv add --script does
    assert pyrun("--locked", str(script)).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.py", "s.py.lock"]  # no leftovers


def test_a_script_that_cannot_be_written_is_said_so(pyrun: Runner, tmp_path: Path) -> None:
    """In a read-only directory (a read-only bind mount: root ignores file modes), `add` is
    exit 73 naming the file, with the script untouched; `export -o` to nowhere is 73 too."""
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -rm (user and mount namespaces)")
    import sys

    here = tmp_path / "ro"
    here.mkdir()
    script = here / "s.py"
    text = '# /// script\n# dependencies = ["six"]\n# ///\n'
    script.write_text(text)
    inner = (f"mount --bind {here} {here} && mount -o remount,ro,bind {here} && "
             f"{sys.executable} -m pyrun add {script} attrs; echo add=$?")
    out = subprocess.run(["unshare", "-rm", "sh", "-c", inner], capture_output=True, text=True,
                         env=pyrun.env(), timeout=300)
    assert "add=73" in out.stdout and "cannot be written" in out.stderr, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and script.read_text() == text
    nowhere = pyrun("export", str(script), "-o", str(tmp_path / "no" / "pylock.toml"))
    assert nowhere.returncode == 73 and "cannot be written" in nowhere.stderr


def test_init_a_script_named_like_an_option(pyrun: Runner, tmp_path: Path) -> None:
    made = pyrun("init", "--", "-new.py", cwd=tmp_path)
    assert made.returncode == 0 and (tmp_path / "-new.py").is_file(), made.stderr


def test_odd_but_valid_files_are_edited_in_place(pyrun: Runner, tmp_path: Path) -> None:
    """Lone-CR line endings (the requirement already there is kept, the endings too, and the
    user is told uv cannot see such a block); a script reached through a link (the script is
    edited, the link stays a link); a file whose only block is of another type (a script block
    is added, the other kept); a `# ///` line inside the block's TOML (the block does not end
    there, as the specification's expression reads it)."""
    cr = tmp_path / "cr.py"
    cr.write_bytes(b'# /// script\r# dependencies = ["six"]\r# ///\rimport six\r')
    added = pyrun("add", str(cr), "attrs")
    assert added.returncode == 0 and "lone-CR" in added.stderr, added.stderr
    assert b'"six"' in cr.read_bytes() and b'"attrs>=' in cr.read_bytes()
    assert b"\n" not in cr.read_bytes() and cr.read_bytes().endswith(b"# ///\rimport six\r")

    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "t.py"
    real.write_text("print(1)\n")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert pyrun("add", str(link), "six").returncode == 0
    assert link.is_symlink() and '"six>=' in real.read_text()

    other = tmp_path / "other.py"
    other.write_text("# /// other\n# x = 1\n# ///\nprint(1)\n")
    out = pyrun("add", str(other), "six")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert other.read_text().endswith("# /// other\n# x = 1\n# ///\nprint(1)\n")
    assert other.read_text().startswith("# /// script\n")

    inner = tmp_path / "inner.py"
    inner.write_text('# /// script\n# dependencies = []\n# note = """\n# ///\n# """\n# ///\n'
                     "print(1)\n")
    assert pyrun("add", str(inner), "six").returncode == 0
    assert '# """\n# ///\nprint(1)\n' in inner.read_text() and '"six>=' in inner.read_text()
