"""Named points in a build where a test can stop pyrun, to kill it there for real.

``PYRUN_PAUSE_AT=<point>`` makes a run print ``pyrun: paused at <point>`` to stderr and sleep
when it reaches that point; the crash-safety tests wait for that line and send SIGKILL. Without
the variable, :func:`point` costs one dictionary lookup.
"""

from __future__ import annotations

import os
import sys
import time

#: The points, in the order a cold build passes them.
POINTS = (
    "resolved",  # uv has resolved; nothing installed yet
    "staged",  # uv has installed into the staging prefix
    "split",  # the staging prefix is split into entry directories, none renamed into place yet
    "entry-placed",  # the first new entry is renamed into place, others not yet
    "env-written",  # the environment's files are written, no marker yet
    "env-placed",  # the environment is renamed into place, the index not written yet
    "compiling",  # new entries are writable again, their bytecode not yet written
)


def point(name: str) -> None:
    """Pause here if ``PYRUN_PAUSE_AT`` names this point (see the module docstring)."""
    if os.environ.get("PYRUN_PAUSE_AT") == name:
        print(f"pyrun: paused at {name}", file=sys.stderr, flush=True)
        time.sleep(600)
