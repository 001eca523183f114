"""What a uv user types works in pyrun (issue 20): uv run's options and subcommands, side by
side with uv where uv has the same; and the messages a newcomer meets beside uv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Runner, write
from tests.loopback import serve_index, wheel

PROBE = ("import json, importlib.metadata as m\n"
         "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()"
         " if d.metadata['Name'] in ('alpha', 'beta', 'six')}, sort_keys=True))\n")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of wheels: alpha 1.0, 2.0 and 3.0rc1; beta 1.0."""
    d = tmp_path_factory.mktemp("wheels")
    for name, data in (wheel("alpha", "1.0"), wheel("alpha", "2.0"), wheel("alpha", "3.0rc1"),
                       wheel("beta", "1.0")):
        (d / name).write_bytes(data)
    return d


def local(wheels: Path) -> list[str]:
    return ["--no-index", "--find-links", str(wheels)]


@pytest.mark.parametrize(("options", "expected"), [
    (["--prerelease", "allow"], {"alpha": "3.0rc1"}),
    (["--resolution", "lowest-direct"], {"alpha": "1.0"}),
    (["--no-build"], {"alpha": "2.0"}),
    (["--exclude-newer", "2999-01-01T00:00:00Z"], {"alpha": "2.0"}),
    (["--no-binary-package", "alpha"], None),  # refused alike: alpha has only wheels here
])
def test_uv_run_settings_have_uvs_effect(pyrun: Runner, tmp_path: Path, wheels: Path,
                                         options: list[str], expected: dict | None) -> None:
    script = write(tmp_path / "a.py", f'# /// script\n# dependencies = ["alpha"]\n# ///\n{PROBE}')
    mine = pyrun(*local(wheels), *options, str(script))
    theirs = pyrun.uv("run", *local(wheels), *options, "--script", str(script))
    if expected is None:
        assert mine.returncode != 0 and theirs.returncode != 0
        assert "alpha" in mine.stderr and "Traceback" not in mine.stderr
        return
    assert mine.returncode == 0, mine.stderr
    assert json.loads(mine.stdout) == json.loads(theirs.stdout.strip().splitlines()[-1]) \
        == expected


def test_with_requirements_and_uvs_no_op_flags(pyrun: Runner, tmp_path: Path, wheels: Path
                                               ) -> None:
    (tmp_path / "base.txt").write_text("beta  # the base\n")
    (tmp_path / "reqs.txt").write_text("# extras\n-r base.txt\nalpha<2 ; python_version >= '3'\n")
    script = write(tmp_path / "w.py", f"# /// script\n# dependencies = []\n# ///\n{PROBE}")
    flags = ["--exact", "--no-project", "--no-sync", "--isolated"]
    mine = pyrun(*local(wheels), *flags, "--with-requirements", str(tmp_path / "reqs.txt"),
                 str(script))
    theirs = pyrun.uv("run", *local(wheels), *flags, "--with-requirements",
                      str(tmp_path / "reqs.txt"), "--script", str(script))
    assert mine.returncode == 0, mine.stderr
    assert json.loads(mine.stdout) == json.loads(theirs.stdout.strip().splitlines()[-1]) \
        == {"alpha": "1.0", "beta": "1.0"}
    for flag in ("--no-sync", "--isolated"):  # uv's own warning, word for word
        said = f"`{flag}` is a no-op for Python scripts with inline metadata"
        assert said in mine.stderr and said in theirs.stderr
    (tmp_path / "bad.txt").write_text("six\n--hash=sha256:00\n")
    out = pyrun("--with-requirements", str(tmp_path / "bad.txt"), str(script))
    assert out.returncode == 64 and f"{tmp_path / 'bad.txt'}:2:" in out.stderr, out.stderr


def test_dash_m_runs_a_module_of_the_with_requirements(pyrun: Runner, tmp_path: Path,
                                                      wheels: Path) -> None:
    (tmp_path / "data.json").write_text('{"b": 1, "a": 2}')
    out = pyrun("-m", "json.tool", "--sort-keys", str(tmp_path / "data.json"))
    theirs = pyrun.uv("run", "--no-project", "-m", "json.tool", "--sort-keys",
                      str(tmp_path / "data.json"))
    assert out.returncode == 0, out.stderr
    assert out.stdout == theirs.stdout and out.stdout.startswith('{\n    "a": 2')
    mod = pyrun(*local(wheels), "--with", "alpha==1.0", "-m", "alpha")
    assert mod.returncode == 0, mod.stderr
    bad = pyrun("-m", "not a module")
    assert bad.returncode == 64 and "dotted identifiers" in bad.stderr


