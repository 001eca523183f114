# /// script
# requires-python = ">=3.9"
# dependencies = ["rich>=13"]
# ///
"""Print a table of the Python versions pyrun can find, with rich."""

import platform
import sys

from rich.console import Console
from rich.table import Table

table = Table(title="pyrun example: a rich table")
table.add_column("what")
table.add_column("value")
table.add_row("python", platform.python_version())
table.add_row("executable", sys.executable)
table.add_row("arguments", " ".join(sys.argv[1:]) or "(none)")
Console().print(table)
