"""``[tool.uv]`` is read by uv, not translated key by key (issue 20): one test per key that
``uv run --script`` accepts in a script, pyrun and uv side by side on the same script.

Where a key has an effect a test can see (which versions are installed, which Python runs, a
refusal), the test arranges it and both tools must show it; the other keys (network, build,
cache and concurrency settings) must be accepted and change nothing visible, in both tools.
Most scripts resolve from a folder of wheels beside them (``no-index`` and ``find-links``,
themselves keys under test, relative to the script as uv reads them), so the results do not
move with PyPI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import Runner, write
from tests.loopback import serve_index, wheel

#: Prints ``{name: version}`` of the distributions in the script's environment (not uv's own).
PROBE = ("import json, importlib.metadata as m\n"
         "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()"
         " if d.metadata['Name'] in ('alpha', 'beta', 'six')}, sort_keys=True))\n")

#: A folder of wheels: ``alpha`` 1.0, 2.0 and 3.0rc1; ``beta`` 1.0, which requires alpha.
WHEELS = [wheel("alpha", "1.0"), wheel("alpha", "2.0"), wheel("alpha", "3.0rc1"),
          wheel("beta", "1.0", requires=["alpha"])]

LOCAL = '# no-index = true\n# find-links = ["./wheels"]\n'

#: key -> (the [tool.uv] lines, the dependencies, what both must install; None: both must
#: succeed alike, whatever they install).
CASES: dict[str, tuple[str, str, dict[str, str] | None]] = {
    # the ones whose effect shows
    "no-index": (LOCAL, '"alpha"', {"alpha": "2.0"}),
    "find-links": (LOCAL, '"beta"', {"alpha": "2.0", "beta": "1.0"}),
    "prerelease": (LOCAL + '# prerelease = "allow"\n', '"alpha"', {"alpha": "3.0rc1"}),
    "prerelease-package": (LOCAL + '# prerelease-package = { alpha = "allow" }\n', '"alpha"',
                           {"alpha": "3.0rc1"}),
    "resolution": (LOCAL + '# resolution = "lowest-direct"\n', '"alpha"', {"alpha": "1.0"}),
    "constraint-dependencies": (LOCAL + '# constraint-dependencies = ["alpha<2"]\n', '"beta"',
                                {"alpha": "1.0", "beta": "1.0"}),
    "override-dependencies": (LOCAL + '# override-dependencies = ["alpha==1.0"]\n',
                              '"alpha>=2"', {"alpha": "1.0"}),
    "exclude-dependencies": (LOCAL + '# exclude-dependencies = ["alpha"]\n', '"beta"',
                             {"beta": "1.0"}),
    "dependency-metadata": (LOCAL + '# dependency-metadata = [{ name = "beta", version = "1.0",'
                            ' requires-dist = [] }]\n', '"beta"', {"beta": "1.0"}),
    "exclude-newer": ('# exclude-newer = "2020-01-01T00:00:00Z"\n', '"six"', {"six": "1.13.0"}),
    "exclude-newer-package": ('# exclude-newer-package = { six = "2020-01-01T00:00:00Z" }\n',
                              '"six"', {"six": "1.13.0"}),
    "no-binary-package": (LOCAL + '# no-binary-package = ["alpha"]\n', '"alpha"', {}),  # refused
    "no-build": (LOCAL + "# no-build = true\n", '"alpha"', {"alpha": "2.0"}),
    "no-build-package": (LOCAL + '# no-build-package = ["alpha"]\n', '"alpha"',
                         {"alpha": "2.0"}),
    "no-binary": (LOCAL + "# no-binary = true\n", '"alpha"', {}),  # refused: wheels only
    "required-version": ('# required-version = ">=999"\n', '"six"', {}),  # refused by uv
    # accepted alike; nothing a test can see changes
    "python-preference": (LOCAL + '# python-preference = "only-system"\n', '"alpha"', None),
    "python-downloads": (LOCAL + '# python-downloads = "never"\n', '"alpha"', None),
    "index-strategy": (LOCAL + '# index-strategy = "first-index"\n', '"alpha"', None),
    "keyring-provider": (LOCAL + '# keyring-provider = "disabled"\n', '"alpha"', None),
    "fork-strategy": (LOCAL + '# fork-strategy = "fewest"\n', '"alpha"', None),
    "config-settings": (LOCAL + '# config-settings = { editable_mode = "compat" }\n',
                        '"alpha"', None),
    "config-settings-package": (LOCAL + '# config-settings-package = { alpha = { a = "b" } }\n',
                                '"alpha"', None),
    "no-build-isolation": (LOCAL + "# no-build-isolation = true\n", '"alpha"', None),
    "no-build-isolation-package": (LOCAL + '# no-build-isolation-package = ["alpha"]\n',
                                   '"alpha"', None),
    "extra-build-dependencies": (LOCAL + '# extra-build-dependencies = { alpha = ["beta"] }\n',
                                 '"alpha"', None),
    "extra-build-variables": (LOCAL + '# extra-build-variables = { alpha = { X = "1" } }\n',
                              '"alpha"', None),
    "build-constraint-dependencies": (LOCAL + '# build-constraint-dependencies = ["beta<9"]\n',
                                      '"alpha"', None),
    "link-mode": (LOCAL + '# link-mode = "copy"\n', '"alpha"', None),
    "compile-bytecode": (LOCAL + "# compile-bytecode = true\n", '"alpha"', None),
    "no-sources": (LOCAL + "# no-sources = true\n", '"alpha"', None),
    "no-sources-package": (LOCAL + '# no-sources-package = ["alpha"]\n', '"alpha"', None),
    "upgrade": (LOCAL + "# upgrade = true\n", '"alpha"', None),
    "upgrade-package": (LOCAL + '# upgrade-package = ["alpha"]\n', '"alpha"', None),
    "reinstall": (LOCAL + "# reinstall = true\n", '"alpha"', None),
    "reinstall-package": (LOCAL + '# reinstall-package = ["alpha"]\n', '"alpha"', None),
    "torch-backend": (LOCAL + '# torch-backend = "cpu"\n', '"alpha"', None),
    "system-certs": (LOCAL + "# system-certs = true\n", '"alpha"', None),
    "native-tls": (LOCAL + "# native-tls = true\n", '"alpha"', None),
    "allow-insecure-host": (LOCAL + '# allow-insecure-host = ["example.org"]\n', '"alpha"',
                            None),
    "offline": (LOCAL + "# offline = true\n", '"alpha"', None),
    "no-cache": (LOCAL + "# no-cache = true\n", '"alpha"', None),
    "cache-dir": (LOCAL + '# cache-dir = "./uv-cache"\n', '"alpha"', None),
    "preview": (LOCAL + "# preview = false\n", '"alpha"', None),
    "preview-features": (LOCAL + '# preview-features = ["pylock"]\n', '"alpha"', None),
    "concurrent-downloads": (LOCAL + "# concurrent-downloads = 2\n", '"alpha"', None),
    "concurrent-builds": (LOCAL + "# concurrent-builds = 2\n", '"alpha"', None),
    "concurrent-installs": (LOCAL + "# concurrent-installs = 2\n", '"alpha"', None),
    "http-proxy": (LOCAL + '# http-proxy = "http://127.0.0.1:9"\n', '"alpha"', None),
    "https-proxy": (LOCAL + '# https-proxy = "http://127.0.0.1:9"\n', '"alpha"', None),
    "no-proxy": (LOCAL + '# no-proxy = ["localhost"]\n', '"alpha"', None),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder with ``wheels/`` beside its scripts."""
    root = tmp_path_factory.mktemp("tool-uv")
    (root / "wheels").mkdir()
    for name, data in WHEELS:
        (root / "wheels" / name).write_bytes(data)
    return root


