"""A trusted script declaration runs the bytes agreed to (issue 22, point 2): the pinned
command runs a script as ``python SCRIPT`` does, and refuses one whose bytes changed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from pyrun.wsp.trust import pinned_command
from tests.helpers import write

SHOW = ("import json, sys\nimport sibling\n"
        "print(json.dumps({'name': __name__, 'file': __file__, 'argv': sys.argv,\n"
        "    'path0': sys.path[0], 'sibling': sibling.X, 'cached': __cached__,\n"
        "    'loader': type(__loader__).__name__, 'globals': sorted(globals())}))\n")


def test_the_pinned_command_runs_a_script_as_python_runs_it(tmp_path: Path) -> None:
    script = write(tmp_path / "server.py", SHOW)
    write(tmp_path / "sibling.py", "X = 5\n")
    direct = subprocess.run([sys.executable, str(script)], cwd="/",
                            capture_output=True, text=True, timeout=60)
    pinned = subprocess.run(pinned_command(sys.executable, script, script.read_bytes()),
                            cwd="/", capture_output=True, text=True, timeout=60)
    assert direct.returncode == 0 and pinned.returncode == 0, pinned.stderr
    assert pinned.stdout == direct.stdout and '"sibling": 5' in pinned.stdout


def test_a_script_changed_after_the_agreement_is_not_run(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    agreed = b"print('agreed')\n"
    script = write(tmp_path / "server.py", f"open({str(ran)!r}, 'w')\n")
    out = subprocess.run(pinned_command(sys.executable, script, agreed), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 77 and "changed after you agreed" in out.stderr, out.stderr
    assert not ran.exists()
    script.write_bytes(agreed)
    again = subprocess.run(pinned_command(sys.executable, script, agreed), capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0 and again.stdout == "agreed\n"
    assert hashlib.sha256(agreed).hexdigest() in pinned_command("python", script, agreed)
