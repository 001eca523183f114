"""Locks (issue 11): the lock beside a script (``x.py.lock``) as ``uv run --script`` honours
it, ``pyrun lock``/``export``, ``--locked``/``--frozen``, and running from a ``pylock.toml``
(``--lock``), with real uv and real packages from PyPI."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers import Runner, assert_fails, write


def script(path: Path, requirement: str) -> Path:
    return write(path, f'# /// script\n# dependencies = ["{requirement}"]\n# ///\n'
                       "import six\nprint(six.__version__)\n")


def uv(runner: Runner, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return runner.uv(*args, cwd=cwd)


def test_a_lock_written_by_uv_is_honoured_as_uv_run_honours_it(
    pyrun: Runner, tmp_path: Path
) -> None:
    s = script(tmp_path / "s.py", "six<1.15")
    assert uv(pyrun, "lock", "--script", "s.py", cwd=tmp_path).returncode == 0
    s.write_text(s.read_text().replace("six<1.15", "six"))  # wider: the locked 1.14 still fits
    out = pyrun(str(s))
    assert out.returncode == 0 and out.stdout.strip() == "1.14.0", out.stderr
    theirs = uv(pyrun, "run", "--script", "s.py", cwd=tmp_path)
    assert theirs.stdout.strip() == out.stdout.strip(), theirs.stderr
    no_lock = script(tmp_path / "n.py", "six")  # the same block without a lock: the newest
    assert pyrun(str(no_lock)).stdout.strip() not in ("1.14.0", "")


def test_a_lock_written_by_pyrun_is_honoured_by_uv_and_its_changes_reach_warm_runs(
    pyrun: Runner, tmp_path: Path
) -> None:
    s = script(tmp_path / "s.py", "six<1.15")
    done = pyrun("lock", str(s))
    assert done.returncode == 0 and (tmp_path / "s.py.lock").is_file(), done.stderr
    assert uv(pyrun, "run", "--script", "s.py", cwd=tmp_path).stdout.strip() == "1.14.0"
    s.write_text(s.read_text().replace("six<1.15", "six"))  # now only the lock says 1.14
    frozen = uv(pyrun, "run", "--frozen", "--script", "s.py", cwd=tmp_path)
    assert frozen.stdout.strip() == "1.14.0", frozen.stderr  # uv read pyrun's lock
    s.write_text(s.read_text().replace('"six"', '"six<1.15"'))
    assert pyrun(str(s)).stdout.strip() == "1.14.0"
    s.write_text(s.read_text().replace("six<1.15", "six<1.14"))
    assert pyrun("lock", str(s)).returncode == 0
    s.write_text(s.read_text().replace("six<1.14", "six<1.15"))  # the block as before
    warm = pyrun("-v", str(s))  # a new lock, so not the environment of the old one
    assert warm.stdout.strip() == "1.13.0", warm.stderr


def test_locked_fails_on_a_stale_lock_and_frozen_uses_it(pyrun: Runner, tmp_path: Path) -> None:
    s = script(tmp_path / "s.py", "six<1.15")
    assert pyrun("lock", str(s)).returncode == 0
    s.write_text(s.read_text().replace("six<1.15", "six<1.14"))
    stale = pyrun("--locked", str(s))
    assert_fails(stale, 65, f"pyrun lock {s}")
    frozen = pyrun("--frozen", str(s))
    assert frozen.returncode == 0 and frozen.stdout.strip() == "1.14.0", frozen.stderr
    updated = pyrun(str(s))  # as uv run --script: the lock is brought up to date
    assert updated.stdout.strip() == "1.13.0", updated.stderr
    assert 'version = "1.13.0"' in (tmp_path / "s.py.lock").read_text()
    assert pyrun("--locked", str(s)).stdout.strip() == "1.13.0"
    no_lock = script(tmp_path / "n.py", "six")
    missing = pyrun("--frozen", str(no_lock))
    assert missing.returncode == 64 and "pyrun lock" in missing.stderr, missing.stderr


def test_export_writes_a_pylock_that_runs_without_a_resolver(pyrun: Runner, tmp_path: Path) -> None:
    s = script(tmp_path / "s.py", "six<1.15")
    out = pyrun("export", str(s), "-o", str(tmp_path / "pylock.toml"))
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "pylock.toml").read_text()
    assert 'lock-version = "1.0"' in text and 'version = "1.14.0"' in text
    assert not (tmp_path / "s.py.lock").exists()  # exporting writes no uv lock
    run = pyrun("-v", "--lock", str(tmp_path / "pylock.toml"), str(s))
    assert run.returncode == 0 and run.stdout.strip() == "1.14.0", run.stderr
    assert "pip compile" not in run.stderr and "uv export" not in run.stderr  # no resolver
    other = script(tmp_path / "o.py", "attrs")
    refused = pyrun("--lock", str(tmp_path / "pylock.toml"), str(other))
    assert refused.returncode == 65 and "no `attrs`" in refused.stderr, refused.stderr
    bad_name = pyrun("export", str(s), "-o", str(tmp_path / "lock.toml"))
    assert bad_name.returncode == 64 and "pylock.NAME.toml" in bad_name.stderr


def _project(root: Path, name: str, code: str) -> Path:
    """A setuptools project at ``root`` whose package ``name`` holds ``code``."""
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text(code)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0.1"\n[build-system]\n'
        'requires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n')
    return root


def test_path_and_git_sources_are_relative_to_the_script_and_a_directory_rebuilds_as_uvs(
    pyrun: Runner, tmp_path: Path
) -> None:
    from tests.loopback import wheel

    here = tmp_path / "scripts"
    (here / "dist").mkdir(parents=True)
    name, data = wheel("six", "99.1")
    (here / "dist" / name).write_bytes(data)
    repo = _project(tmp_path / "repo", "gitpkg", "WHERE = 'from git'\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "one"]):
        subprocess.run([*git, *args],
                       check=True, capture_output=True)
    s = write(here / "s.py", (
        '# /// script\n# dependencies = ["six", "gitpkg"]\n# [tool.uv.sources]\n'
        f'# six = {{ path = "dist/{name}" }}\n# gitpkg = {{ git = "{repo.as_uri()}" }}\n# ///\n'
        "import gitpkg, six\nprint(six.__version__, gitpkg.WHERE)\n"))
    out = pyrun(str(s), cwd=tmp_path)  # run from elsewhere: the path is the script's
    assert out.returncode == 0 and out.stdout.strip() == "99.1-private from git", out.stderr
    pkg = _project(here / "pkgdir", "pkgdir", "V = 'one'\n")
    d = write(here / "d.py", '# /// script\n# dependencies = ["pkgdir"]\n# [tool.uv.sources]\n'
                             '# pkgdir = { path = "pkgdir" }\n# ///\n'
                             "import pkgdir\nprint(pkgdir.V)\n")
    first = pyrun(str(d), cwd=tmp_path)
    assert first.returncode == 0 and first.stdout.strip() == "one", first.stderr
    (pkg / "pkgdir" / "__init__.py").write_text("V = 'two'\n")
    warm = pyrun("-v", str(d), cwd=tmp_path)  # as uv: only its build files count
    assert warm.stdout.strip() == "one" and "warm" in warm.stderr, warm.stderr
    (pkg / "pyproject.toml").write_text((pkg / "pyproject.toml").read_text() + "\n")
    rebuilt = pyrun(str(d), cwd=tmp_path)
    assert rebuilt.returncode == 0 and rebuilt.stdout.strip() == "two", rebuilt.stderr
    assert "pyproject.toml changed" in rebuilt.stderr


def test_with_on_a_locked_script_never_moves_a_locked_version(
    pyrun: Runner, tmp_path: Path
) -> None:
    s = write(tmp_path / "s.py", '# /// script\n# dependencies = ["six<1.15"]\n# ///\n'
                                 "import idna, six\nprint(six.__version__, idna.__version__)\n")
    assert pyrun("lock", str(s)).returncode == 0
    out = pyrun("--with", "idna<3", str(s))
    assert out.returncode == 0 and out.stdout.split() == ["1.14.0", "2.10"], out.stderr
    clash = pyrun("--with", "six>=1.16", str(s))
    assert_fails(clash, 67)


def test_a_script_without_py_runs_and_locks_beside_itself(pyrun: Runner, tmp_path: Path) -> None:
    s = script(tmp_path / "tool", "six<1.15")
    assert pyrun("lock", str(s)).returncode == 0 and (tmp_path / "tool.lock").is_file()
    out = pyrun("--locked", str(s))
    assert out.returncode == 0 and out.stdout.strip() == "1.14.0", out.stderr


def test_a_script_named_like_an_option_is_locked_and_edited(pyrun: Runner,
                                                            tmp_path: Path) -> None:
    s = script(tmp_path / "-x.py", "six<1.15")
    assert pyrun("lock", "--", s.name, cwd=tmp_path).returncode == 0
    assert (tmp_path / "-x.py.lock").is_file()  # uv read it as the script, not an option
    assert pyrun("add", "--", s.name, "attrs", cwd=tmp_path).returncode == 0
    out = pyrun("--locked", "--", s.name, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "1.14.0", out.stderr