def both(pyrun: Runner, folder: Path, name: str, table: str, deps: str
         ) -> tuple[object, object]:
    """Run one script with both tools (from another directory: the table's relative paths
    are the script's); returns the two completed processes."""
    script = write(folder / f"{name}.py", f"# /// script\n# dependencies = [{deps}]\n"
                                          f"# [tool.uv]\n{table}# ///\n{PROBE}")
    elsewhere = folder.parent
    mine = pyrun(str(script), cwd=elsewhere)
    theirs = pyrun.uv("run", "--script", str(script), cwd=elsewhere)
    return mine, theirs


@pytest.mark.parametrize("key", sorted(CASES))
def test_each_key_has_the_effect_uv_gives_it(pyrun: Runner, folder: Path, key: str) -> None:
    table, deps, expected = CASES[key]
    mine, theirs = both(pyrun, folder, key, table, deps)
    assert (mine.returncode == 0) == (theirs.returncode == 0), (mine.stderr, theirs.stderr)
    if expected == {}:  # refused by both, pyrun with uv's reason and no traceback
        assert theirs.returncode != 0 and mine.returncode != 0
        assert "Traceback" not in mine.stderr
        reason = {"required-version": "Required uv version", "no-binary": "alpha",
                  "no-binary-package": "alpha"}[key]
        assert reason in mine.stderr and reason in theirs.stderr
        return
    assert mine.returncode == 0, mine.stderr
    assert json.loads(mine.stdout) == json.loads(theirs.stdout.strip().splitlines()[-1])
    if expected is not None:
        assert json.loads(mine.stdout) == expected


