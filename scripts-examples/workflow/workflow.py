# /// script
# requires-python = ">=3.9"
# dependencies = ["pyrun-scripts"]
# [tool.uv.sources]
# pyrun-scripts = { path = "../.." }  # this repository; `pyrun wsp init` writes yours
# ///
"""A personal workflow server in one file: the venvs in ./envs, served over WSP.

Declared in pyproject.toml as `[workflow] wsp = {script = "./workflow.py"}`; pyrun runs it with
its dependencies from the pool (`uv run --script workflow.py` runs it too). To start your own
anywhere, `pyrun wsp init --declare` writes one whose block points at your pyrun
(docs/workflow-server.md).
"""

import sys
from dataclasses import dataclass
from pathlib import Path

from pyrun.wsp.toolkit import Server, VenvFolder

app = Server("example-workflow")
app.include(VenvFolder(Path(__file__).resolve().parent / "envs"))


@dataclass
class Python:
    version: str
    executable: str


@app.method("example/python")
def python(params) -> Python:
    """Which Python this server runs on: a method of its own, beside the standard ones."""
    return Python(sys.version.split()[0], sys.executable)


@app.on_initialize
def hello(client):
    print(f"example-workflow: {client.name or 'a client'} connected", file=app.log)


if __name__ == "__main__":
    app.run()
