"""Every error a user can cause: one clear message, a documented exit code, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Runner, assert_fails, sigint_at_default, write


def check(out: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert_fails(out, code, *needles)
    assert out.stderr.startswith("pyrun: error: "), out.stderr


def test_bad_metadata(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "bad.py",
                   'import os\n# /// script\n# dependencies = ["rich>>1"]\n# ///\n')
    check(pyrun(str(script)), 65, f"{script}:3:19", "'rich>>1'")


def test_bad_toml_and_verbose_traceback(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "toml.py", "# /// script\n# dependencies = [rich]\n# ///\n")
    check(pyrun(str(script)), 65, f"{script}:2:", "invalid TOML")
    verbose = pyrun("-v", str(script))
    assert verbose.returncode == 65 and "Traceback" in verbose.stderr


def test_unknown_package(pyrun: Runner, tmp_path: Path) -> None:
    name = "pyrun-surely-no-such-package-0xdeadbeef"
    script = write(tmp_path / "unknown.py", f'# /// script\n# dependencies = ["{name}"]\n# ///\n')
    check(pyrun(str(script)), 67, name, "cannot be satisfied")


def test_no_matching_python(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "future.py", '# /// script\n# requires-python = ">=4.1"\n# ///\n')
    check(pyrun(str(script)), 68, "'>=4.1'", "found ",
          f"{sys.version_info[0]}.{sys.version_info[1]}")
    check(pyrun("--python", "2.1", str(script)), 68, "--python 2.1")


def test_missing_script_and_usage(pyrun: Runner, tmp_path: Path) -> None:
    check(pyrun(str(tmp_path / "nope.py")), 66, "no such file")
    check(pyrun(str(tmp_path)), 66, "is a directory")
    check(pyrun("--bogus", "x.py"), 64, "unrecognized arguments: --bogus")


def test_no_network(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "net.py", '# /// script\n# dependencies = ["six"]\n# ///\n')
    env = {"UV_CACHE_DIR": str(tmp_path / "empty-uv-cache"), "UV_HTTP_RETRIES": "0",
           "PYRUN_CACHE_DIR": str(tmp_path / "cache")}  # not another test's environment
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        out = subprocess.run(
            [unshare, "-rn", sys.executable, "-m", "pyrun", str(script)],
            capture_output=True, text=True, env=pyrun.env(**env),
        )
    else:  # pragma: no cover - no network namespaces: an index nobody listens on
        out = pyrun(str(script), UV_INDEX_URL="http://127.0.0.1:9/simple", **env)
    check(out, 69, "cannot be reached", "six")


@pytest.mark.parametrize("flag", ["--offline"])
def test_offline_without_cache(pyrun: Runner, tmp_path: Path, flag: str) -> None:
    script = write(tmp_path / "off.py", '# /// script\n# dependencies = ["six"]\n# ///\n')
    out = pyrun(flag, str(script), UV_CACHE_DIR=str(tmp_path / "empty-uv-cache"),
                PYRUN_CACHE_DIR=str(tmp_path / "cache"))  # not another test's environment
    check(out, 69, "--offline")


# -- every subcommand's error path: one message, a documented exit code, no traceback ---------


def one_error(out: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    """``check``, and the message is the only ``pyrun: error:`` line."""
    check(out, code, *needles)
    assert out.stderr.count("pyrun: error:") == 1, out.stderr


def non_utf8_listing(directory: Path) -> Path:
    listing = directory / ".python-envs"
    listing.write_bytes(b"envs/caf\xe9\n")
    return listing


def test_usage_errors_are_one_line_on_every_subcommand(pyrun: Runner) -> None:
    for argv in (["--bogus", "x.py"], ["-p"], ["cache", "frobnicate"],
                 ["cache", "prune", "--unused-for", "soon"], ["python"], ["env", "x.py"],
                 ["wsp", "--bogus"], ["wsp", "run"], ["lock"], ["--locked", "--frozen", "x.py"]):
        out = pyrun(*argv)
        one_error(out, 64, "--help")
        assert out.stderr.count("\n") == 1, (argv, out.stderr)  # not the whole help


def test_help_on_every_subcommand(pyrun: Runner) -> None:
    for argv in (["--help"], ["run", "--help"], ["cache", "--help"], ["cache", "clean", "--help"],
                 ["cache", "info", "--help"], ["python", "--help"], ["env", "--help"],
                 ["wsp", "--help"], ["lock", "--help"], ["export", "--help"], ["init", "--help"],
                 ["add", "--help"], ["remove", "--help"], ["completion", "--help"]):
        out = pyrun(*argv)
        assert out.returncode == 0 and out.stdout.startswith("usage: pyrun"), (argv, out.stderr)


def test_python_env_lock_and_export_errors(pyrun: Runner, tmp_path: Path) -> None:
    one_error(pyrun("python", str(tmp_path / "nope.py")), 66, "no such file")
    one_error(pyrun("lock", str(tmp_path / "nope.py")), 66, "no such file")
    one_error(pyrun("lock", "-", input=""), 66, "beside a script file")
    one_error(pyrun("export", str(tmp_path / "nope.py"), "-o", "a.toml"), 64, "pylock.NAME.toml")
    bad = write(tmp_path / "bad.py", '# /// script\n# dependencies = ["rich>>1"]\n# ///\n')
    one_error(pyrun("env", str(bad), "--record"), 65, "'rich>>1'")


def test_a_python_envs_file_that_is_not_utf8(pyrun: Runner, tmp_path: Path) -> None:
    """The file is someone else's: ``env --record`` refuses to rewrite it (78, naming it);
    ``cache info`` and ``prune`` go on and keep what it may list; the WSP server answers with
    an error naming it."""
    script = write(tmp_path / "s.py", "print('ok')\n")
    cache = tmp_path / "cache"
    first = pyrun("env", str(script), "--record", PYRUN_CACHE_DIR=str(cache))
    assert first.returncode == 0, first.stderr
    listing = non_utf8_listing(tmp_path)
    one_error(pyrun("env", str(script), "--record", PYRUN_CACHE_DIR=str(cache)), 78,
              str(listing), "not UTF-8")
    for argv in (["cache", "info"], ["cache", "prune", "--unused-for", "0"]):
        out = pyrun(*argv, PYRUN_CACHE_DIR=str(cache))
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
        if argv[1] == "info":
            assert f"warning: {listing} is not UTF-8" in out.stderr, out.stderr
    assert len(list((cache / "envs").iterdir())) == 1  # kept: the file may still list it
    served = pyrun("wsp", "environment/list", cwd=tmp_path,
                   PYRUN_CONFIG_DIR=str(tmp_path / "config"))
    one_error(served, 1, "-31901", str(listing))


def test_wsp_params_and_declaration_errors(pyrun: Runner, tmp_path: Path) -> None:
    config = str(tmp_path / "config")
    one_error(pyrun("wsp", "environment/get", "[1]", cwd=tmp_path, PYRUN_CONFIG_DIR=config), 65,
              "PARAMS_JSON")
    (tmp_path / "pyproject.toml").write_text("[workflow]\nwsp = 3\n", encoding="utf-8")
    one_error(pyrun("wsp", "environment/list", cwd=tmp_path, PYRUN_CONFIG_DIR=config), 78,
              "pyproject.toml", "[workflow] wsp must be a table")
    (tmp_path / "pyproject.toml").write_text("workflow = 3\n", encoding="utf-8")
    one_error(pyrun("wsp", "environment/list", cwd=tmp_path, PYRUN_CONFIG_DIR=config), 78,
              "`workflow` must be a table")


def test_no_matching_python_says_what_to_install(pyrun: Runner, tmp_path: Path) -> None:
    script = write(tmp_path / "new.py", '# /// script\n# requires-python = ">=3.99"\n# ///\n')
    check(pyrun(str(script)), 68, "no released Python matches")
    script = write(tmp_path / "future.py", '# /// script\n# requires-python = "==3.15.*"\n# ///\n')
    out = pyrun(str(script))
    if out.returncode == 68:  # no 3.15 here: the message names the command that gets one
        check(out, 68, "uv python install 3.15", "found ")


def test_an_installed_python_too_old_for_pyrun_is_said_to_be(pyrun: Runner, tmp_path: Path) -> None:
    from pyrun.engine.interpreters import InterpreterFinder
    from pyrun.progress import Reporter

    finder = InterpreterFinder(tmp_path, Reporter(-1))
    old = [i for i in finder.query_many(finder.candidates()) if i.short_version == "3.7"]
    if not old:
        pytest.skip("needs an installed Python 3.7")
    script = write(tmp_path / "s.py", "print(1)\n")
    out = pyrun("--python", "3.7", str(script))
    check(out, 68, "Python 3.7", "is installed", "pyrun needs 3.8 or newer")
    assert "install" not in out.stderr.split("is installed")[1]


def test_ctrl_c_cleans_up_then_dies_by_sigint(pyrun: Runner, tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the whole foreground process group: pyrun (paused in the
    middle of a build here) removes what it staged, says so, and ends by SIGINT, so that a
    shell loop around it stops too."""
    import signal

    cache = tmp_path / "cache"
    script = write(tmp_path / "c.py", '# /// script\n# dependencies = ["six"]\n# ///\n')
    proc = subprocess.Popen([sys.executable, "-m", "pyrun", str(script)], text=True,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=sigint_at_default,  # as a shell gives a foreground job
                            env=pyrun.env(PYRUN_CACHE_DIR=str(cache), PYRUN_PAUSE_AT="staged"))
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "paused at staged" in line, line
    os.killpg(proc.pid, signal.SIGINT)
    with proc.stderr:
        rest = proc.stderr.read()
    assert proc.wait(timeout=60) == -signal.SIGINT
    assert "pyrun: interrupted" in rest and "Traceback" not in rest
    leftovers = [p.name for p in (cache / "pool").iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_did_you_mean_for_options_and_subcommands(pyrun: Runner, tmp_path: Path) -> None:
    option = pyrun("--offlin", "x.py")
    assert option.returncode == 64 and "did you mean --offline?" in option.stderr
    sub = pyrun("--frozn", "x.py")
    assert "did you mean --frozen?" in sub.stderr
    typo = pyrun("ad", "x.py", cwd=tmp_path)
    assert typo.returncode == 66 and "did you mean `pyrun add`?" in typo.stderr
    plain = pyrun("nothing-like-it.py", cwd=tmp_path)
    assert plain.returncode == 66 and "did you mean" not in plain.stderr
    choice = pyrun("cache", "clen")  # a sub-command's word, an option's choice
    assert choice.returncode == 64 and "did you mean clean?" in choice.stderr
    assert "did you mean pooled?" in pyrun("--composition", "pooledd", "x.py").stderr
    abbreviated = pyrun("cache", "prune", "--unused-fo", "3")  # never taken for --unused-for
    assert abbreviated.returncode == 64 and "unrecognized arguments: --unused-fo" in (
        abbreviated.stderr)
    assert "did you mean" not in pyrun("completion", "--shel", "bash").stderr  # not --help
    assert "did you mean --unused-for?" in pyrun("cache", "prune", "--unsed-for", "3").stderr


def test_completion_scripts_are_generated_from_the_parsers(pyrun: Runner, tmp_path: Path) -> None:
    bash = pyrun("completion", "bash")
    assert bash.returncode == 0 and subprocess.run(["bash", "-n"], input=bash.stdout,
                                                   text=True).returncode == 0
    (tmp_path / "c.sh").write_text(bash.stdout)
    probe = ('source "$1"; COMP_WORDS=(pyrun lo); COMP_CWORD=1; _pyrun; echo "${COMPREPLY[@]}";'
             ' COMP_WORDS=(pyrun lock --fr); COMP_CWORD=2; _pyrun; echo "${COMPREPLY[@]}"')
    got = subprocess.run(["bash", "-c", probe, "bash", str(tmp_path / "c.sh")],
                         capture_output=True, text=True).stdout.split("\n")
    assert got[0] == "lock" and got[1] == "--frozen"
    zsh, fish = pyrun("completion", "zsh").stdout, pyrun("completion", "fish").stdout
    assert zsh.startswith("#compdef pyrun") and "_pyrun" in zsh
    assert "-l no-cache" in fish and "__fish_use_subcommand" in fish
    assert pyrun("completion", "tcsh").returncode == 64


def test_did_you_mean_for_a_package_the_index_does_not_have(pyrun: Runner,
                                                            tmp_path: Path) -> None:
    """A close name among those this machine has used (uv's cached index pages) is named."""
    used = write(tmp_path / "used.py", '# /// script\n# dependencies = ["attrs"]\n# ///\n')
    assert pyrun(str(used)).returncode == 0
    typo = write(tmp_path / "typo.py", '# /// script\n# dependencies = ["attrss"]\n# ///\n')
    out = pyrun(str(typo))
    assert out.returncode == 67 and "did you mean `attrs` instead of `attrss`?" in out.stderr
    added = pyrun("add", str(used), "attrss")
    assert added.returncode == 67 and "did you mean `attrs`" in added.stderr