def test_a_changed_table_changes_a_warm_run(pyrun: Runner, folder: Path) -> None:
    script = write(folder / "warm.py", f"# /// script\n# dependencies = [\"alpha\"]\n"
                                       f"# [tool.uv]\n{LOCAL}# ///\n{PROBE}")
    assert json.loads(pyrun(str(script)).stdout) == {"alpha": "2.0"}
    script.write_text(script.read_text().replace(LOCAL, LOCAL + '# resolution = "lowest"\n'))
    assert json.loads(pyrun(str(script)).stdout) == {"alpha": "1.0"}


def test_index_keys_reach_a_private_index(pyrun: Runner, folder: Path) -> None:
    with serve_index({"six": [wheel("six", "99.0")]}) as url:
        for key in ("index-url", "extra-index-url"):
            value = f'"{url}"' if key == "index-url" else f'["{url}"]'
            strategy = '# index-strategy = "unsafe-best-match"\n' if key != "index-url" else ""
            mine, theirs = both(pyrun, folder, key, f"# {key} = {value}\n{strategy}", '"six"')
            assert mine.returncode == 0, mine.stderr
            assert json.loads(mine.stdout) == {"six": "99.0"}
            assert json.loads(theirs.stdout.strip().splitlines()[-1]) == {"six": "99.0"}


def test_configuration_is_read_from_the_scripts_directory_not_the_working_one(
    pyrun: Runner, tmp_path: Path
) -> None:
    """uv 0.13 reads a project's ``uv.toml`` for a script from the script's directory up,
    combined below the script's table; one in the working directory does not count."""
    here = tmp_path / "scripts"
    (here / "wheels").mkdir(parents=True)
    for name, data in WHEELS:
        (here / "wheels" / name).write_bytes(data)
    (here / "uv.toml").write_text('resolution = "lowest-direct"\n')
    (tmp_path / "uv.toml").write_text('prerelease = "allow"\n')  # the working directory's
    with_table = write(here / "t.py", f"# /// script\n# dependencies = [\"alpha\"]\n"
                                      f"# [tool.uv]\n{LOCAL}# ///\n{PROBE}")
    (here / "uv.toml").write_text('resolution = "lowest-direct"\nno-index = true\n'
                                  'find-links = ["wheels"]\n')
    without = write(here / "n.py", f"# /// script\n# dependencies = [\"alpha\"]\n# ///\n{PROBE}")
    for script in (with_table, without):
        mine = pyrun(str(script), cwd=tmp_path)
        theirs = pyrun.uv("run", "--script", str(script), cwd=tmp_path)
        assert mine.returncode == 0, mine.stderr
        assert json.loads(mine.stdout) == json.loads(theirs.stdout.strip().splitlines()[-1]) \
            == {"alpha": "1.0"}


def test_a_key_pyrun_cannot_apply_is_a_warning_once(pyrun: Runner, folder: Path) -> None:
    script = write(folder / "linked.py", f"# /// script\n# dependencies = [\"alpha\"]\n"
                                         f'# [tool.uv]\n{LOCAL}# link-mode = "symlink"\n'
                                         f"# ///\n{PROBE}")
    first = pyrun(str(script))
    assert first.returncode == 0 and "`link-mode` does not apply" in first.stderr
    again = pyrun(str(script))
    assert again.returncode == 0 and again.stderr == ""
    assert os.path.isfile(script)


def test_uv_no_config_and_uv_config_file_keep_the_table(pyrun: Runner, folder: Path,
                                                        tmp_path: Path) -> None:
    """uv reads a script's table whatever UV_NO_CONFIG or UV_CONFIG_FILE say of configuration
    files; so does pyrun (it then gives uv its generated file with --config-file)."""
    (tmp_path / "given.toml").write_text('prerelease = "allow"\n')
    cases = (({"UV_NO_CONFIG": "1"}, {"alpha": "2.0"}),
             ({"UV_CONFIG_FILE": str(tmp_path / "given.toml")}, {"alpha": "3.0rc1"}))
    for i, (variables, expected) in enumerate(cases):
        # a script of its own each time: uv would reuse the environment it made for a path
        script = write(folder / f"cfg{i}.py", "# /// script\n# dependencies = [\"alpha\"]\n"
                       f"# [tool.uv]\n{LOCAL}# ///\n{PROBE}")
        mine = pyrun(str(script), **variables)
        theirs = pyrun.uv("run", "--script", str(script), **variables)
        assert mine.returncode == 0, mine.stderr
        assert json.loads(mine.stdout) == json.loads(theirs.stdout.strip().splitlines()[-1]) \
            == expected, variables
