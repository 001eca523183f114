# /// script
# requires-python = ">=3.9"
# dependencies = ["pyrun-scripts"]
# [tool.uv.sources]
# pyrun-scripts = { path = "../.." }  # this repository; once published, drop these two lines
# ///
"""A workflow server the built-in one is not: one environment per task, from the requirement
files in ./tasks (`lint.txt` is the environment `lint`), built from pyrun's pool on first use.
`environment/create {"name": "lint"}` (re)builds one; `execute` runs a command in it."""

from pathlib import Path

from pyrun.wsp.toolkit import EnvironmentNotFound, Server, VenvFolder

HERE = Path(__file__).resolve().parent
app = Server("per-task-environments")
venvs = VenvFolder(HERE / ".task-envs")
app.include(venvs)


def requirements(name):
    path = HERE / "tasks" / f"{name}.txt"
    if not path.is_file():
        raise EnvironmentNotFound(name)
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


@app.method("environment/list")
def listing(params):
    built = {e.id: e.summary() for e in venvs.environments()}
    return [built.get(p.stem, {"id": p.stem, "name": p.stem, "python_version": ""})
            for p in sorted((HERE / "tasks").glob("*.txt"))]


@app.method("environment/create", slow=True)
def create(params):
    name = app.param(params, "name", str)
    wanted = requirements(name)
    if any(e.id == name for e in venvs.environments()):
        venvs.delete(venvs.find(name))
    python = app.param(params, "python_version", str, None)
    return venvs.create(name, python, wanted).details()


if __name__ == "__main__":
    app.run()
