"""The plain block a cold run reads before the engine (``uvpython.plain_dependencies``): only
what ``packaging`` writes back unchanged is guessed, anything else is left to the engine; and
every guess is the engine's own reading of the block."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement

from pyrun.engine.uvpython import plain_dependencies
from pyrun.script.metadata import parse


def block(*lines: str) -> bytes:
    return ("# /// script\n" + "".join(f"# {ln}\n" if ln else "#\n" for ln in lines)
            + "# ///\nprint(1)\n").encode()


@pytest.mark.parametrize("data", [
    block('dependencies = ["rich"]'),
    block('requires-python = ">=3.9"', 'dependencies = [', '  "rich>=13",', '  "Requests",',
          '  "attrs[tests]",', ']'),
    block("", 'dependencies = ["six==1.17.0", "numpy~=2.0", "x!=1.*"]', ""),
    block('dependencies = ["a-b.c_d<2"]', 'requires-python = ">=3.11"'),
])
def test_a_plain_block_is_read_as_the_engine_reads_it(data: bytes) -> None:
    guessed = plain_dependencies(data)
    engine = [str(r) for r in parse(data.decode()).dependencies]
    assert guessed is not None and guessed == engine
    assert all(str(Requirement(g)) == g for g in guessed)


@pytest.mark.parametrize("data", [
    block('dependencies = ["rich"]', "[tool.uv]", 'exclude-newer = "2024-01-01"'),
    block('dependencies = ["rich >= 13"]'),  # packaging writes it back without the spaces
    block("dependencies = ['rich']"),
    block('dependencies = ["rich"]  # a comment'),
    block('dependencies = ["rich; python_version < \'3.12\'"]'),
    block('dependencies = ["rich @ https://example.invalid/rich.whl"]'),
    block('dependencies = ["rich>=1,<2"]'),  # packaging sorts the specifiers
    block('dependencies = ["rich[b,a]"]'),
    block('dependencies = []'),
    block('requires-python = ">=3.9"'),
    block('dependencies = ["rich"]', 'dependencies = ["six"]'),
    b"print(1)\n",
    block('dependencies = ["rich"]') + block('dependencies = ["six"]'),
    b"# /// script\n# dependencies = [\"r\xffich\"]\n# ///\n",
])
def test_anything_else_is_left_to_the_engine(data: bytes) -> None:
    assert not plain_dependencies(data)
