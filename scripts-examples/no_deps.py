#!/usr/bin/env pyrun
"""No metadata block at all: pyrun runs it in an empty environment of its own interpreter."""

import sys

name = sys.argv[1] if len(sys.argv) > 1 else "world"
print(f"hello, {name}")
