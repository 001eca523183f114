"""``python -m pyrun``: the same as the ``pyrun`` command."""

import sys

from pyrun.cli import main

sys.exit(main())
