"""Every decision uv makes about a script is uv's (issue 20): pyrun and ``uv run --script`` run
side by side on the same script, in the same directory, with the same ``PATH`` and variables,
and must agree.

The interpreter: ``requires-python`` in every form (open, bounded, ``==3.X``, ``==3.X.*``),
``.python-version`` (and one that ``requires-python`` rules out), ``UV_PYTHON``, ``--python``.
Two installed CPythons are put on ``PATH`` in a chosen order (older first), so that "the
first match in uv's discovery order" and "the highest installed" give different answers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pyrun.engine.interpreters import Interpreter, InterpreterFinder
from pyrun.progress import Reporter
from tests.helpers import Runner, assert_fails, write

#: What each tool's run prints: the version and the real base interpreter.
PROBE = ("import os, sys\n"
         "print('.'.join(map(str, sys.version_info[:3])), "
         "os.path.realpath(getattr(sys, '_base_executable', sys.executable)))\n")


@pytest.fixture(scope="module")
def two_pythons(tmp_path_factory: pytest.TempPathFactory) -> tuple[Interpreter, Interpreter]:
    """Two installed CPythons of different minor versions, older first, neither the one
    running the tests when that can be had."""
    finder = InterpreterFinder(tmp_path_factory.mktemp("finder"), Reporter(-1))
    by_minor: dict[int, Interpreter] = {}
    for i in sorted(finder.installed(), key=lambda i: i.version):
        if i.implementation == "cpython" and i.version.major == 3 and i.version.minor >= 9 \
                and not i.version.is_prerelease:
            by_minor[i.version.minor] = i
    mine = sys.version_info[1]
    minors = [m for m in by_minor if m != mine] or list(by_minor)
    if len(minors) < 2:
        pytest.skip("needs two CPython minor versions (3.9 or newer) installed")
    return by_minor[minors[0]], by_minor[minors[-1]]


def bin_dir(where: Path, interp: Interpreter) -> Path:
    """A directory holding only ``python3`` and ``python3.X`` for ``interp``."""
    d = where / f"bin-{interp.short_version}"
    d.mkdir(exist_ok=True)
    for name in ("python3", f"python{interp.short_version}"):
        if not (d / name).exists():
            (d / name).symlink_to(interp.executable)
    return d


@pytest.fixture()
def side_by_side(pyrun: Runner, tmp_path: Path, two_pythons: tuple[Interpreter, Interpreter]):
    """``compare(block_lines, *options, **variables)``: the script run by both tools in
    ``tmp_path/work`` with the older Python's directory first on ``PATH``, then the newer's;
    returns ``(pyrun's line, uv's line, pyrun's stderr, uv's stderr)``."""
    older, newer = two_pythons
    path = os.pathsep.join([str(bin_dir(tmp_path, older)), str(bin_dir(tmp_path, newer)),
                            os.environ.get("PATH", "")])
    work = tmp_path / "work"
    work.mkdir()
    count = [0]

    def compare(block: str, *options: str, **variables: str) -> tuple[str, str, str, str]:
        count[0] += 1
        # a block of this test's own (a comment in it): pyrun reuses the environment another
        # test built for the same block under another PATH, as uv reuses one that still fits
        script = write(work / f"s{count[0]}.py", f"# /// script\n{block}# dependencies = []  "
                       f"# {tmp_path.name}\n# ///\n{PROBE}")
        env = {"PATH": path, "UV_PYTHON_DOWNLOADS": "never", **variables}
        mine = pyrun(*options, str(script), cwd=work, **env)
        theirs = pyrun.uv("run", *options, "--script", str(script), cwd=work, **env)
        assert theirs.returncode == 0, theirs.stderr[-2000:]
        assert mine.returncode == 0, mine.stderr
        return mine.stdout.strip(), theirs.stdout.strip(), mine.stderr, theirs.stderr

    return compare


@pytest.mark.parametrize("form", ["open", "bounded", "exact-minor", "minor-wildcard"])
def test_requires_python_picks_what_uv_picks(
    side_by_side, two_pythons: tuple[Interpreter, Interpreter], form: str
) -> None:
    older, newer = two_pythons
    spec = {"open": ">=3.9", "bounded": f">={older.short_version},<4",
            "exact-minor": f"=={older.short_version}",
            "minor-wildcard": f"=={newer.short_version}.*"}[form]
    mine, theirs, err, uv_err = side_by_side(f'# requires-python = "{spec}"\n')
    assert mine == theirs
    expected = newer if form == "minor-wildcard" else older  # the first on PATH, not the highest
    assert mine.split()[0] == str(expected.version)
    if form == "exact-minor" and older.version.micro:  # ==3.X is 3.X.0: uv warns, runs 3.X.Y
        assert "incompatible with the script's Python requirement" in uv_err
        assert "incompatible with the script's Python requirement" in err


def test_python_version_file_is_read_as_uv_reads_it(
    side_by_side, two_pythons: tuple[Interpreter, Interpreter], tmp_path: Path
) -> None:
    older, newer = two_pythons
    (tmp_path / "work" / ".python-version").write_text(f"# pinned\n{newer.short_version}\n")
    mine, theirs, _, _ = side_by_side('# requires-python = ">=3.9"\n')
    assert mine == theirs and mine.split()[0] == str(newer.version)
    # one that requires-python rules out is ignored, by both
    (tmp_path / "work" / ".python-version").write_text(f"{older.short_version}\n")
    mine, theirs, _, _ = side_by_side(f'# requires-python = ">={newer.short_version}"\n')
    assert mine == theirs and mine.split()[0] == str(newer.version)


def test_python_version_file_changes_a_warm_run(
    pyrun: Runner, side_by_side, two_pythons: tuple[Interpreter, Interpreter], tmp_path: Path
) -> None:
    older, newer = two_pythons
    first, _, _, _ = side_by_side('# requires-python = ">=3.9"\n')
    assert first.split()[0] == str(older.version)
    (tmp_path / "work" / ".python-version").write_text(f"{newer.short_version}\n")
    script = tmp_path / "work" / "s1.py"  # the same script again, now with a version file
    again = pyrun(str(script), cwd=tmp_path / "work",
                  PATH=os.pathsep.join([str(tmp_path / f"bin-{older.short_version}"),
                                        str(tmp_path / f"bin-{newer.short_version}"),
                                        os.environ["PATH"]]))
    assert again.returncode == 0, again.stderr
    assert again.stdout.split()[0] == str(newer.version)


def test_uv_python_and_python_option_win_as_in_uv(
    side_by_side, two_pythons: tuple[Interpreter, Interpreter]
) -> None:
    older, newer = two_pythons
    mine, theirs, _, _ = side_by_side('# requires-python = ">=3.9"\n',
                                      UV_PYTHON=newer.short_version)
    assert mine == theirs and mine.split()[0] == str(newer.version)
    mine, theirs, _, _ = side_by_side('# requires-python = ">=3.9"\n', "--python",
                                      newer.short_version)
    assert mine == theirs and mine.split()[0] == str(newer.version)
    # a request requires-python rules out: uv warns and runs it; so does pyrun
    mine, theirs, err, uv_err = side_by_side(f'# requires-python = ">={newer.short_version}"\n',
                                             "--python", older.short_version)
    assert mine == theirs and mine.split()[0] == str(older.version)
    warning = "The requested interpreter resolved to Python"
    assert warning in uv_err and warning in err


# -- upgrades ---------------------------------------------------------------------------------

def locked_versions(lock: Path) -> dict[str, str]:
    """``{name: version}`` of the packages of a script's lock (``x.py.lock``)."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    return {p["name"]: p["version"] for p in data["package"] if "version" in p}


