# /// script
# requires-python = ">=3.12"
# dependencies = []
# ///
"""Uses a Python 3.12 feature (PEP 695 type aliases); pyrun picks a 3.12+ interpreter."""

import sys

type Pair = tuple[int, int]


def swap(p: Pair) -> Pair:
    return (p[1], p[0])


print(f"python {sys.version_info.major}.{sys.version_info.minor}: swap((1, 2)) = {swap((1, 2))}")