def test_tree_and_export_formats_as_uv_prints_them(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "t.py", '# /// script\n# dependencies = ["six<1.15"]\n# ///\n')
    for mine, theirs in (
        (pyrun("tree", str(script)), pyrun.uv("tree", "--script", str(script))),
        (pyrun("tree", "--outdated", str(script)),
         pyrun.uv("tree", "--outdated", "--script", str(script))),
        (pyrun("export", "--format", "requirements.txt", str(script)),
         pyrun.uv("export", "--format", "requirements.txt", "--no-header", "--script",
                  str(script))),
    ):
        assert mine.returncode == 0, mine.stderr
        assert mine.stdout == theirs.stdout
    assert "six v1.14.0" in pyrun("tree", str(script)).stdout
    assert "latest: v1." in pyrun("tree", "--outdated", str(script)).stdout
    out = pyrun("export", "--format", "requirements.txt", "-o", str(tmp_path / "r.txt"),
                str(script))
    assert out.returncode == 0 and "six==1.14.0" in (tmp_path / "r.txt").read_text()


def test_add_takes_uvs_requirements_file_index_raw_and_frozen(pyrun: Runner, tmp_path: Path
                                                              ) -> None:
    (tmp_path / "r.txt").write_text("six>=1.10\n")
    for tool in ("pyrun", "uv"):
        s = write(tmp_path / f"{tool}.py", "print(1)\n")
        if tool == "pyrun":
            out = pyrun("add", str(s), "-r", str(tmp_path / "r.txt"), "--raw")
            later = pyrun("add", str(s), "--frozen", "no-such-package-zzz")
        else:
            out = pyrun.uv("add", "--script", str(s), "-r", str(tmp_path / "r.txt"), "--raw")
            later = pyrun.uv("add", "--script", str(s), "--frozen", "no-such-package-zzz")
        assert out.returncode == 0 and later.returncode == 0, (out.stderr, later.stderr)
    assert (tmp_path / "pyrun.py").read_text() == (tmp_path / "uv.py").read_text()
    assert '"six>=1.10"' in (tmp_path / "pyrun.py").read_text()
    with serve_index({"six": [wheel("six", "99.0")]}) as url:
        s = write(tmp_path / "i.py", "print(1)\n")
        out = pyrun("add", str(s), "--index", url, "six")
        assert out.returncode == 0, out.stderr
        assert url in s.read_text() and '"six>=99.0"' in s.read_text()


def test_did_you_mean_only_for_close_matches(pyrun: Runner, tmp_path: Path) -> None:
    assert "did you mean --prerelease?" in pyrun("--prerelase", "x.py").stderr
    assert "did you mean" not in pyrun("--pre", "x.py").stderr
    assert "did you mean `pyrun lock`?" in pyrun("lcok").stderr
    assert "did you mean `pyrun tree`?" in pyrun("tre").stderr
    assert "did you mean" not in pyrun("xyz").stderr  # nothing close


def test_messages_name_the_real_cause(pyrun: Runner, tmp_path: Path) -> None:
    git = write(tmp_path / "g.py", '# /// script\n# dependencies = '
                '["foo @ git+https://no-such-host.invalid/x.git"]\n# ///\n')
    out = pyrun(str(git), UV_HTTP_RETRIES="0")
    assert out.returncode == 69, out.stderr
    assert "the git repository https://no-such-host.invalid/x.git/" in out.stderr
    assert "host no-such-host.invalid" in out.stderr and "fatal: unable to access" in out.stderr
    with serve_index({"six": [wheel("six", "99.0")]}, credentials=("u", "p")) as url:
        script = write(tmp_path / "a.py", '# /// script\n# dependencies = ["six"]\n# ///\n')
        out = pyrun("--index-url", url.replace("//", "//u:wrong@"), str(script),
                    UV_HTTP_RETRIES="0")
        assert "lack of valid credentials (HTTP 401)" in out.stderr, out.stderr
        assert "check each requirement's name" not in out.stderr and "wrong" not in out.stderr
    unclosed = write(tmp_path / "u.py", '# /// script\n# dependencies = ["six"]\nprint(1)\n')
    for _ in range(2):  # the second run is warm: warned all the same
        out = pyrun(str(unclosed))
        assert out.returncode == 0 and "is never closed" in out.stderr, out.stderr
    assert "never closed" in pyrun("-vv", str(unclosed)).stderr
    assert "warm" in pyrun("-vv", str(unclosed)).stderr  # -vv says what -v says