TWO = ("# /// script\n# dependencies = [{deps}]\n# ///\n"
       "import six, idna\nprint(six.__version__, idna.__version__)\n")


def widened(path: Path) -> Path:
    """A script locked at old versions of six and idna whose block then admits newer ones."""
    return write(path, TWO.format(deps='"six", "idna"'))


@pytest.mark.parametrize("how", [("-U",), ("-P", "six"), ("--upgrade-package", "idna")])
def test_lock_upgrades_as_uv_lock_upgrades(pyrun: Runner, tmp_path: Path, how: tuple[str, ...]
                                           ) -> None:
    results = []
    for tool in ("pyrun", "uv"):
        d = tmp_path / tool
        d.mkdir()
        script = write(d / "s.py", TWO.format(deps='"six<1.15", "idna<3"'))
        assert pyrun.uv("lock", "--script", str(script)).returncode == 0
        widened(script)
        out = (pyrun("lock", *how, str(script)) if tool == "pyrun"
               else pyrun.uv("lock", *how, "--script", str(script)))
        assert out.returncode == 0, out.stderr
        results.append(locked_versions(d / "s.py.lock"))
    assert results[0] == results[1]
    mine = results[0]
    assert (mine["six"] != "1.14.0") == (how[-1] in ("-U", "six"))
    assert (mine["idna"] != "2.10") == (how[-1] in ("-U", "idna"))


