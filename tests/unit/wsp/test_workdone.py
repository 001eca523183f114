"""The progress helper: LSP's work-done progress sent right (begin, reports, end, under the
client's token, only when it gave one), misuse raised, and VenvFolder's create reporting into a
handler's own progress. Driven through the in-memory client (real framing and endpoint)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from pyrun.wsp import venvs
from pyrun.wsp.testing import connect
from pyrun.wsp.toolkit import Server, VenvFolder, WorkDone, progress


def stepper() -> Server:
    app = Server("steps")

    @app.method("steps/run", slow=True)
    def run(params: dict[str, Any]) -> int:
        with progress("running", message="starting", percentage=0) as work:
            for done in range(1, 4):
                work.report(f"step {done}", percentage=100 * done / 3)
            work.report(percentage=10)  # lower than before: sent as the last one
        return 3

    @app.method("steps/fail")
    def fail(params: dict[str, Any]) -> None:
        with progress("failing"):
            raise ValueError("broken")

    return app


def test_begin_reports_end_under_the_client_s_token() -> None:
    with connect(stepper()) as client:
        assert client.request("steps/run", {"work_done_token": "t1"}) == 3
        assert client.progress("t1") == [
            {"kind": "begin", "title": "running", "message": "starting", "percentage": 0},
            {"kind": "report", "message": "step 1", "percentage": 33},
            {"kind": "report", "message": "step 2", "percentage": 67},
            {"kind": "report", "message": "step 3", "percentage": 100},
            {"kind": "report", "percentage": 100},
            {"kind": "end"}]


def test_nothing_is_sent_without_a_token() -> None:
    with connect(stepper()) as client:
        assert client.request("steps/run") == 3
        assert client.request("steps/run", {"work_done_token": 1.5}) == 3  # unusable
        assert client.notifications == []


def test_end_is_sent_when_the_handler_raises() -> None:
    with connect(stepper()) as client:
        with pytest.raises(Exception) as caught:
            client.request("steps/fail", {"work_done_token": 7})
        assert getattr(caught.value, "code", None) == -32603
        assert [v["kind"] for v in client.progress(7)] == ["begin", "end"]
        assert "ValueError: broken" in client.logged  # logged, not sent


def test_misuse_raises_token_or_no_token() -> None:
    work = WorkDone("x")
    with pytest.raises(RuntimeError, match="before begin"):
        work.report("too early")
    with work:
        with pytest.raises(RuntimeError, match="already began"):
            work.begin()
        with pytest.raises(TypeError):
            work.report(percentage="50")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="after end"):
        work.report("too late")
    work.end()  # a second end: nothing more


def test_one_begin_and_end_per_token_and_inner_progress_reports_into_the_outer() -> None:
    app = Server("nested")

    @app.method("nested/run")
    def run(params: dict[str, Any]) -> None:
        with progress("outer"):
            with progress("inner", percentage=50) as inner:
                inner.report("halfway")
                inner.end("inner done")
        with progress("again") as again:  # the token's progress has ended: nothing is sent
            again.report("unseen")

    with connect(app) as client:
        client.request("nested/run", {"work_done_token": "n"})
        assert client.progress("n") == [
            {"kind": "begin", "title": "outer"},
            {"kind": "report", "message": "inner", "percentage": 50},
            {"kind": "report", "message": "halfway"},
            {"kind": "report", "message": "inner done"},
            {"kind": "end"}]


def test_venv_folder_create_reports_into_the_handler_s_progress(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_create_venv(prefix: Path, python_version: Any, requirements: Any,
                         log: Any, verbosity: int = 0) -> None:
        prefix.mkdir(parents=True)
        (prefix / "pyvenv.cfg").write_text("version = 3.12.1\n")
        log.write("pyrun: resolving 1 requirement(s)\n\n")

    monkeypatch.setattr(venvs, "create_venv", fake_create_venv)
    app = Server("made")
    folder = VenvFolder(tmp_path / "envs", log=io.StringIO())
    app.include(folder)

    @app.method("made/two", slow=True)
    def two(params: dict[str, Any]) -> list[str]:
        with progress("making two"):
            return [folder.create(n).id for n in ("a", "b")]

    with connect(app) as client:
        client.request("environment/create", {"name": "solo", "work_done_token": "s"})
        assert client.progress("s") == [
            {"kind": "begin", "title": "creating solo"},
            {"kind": "report", "message": "resolving 1 requirement(s)"}, {"kind": "end"}]
        assert client.request("made/two", {"work_done_token": "t"}) == ["a", "b"]
        assert client.progress("t") == [
            {"kind": "begin", "title": "making two"},
            {"kind": "report", "message": "creating a"},
            {"kind": "report", "message": "resolving 1 requirement(s)"},
            {"kind": "report", "message": "creating b"},
            {"kind": "report", "message": "resolving 1 requirement(s)"}, {"kind": "end"}]
