"""Params read into dataclasses by their types, element types included, with the one -32602 a
client gets naming the param's path; results made JSON; the checks of the environment methods'
own params at their edges (a name as long as a file name can be, a timeout above 0)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

import pytest

from pyrun.wsp.jsonrpc import RpcError
from pyrun.wsp.params import NAME_MAX, CreateParams, ExecuteParams, structure
from pyrun.wsp.typed import checker, unstructure


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Node:
    label: str
    children: List[Node] = field(default_factory=list)


@dataclass
class Everything:
    text: str
    count: int = 0
    ratio: float = 1.0
    flag: bool = False
    anything: Any = None
    words: Sequence[str] = ()
    pairs: Tuple[int, str] = (0, "")
    rest: Tuple[int, ...] = ()
    table: Mapping[str, List[int]] = field(default_factory=dict)
    plain: Dict[str, Any] = field(default_factory=dict)
    colour: Colour = Colour.RED
    mode: Literal["a", 1] = "a"
    choice: Union[int, List[str], None] = None
    tree: Optional[Node] = None
    holes: List[Optional[int]] = field(default_factory=list)
    required_or_null: Optional[str] = field(default=None)


def read(params: dict[str, Any]) -> Everything:
    return structure(Everything, params)


def bad(params: dict[str, Any]) -> str:
    with pytest.raises(RpcError) as caught:
        read(params)
    assert caught.value.code == -32602
    return caught.value.message


def test_every_kind_of_type_is_read() -> None:
    got = read({"text": "t", "count": 2, "ratio": 3, "flag": True, "anything": [1, {}],
                "words": ["a"], "pairs": [1, "x"], "rest": [1, 2], "table": {"k": [1]},
                "plain": {"x": None}, "colour": "blue", "mode": 1, "choice": ["s"],
                "tree": {"label": "r", "children": [{"label": "c"}]}, "holes": [1, None],
                "ignored": object()})
    assert got == Everything("t", 2, 3.0, True, [1, {}], ["a"], (1, "x"), (1, 2), {"k": [1]},
                             {"x": None}, Colour.BLUE, 1, ["s"],
                             Node("r", [Node("c")]), [1, None])
    assert isinstance(got.ratio, float) and read({"text": "t", "choice": 3}).choice == 3


def test_null_is_absent_where_there_is_a_default() -> None:
    assert read({"text": "t", "count": None, "tree": None}) == Everything("t")


@pytest.mark.parametrize(("params", "message"), [
    ({"text": None}, "params.text is required"),
    ({"text": 1}, "params.text must be a string"),
    ({"text": "t", "count": True}, "params.count must be an integer"),
    ({"text": "t", "count": 1.5}, "params.count must be an integer"),
    ({"text": "t", "ratio": "1"}, "params.ratio must be a number"),
    ({"text": "t", "flag": 1}, "params.flag must be a boolean"),
    ({"text": "t", "words": "abc"}, "params.words must be a list"),
    ({"text": "t", "words": [None]}, "params.words[0] must be a string"),
    ({"text": "t", "pairs": [1, 2]}, "params.pairs[1] must be a string"),
    ({"text": "t", "pairs": [1]}, "params.pairs must be a list of 2 items"),
    ({"text": "t", "rest": [1, "2"]}, "params.rest[1] must be an integer"),
    ({"text": "t", "table": {"k": [1, "x"]}}, 'params.table["k"][1] must be an integer'),
    ({"text": "t", "table": []}, "params.table must be an object"),
    ({"text": "t", "colour": "green"}, 'params.colour must be one of "red", "blue"'),
    ({"text": "t", "mode": True}, 'params.mode must be one of "a", 1'),
    ({"text": "t", "choice": "s"}, "params.choice must be an integer or a list or null"),
    ({"text": "t", "choice": ["s", 1]}, "params.choice[1] must be a string"),
    ({"text": "t", "tree": {"label": "r", "children": [{"label": 5}]}},
     "params.tree.children[0].label must be a string"),
    ({"text": "t", "tree": {"children": []}}, "params.tree.label is required"),
    ({"text": "t", "holes": [1, "x"]}, "params.holes[1] must be an integer or null"),
])
def test_the_first_bad_param_is_named_by_its_path(params: dict[str, Any], message: str) -> None:
    assert bad(params) == message


@dataclass
class NoDefault:
    value: Optional[int]


def test_an_optional_field_without_a_default_takes_null() -> None:
    assert structure(NoDefault, {"value": None}) == NoDefault(None)
    assert structure(NoDefault, {}) == NoDefault(None)


@dataclass
class IntKeys:
    table: Dict[int, str]


@pytest.mark.parametrize("tp", [set, frozenset, Path, IntKeys, complex])
def test_types_json_cannot_give_are_refused_up_front(tp: Any) -> None:
    with pytest.raises(TypeError):
        checker(tp)


def test_results_are_made_json() -> None:
    assert unstructure({"n": Node("r", [Node("c")]), "c": Colour.BLUE, "p": Path("/x"),
                        "t": (1, 2)}) == {
        "n": {"label": "r", "children": [{"label": "c", "children": []}]}, "c": "blue",
        "p": "/x", "t": [1, 2]}


@pytest.mark.parametrize("name", ["n" * NAME_MAX, "\u00e9" * (NAME_MAX // 2), "dev-3.12", " x"])
def test_an_environment_name_as_long_as_a_file_name_can_be_is_taken(name: str) -> None:
    assert structure(CreateParams, {"name": name}).name == name


@pytest.mark.parametrize("name", ["n" * (NAME_MAX + 1), "\u00e9" * 128, ".", "..", "", "a/b",
                                  "a\\b", "a\nb", "a\x7fb", "\udc80"])
def test_a_name_no_directory_can_have_is_invalid_params(name: str) -> None:
    with pytest.raises(RpcError) as caught:
        structure(CreateParams, {"name": name})
    assert caught.value.code == -32602
    assert caught.value.message.startswith("params.name must be a plain directory name")


@pytest.mark.parametrize("timeout", [0, -1, -0.5, 0.0, 1e10, float("nan"), float("inf"), True])
def test_a_timeout_must_be_above_zero(timeout: Any) -> None:
    with pytest.raises(RpcError) as caught:
        structure(ExecuteParams, {"id": "e", "argv": ["x"], "timeout": timeout})
    assert caught.value.message == ("params.timeout must be a number of seconds above 0 "
                                    "(at most 1e9)")


@pytest.mark.parametrize("timeout", [0.001, 1, 30.5, 1e9])
def test_a_timeout_above_zero_is_taken(timeout: float) -> None:
    assert structure(ExecuteParams, {"id": "e", "argv": ["x"], "timeout": timeout}).timeout \
        == timeout
