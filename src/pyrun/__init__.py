"""pyrun: run standalone Python scripts with inline script metadata from a shared package pool.

The package keeps this module tiny: the warm path imports it, and every import here costs every
run. The library API lives in :mod:`pyrun.runner` (``prepare`` and ``run``).
"""

__version__ = "0.1.0"

#: Version of the on-disk cache layout; part of every fast-path and environment key.
CACHE_FORMAT = "1"
