# /// script
# requires-python = ">=3.9"
# dependencies = ["pyrun-scripts"]
# [tool.uv.sources]
# pyrun-scripts = { path = "../.." }  # this repository; once published, drop these two lines
# ///
"""A personal workflow server in one file: the venvs in ./envs, served over WSP.

Declared in pyproject.toml as `[workflow] wsp = {script = "./workflow.py"}`; pyrun runs it with
its dependencies from the pool (`uv run --script workflow.py` runs it too).
"""

import sys
from pathlib import Path

from pyrun.wsp.toolkit import Server, VenvFolder

app = Server("example-workflow")
app.include(VenvFolder(Path(__file__).resolve().parent / "envs"))


@app.method("example/python")
def python(params):
    """Which Python this server runs on: a method of its own, beside the standard ones."""
    return {"version": sys.version.split()[0], "executable": sys.executable}


if __name__ == "__main__":
    app.run()