def test_an_upgraded_run_of_a_locked_script_rewrites_its_lock_as_uv_run_does(
    pyrun: Runner, tmp_path: Path
) -> None:
    for tool in ("pyrun", "uv"):
        d = tmp_path / tool
        d.mkdir()
        script = write(d / "s.py", TWO.format(deps='"six<1.15", "idna<3"'))
        assert pyrun.uv("lock", "--script", str(script)).returncode == 0
        widened(script)
        plain = pyrun(str(script)) if tool == "pyrun" else pyrun.uv("run", "--script",
                                                                    str(script))
        assert plain.stdout.split()[-2:] == ["1.14.0", "2.10"]  # the lock still fits: kept
        refreshed = (pyrun("--refresh", str(script)) if tool == "pyrun"
                     else pyrun.uv("run", "--refresh", "--script", str(script)))
        assert refreshed.stdout.split()[-2:] == ["1.14.0", "2.10"]  # --refresh keeps pins
        up = (pyrun("-P", "six", str(script)) if tool == "pyrun"
              else pyrun.uv("run", "-P", "six", "--script", str(script)))
        assert up.returncode == 0, up.stderr
        assert up.stdout.split()[-1] == "2.10" and up.stdout.split()[-2] != "1.14.0"
        assert locked_versions(d / "s.py.lock")["six"] == up.stdout.split()[-2]
        again = pyrun(str(script)) if tool == "pyrun" else pyrun.uv("run", "--script",
                                                                    str(script))
        assert again.stdout.split()[-2:] == up.stdout.split()[-2:]  # from the rewritten lock


def test_upgrade_package_keeps_the_other_versions_of_the_recorded_environment(
    pyrun: Runner, tmp_path: Path
) -> None:
    from tests.loopback import wheel

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name, data in (wheel("alpha", "1.0"), wheel("beta", "1.0")):
        (wheels / name).write_bytes(data)
    script = write(tmp_path / "ab.py", "# /// script\n# dependencies = [\"alpha\", \"beta\"]\n"
                   "# [tool.uv]\n# no-index = true\n# find-links = [\"./wheels\"]\n# ///\n"
                   "import alpha, beta\nprint(alpha.__version__, beta.__version__)\n")
    assert pyrun(str(script)).stdout.split() == ["1.0-private", "1.0-private"]
    assert pyrun.uv("run", "--script", str(script)).stdout.split()[-2:] == [
        "1.0-private", "1.0-private"]
    before = wheels.stat().st_mtime_ns
    for name, data in (wheel("alpha", "2.0"), wheel("beta", "2.0")):
        (wheels / name).write_bytes(data)
    # once in six full runs uv's -P run did not see the new wheels (pyrun's did); the likely
    # cause is a cached reading of the directory while its timestamp is unchanged: moved a
    # second on, so that writes within one timestamp tick of uv's last read cannot hide them
    os.utime(wheels, ns=(before + 10**9, before + 10**9))
    mine = pyrun("-P", "alpha", str(script))
    theirs = pyrun.uv("run", "-P", "alpha", "--script", str(script))
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout.split() == theirs.stdout.split()[-2:] == ["2.0-private", "1.0-private"]
    assert pyrun("-U", str(script)).stdout.split() == ["2.0-private", "2.0-private"]


def test_a_2024_pin_runs_from_wheels_on_the_python_uv_picks(pyrun: Runner, tmp_path: Path
                                                            ) -> None:
    """numpy 1.26.4 has wheels up to CPython 3.12: on the highest Python installed (3.13, say)
    it would build from source for minutes; on the one uv picks it installs in seconds."""
    import time

    script = write(tmp_path / "np.py", '# /// script\n# requires-python = ">=3.9"\n'
                   '# dependencies = ["numpy==1.26.4"]\n# ///\n'
                   "import os, sys, numpy\nprint(numpy.__version__, os.path.realpath("
                   "getattr(sys, '_base_executable', sys.executable)))\n")
    started = time.monotonic()
    mine = pyrun(str(script))
    elapsed = time.monotonic() - started
    assert mine.returncode == 0, mine.stderr
    assert "building" not in mine.stderr  # from a wheel
    theirs = pyrun.uv("run", "--script", str(script))
    assert theirs.returncode == 0, theirs.stderr[-2000:]
    assert mine.stdout.split() == theirs.stdout.split()[-2:]
    assert mine.stdout.split()[0] == "1.26.4"
    assert elapsed < 120, f"{elapsed:.0f} s"