def test_a_newcomers_first_commands(pyrun: Runner, tmp_path: Path) -> None:
    bare = pyrun()
    assert bare.returncode == 0 and "usage: pyrun" in bare.stdout and "pyrun tree" in bare.stdout
    version = pyrun("--version")
    assert version.returncode == 0 and "pyrun " in version.stdout and "uv 0." in version.stdout
    wide = pyrun("lock", "--help", COLUMNS="50")
    prose = [line for line in wide.stdout.splitlines()  # not usage's words or the docs URL
             if line.strip() and not line.lstrip().startswith(("[", "usage:", "docs:"))]
    assert prose and max(len(line) for line in prose) <= 60, wide.stdout
    # the documented completion line works in a fresh account's bash
    home = tmp_path / "home"
    home.mkdir()
    bindir = os.path.dirname(sys.executable)
    done = subprocess.run(
        ["bash", "-c", 'eval "$(pyrun completion bash)" && complete -p pyrun'],
        capture_output=True, text=True,
        env={"HOME": str(home), "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
             **{k: v for k, v in os.environ.items() if k == "PYTHONDONTWRITEBYTECODE"}})
    assert done.returncode == 0 and "_pyrun" in done.stdout, done.stderr


def test_with_editable_uses_the_projects_code_where_it_lies(pyrun: Runner, tmp_path: Path,
                                                           wheels: Path) -> None:
    project = tmp_path / "proj"
    (project / "src" / "proj").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0.1"\ndependencies = ["alpha"]\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n')
    code = project / "src" / "proj" / "__init__.py"
    code.write_text("X = 1\n")
    script = write(tmp_path / "e.py", "# /// script\n# dependencies = []\n# ///\n"
                   "import proj, alpha\nprint(proj.X, proj.__file__ == "
                   f"{str(code)!r}, alpha.__version__)\n")
    mine = pyrun("--find-links", str(wheels), "--with-editable", str(project), str(script))
    theirs = pyrun.uv("run", "--find-links", str(wheels), "--with-editable", str(project),
                      "--script", str(script))
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout.split() == theirs.stdout.split()[-3:] == ["1", "True", "2.0-private"]
    code.write_text("X = 2\n")  # an edit shows at once: nothing is rebuilt
    again = pyrun("--find-links", str(wheels), "--with-editable", str(project), str(script))
    assert again.stdout.split()[0] == "2" and "building" not in again.stderr
    bad = pyrun("--with-editable", str(tmp_path), str(script))
    assert bad.returncode == 64 and "not a project directory" in bad.stderr


def test_a_source_switched_between_editable_and_not_is_installed_as_asked(
        pyrun: Runner, tmp_path: Path) -> None:
    """`editable = true` in `[tool.uv.sources]` decides how the directory is installed (a link
    to it, or a built copy), as in uv: switching it gives another pool entry, never the one
    built the other way (the same resolved set otherwise)."""
    project = tmp_path / "localpkg"
    (project / "localpkg").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "localpkg"\nversion = "1.0"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n')
    code = project / "localpkg" / "__init__.py"
    code.write_text("")

    def run(editable: bool) -> str:
        flag = ", editable = true" if editable else ""
        script = write(tmp_path / "s.py", '# /// script\n# dependencies = ["localpkg"]\n'
                       f'# [tool.uv.sources]\n# localpkg = {{ path = "{project}"{flag} }}\n'
                       "# ///\nimport localpkg\nprint(localpkg.__file__)\n")
        out = pyrun(str(script))
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert run(editable=True) == str(code)
    assert run(editable=False) != str(code)  # a built copy, in the pool
    assert run(editable=True) == str(code)
