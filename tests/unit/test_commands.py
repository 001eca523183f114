"""Installed commands (``pyrun install``) without uv: the command file (its quoting, run by a
real ``/bin/sh``; its mark), the names and directories it accepts, the atomic write that never
replaces a file pyrun did not write, and the cache's records and references
(:mod:`pyrun.store.commands`)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pyrun.errors import OutputError, UsageError
from pyrun.store import commands
from pyrun.store.cache import Cache
from pyrun.store.markers import Reference, read_reference, write_reference

#: Paths a shell would split, expand or end early if they were quoted wrongly.
AWKWARD = ["my jobs", "it's", 'say "hi"', "$HOME", "`id`", "a\\b", "semi;colon", "new\nline",
           "*", "-dash", "ünï"]


@pytest.mark.parametrize("name", ["report", "my-tool", "job.v2", "x_1", "ünïcode", "a" * 255])
def test_good_names(name: str) -> None:
    assert commands.check_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "-rf", ".hidden", "a/b", "a\\b", "a b",
                                  "tab\there", "new\nline", "esc\x1b[2J", "rtl\u202eexe",
                                  "zero\u200bwidth", "nul\0", "a" * 256, "é" * 128])
def test_bad_names_are_refused_with_a_usage_error(name: str) -> None:
    with pytest.raises(UsageError, match="cannot name a command"):
        commands.check_name(name)


def test_default_names() -> None:
    assert commands.default_name("/x/report.py") == "report"
    assert commands.default_name("/x/tool") == "tool"
    assert commands.default_name("/x/archive.tar") == "archive.tar"
    assert commands.default_name("/x/.py") == ".py"  # then refused by check_name


def test_the_directory_follows_uv_s_convention(tmp_path: Path) -> None:
    home = str(tmp_path)
    assert commands.bin_dir({"HOME": home}) == tmp_path / ".local" / "bin"
    assert commands.bin_dir({"HOME": home, "XDG_DATA_HOME": "/d/share"}) == Path("/d/bin")
    assert commands.bin_dir({"HOME": home, "XDG_DATA_HOME": "relative"}) == \
        tmp_path / ".local" / "bin"  # relative XDG paths are ignored, as uv ignores them
    assert commands.bin_dir({"HOME": home, "XDG_BIN_HOME": "/xb", "XDG_DATA_HOME": "/d"}) == \
        Path("/xb")
    assert commands.bin_dir({"HOME": home, "UV_TOOL_BIN_DIR": "/uv", "XDG_BIN_HOME": "/xb"}) \
        == Path("/uv")
    assert commands.bin_dir({"HOME": home, "PYRUN_BIN_DIR": "/p", "UV_TOOL_BIN_DIR": "/uv"}) \
        == Path("/p")


def _fake_pyrun(tmp_path: Path, name: str) -> Path:
    """A stand-in for pyrun that prints the arguments it got and the cache it would use."""
    where = tmp_path / name
    where.mkdir(parents=True)
    fake = where / "pyrun"
    fake.write_text("import json, os, sys\n"
                    "print(json.dumps([sys.argv[1:], os.environ.get('PYRUN_CACHE_DIR')]))\n")
    return fake


@pytest.mark.parametrize("awkward", AWKWARD)
def test_the_command_passes_every_path_and_argument_as_one_word(tmp_path: Path,
                                                                awkward: str) -> None:
    fake = _fake_pyrun(tmp_path, f"pyrun {awkward}")
    script = tmp_path / f"script {awkward}.py"
    cache = tmp_path / f"cache {awkward}"
    command = tmp_path / "cmd"
    command.write_bytes(commands.command_text([sys.executable, str(fake), "--python",
                                               f"/py {awkward}"], str(script), str(cache)))
    command.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([str(command), awkward, "two words", ""], env=env,
                         capture_output=True, text=True, check=True)
    argv, cache_dir = json.loads(out.stdout)
    assert argv == ["--python", f"/py {awkward}", str(script), awkward, "two words", ""]
    assert cache_dir == str(cache)
    # the cache a user names wins over the one it was installed from
    out = subprocess.run([str(command)], env={**env, "PYRUN_CACHE_DIR": "/elsewhere"},
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)[1] == "/elsewhere"
    found = commands.read_command(command)
    assert found == commands.CommandFile(str(script), str(cache))


def test_a_file_without_the_mark_is_not_pyrun_s(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.write_bytes(commands.command_text(["/py", "/pyrun"], "/s.py", "/c"))
    assert commands.read_command(mine) is not None
    other = tmp_path / "other"
    other.write_text("#!/bin/sh\necho hello\n")
    assert commands.read_command(other) is None
    spoof = tmp_path / "spoof"  # the mark on another line, or after another shebang
    spoof.write_text('#!/bin/bash\n# pyrun-command: {"script": "/s.py"}\n\n')
    assert commands.read_command(spoof) is None
    link = tmp_path / "link"
    link.symlink_to(mine)
    assert commands.read_command(link) is None
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert commands.read_command(fifo) is None  # and it did not block
    assert commands.read_command(tmp_path) is None
    assert commands.read_command(tmp_path / "missing") is None


def test_place_never_replaces_a_file_pyrun_did_not_write(tmp_path: Path) -> None:
    text = commands.command_text(["/py", "/pyrun"], "/s.py", "/c")
    theirs = tmp_path / "report"
    theirs.write_text("#!/bin/sh\necho their own\n")
    with pytest.raises(OutputError, match="was not written by `pyrun install`"):
        commands.place(theirs, text)
    assert theirs.read_text() == "#!/bin/sh\necho their own\n"
    target = tmp_path / "elsewhere"
    target.write_text("precious")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OutputError):
        commands.place(link, text)
    assert link.is_symlink() and target.read_text() == "precious"
    with pytest.raises(OutputError):
        commands.remove(theirs)
    assert theirs.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "link", "report"]


def test_place_writes_0755_whatever_the_umask_and_replaces_its_own(tmp_path: Path) -> None:
    target = tmp_path / "report"
    old = os.umask(0o077)
    try:
        commands.place(target, commands.command_text(["/py", "/pyrun"], "/a.py", "/c"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    commands.place(target, commands.command_text(["/py", "/pyrun"], "/b.py", "/c"))
    assert commands.read_command(target) == commands.CommandFile("/b.py", "/c")
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temporary file left
    commands.remove(target)
    assert not target.exists()


def test_a_directory_others_can_write_to_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(OutputError, match="everyone can write to it"):
        commands.check_directory(shared)
    made = tmp_path / "new" / "bin"
    commands.check_directory(made)
    assert made.is_dir()


def _references(cache: Cache) -> list[Reference]:
    found = [read_reference(p) for p in sorted(cache.refs.iterdir())]
    return sorted((r for r in found if r is not None), key=lambda r: str(r.prefix))


def test_records_references_and_following_the_script(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache").create()
    script = tmp_path / "job.py"
    script.write_text("print(1)\n")
    command = tmp_path / "bin" / "job"
    command.parent.mkdir()
    commands.place(command, commands.command_text(["/py", "/pyrun"], str(script), "/c"))
    first, second = cache.envs / "e1", cache.envs / "e2"
    write_reference(cache.refs, Reference(first, (), tmp_path / ".python-envs"))  # not ours
    installed = commands.Installed("job", command, str(script), first, 1.0, "/py")
    commands.record(cache, installed)
    assert commands.installed(cache) == [installed]
    assert [(r.prefix, r.listed_in) for r in _references(cache)].count((first, command)) == 1
    # a build of the script for another interpreter, or of another script: not followed
    commands.follow(cache, str(script), second, "/other-python")
    commands.follow(cache, str(tmp_path / "other.py"), second, "/py")
    assert commands.installed(cache)[0].environment == first
    # a build for its interpreter (the block changed): the command needs the new environment
    link = tmp_path / "link.py"
    link.symlink_to(script)
    commands.follow(cache, str(link), second, "/py")
    assert commands.installed(cache)[0].environment == second
    held = [(r.prefix, r.listed_in) for r in _references(cache)]
    assert (second, command) in held and (first, command) not in held
    assert (first, tmp_path / ".python-envs") in held  # another holder's is kept
    commands.forget(cache, command)
    assert commands.installed(cache) == []
    assert [(r.prefix, r.listed_in) for r in _references(cache)] == \
        [(first, tmp_path / ".python-envs")]


def test_damaged_records_are_skipped(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache").create()
    (cache.root / commands.COMMANDS).mkdir()
    (cache.root / commands.COMMANDS / "a.json").write_text("{not json")
    (cache.root / commands.COMMANDS / "b.json").write_text('{"name": 3}')
    (cache.root / commands.COMMANDS / "c.json").write_text("[]")
    assert commands.installed(cache) == []


def test_a_build_looks_for_commands_where_they_are_recorded() -> None:
    from pyrun.engine import records

    assert records.COMMANDS == commands.COMMANDS


def test_the_launcher_is_this_pyrun_by_absolute_paths(tmp_path: Path) -> None:
    """The command starts the pyrun that installed it: its interpreter and its ``pyrun``
    script; without one, ``-c`` with the working directory dropped from ``sys.path`` first, so
    that a ``pyrun`` folder where the command runs cannot stand in for pyrun."""
    from pyrun import __version__
    from pyrun.engine.installing import LAUNCH, launcher

    found = launcher()
    assert found[0] == os.path.abspath(sys.executable) and all(os.path.isabs(w) or w == "-c"
                                                               for w in found[:2])
    planted = tmp_path / "pyrun"
    planted.mkdir()
    (planted / "__init__.py").write_text("raise SystemExit('planted pyrun imported')\n")
    (planted / "cli.py").write_text("raise SystemExit('planted pyrun imported')\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    out = subprocess.run([sys.executable, "-c", LAUNCH, "--version"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith(f"pyrun {__version__}"), out.stderr