def test_a_build_from_source_says_which_python_and_how_to_choose_another(
    pyrun: Runner, tmp_path: Path
) -> None:
    """A failed build names the interpreter and --python (numba 0.60 refuses Python 3.13 in
    its setup.py: the sdist is what a 3.13 resolution gets)."""
    finder = InterpreterFinder(tmp_path / "finder", Reporter(-1))
    newest = [i for i in finder.installed() if (i.version.major, i.version.minor) == (3, 13)]
    if not newest:
        pytest.skip("needs CPython 3.13")
    script = write(tmp_path / "nb.py", '# /// script\n# dependencies = ["numba==0.60.0"]\n'
                   "# ///\nimport numba\n")
    out = pyrun("--python", str(newest[0].executable), str(script))
    assert out.returncode in (67, 71), out.stderr
    assert f"for Python {newest[0].version} at {newest[0].executable}" in out.stderr
    assert "to choose another: pyrun --python 3.X" in out.stderr
    assert "Traceback (most recent call last):\n  File \"" not in out.stderr.split("uv said")[0]


def test_python_preference_only_managed_is_not_escaped(
    pyrun: Runner, tmp_path: Path, two_pythons: tuple[Interpreter, Interpreter]
) -> None:
    """With no uv-managed Python installed, uv refuses a script that asks for one only; pyrun
    does not run it on a pyenv Python instead (a real script's table, found by the corpus)."""
    managed = tmp_path / "managed"  # empty: no uv-managed Python
    managed.mkdir()
    script = write(tmp_path / "m.py", '# /// script\n# requires-python = ">=3.9"\n'
                   '# dependencies = []\n# [tool.uv]\n# python-preference = "only-managed"\n'
                   "# ///\nprint(1)\n")
    env = {"UV_PYTHON_INSTALL_DIR": str(managed), "UV_PYTHON_DOWNLOADS": "never"}
    mine = pyrun(str(script), **env)
    theirs = pyrun.uv("run", "--script", str(script), **env)
    assert theirs.returncode != 0
    assert_fails(mine, 68, "only-managed")


def _pyenv_versions() -> list[str]:
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    shims = os.path.join(root, "shims")
    if shims not in os.environ.get("PATH", "").split(os.pathsep):
        return []
    try:
        return sorted((v for v in os.listdir(os.path.join(root, "versions"))
                       if v.startswith("3.") and v.count(".") == 2 and v.replace(".", "").isdigit()
                       and int(v.split(".")[1]) >= 9), key=lambda v: tuple(map(int, v.split("."))))
    except OSError:
        return []


@pytest.mark.parametrize("selection", ["global", "one", "two", "system"])
def test_pyenv_shims_answer_as_they_would_for_uv(pyrun: Runner, tmp_path: Path,
                                                 selection: str) -> None:
    """pyrun gives uv a PATH where pyenv's shims are replaced by what they would run (uv runs
    a shim, about 200 ms, to learn what is behind it); uv's answer must not change."""
    versions = _pyenv_versions()
    if len(versions) < 2:
        pytest.skip("needs pyenv's shims on PATH and two pyenv versions")
    env = {"global": {}, "one": {"PYENV_VERSION": versions[-1]},
           "two": {"PYENV_VERSION": f"{versions[0]}:{versions[-1]}"},
           "system": {"PYENV_VERSION": "system"}}[selection]
    compared = 0
    for spec in (">=3.9", f">={versions[-1].rsplit('.', 1)[0]}"):
        # a block of its own (a comment in it): the same block built by another test, under
        # another PATH, would be reused, as uv reuses an environment that still fits
        script = write(tmp_path / f"s{len(spec)}.py", f'# /// script\n# requires-python = '
                       f'"{spec}"\n# dependencies = []  # pyenv {selection}\n# ///\n{PROBE}')
        theirs = pyrun.uv("python", "find", "--no-python-downloads", f"--script={script}",
                          cwd=tmp_path, **env)
        mine = pyrun(str(script), cwd=tmp_path, **env)
        if theirs.returncode != 0:  # uv found none (a shim of a version not selected failed)
            continue  # pyrun's own search answers then, tested elsewhere
        assert mine.returncode == 0, mine.stderr
        assert mine.stdout.split()[1] == os.path.realpath(theirs.stdout.strip()), (spec, env)
        compared += 1
    assert compared, "uv answered none of the requests"
