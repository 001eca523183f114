"""pyrun: run standalone Python scripts with inline script metadata from a shared package pool.

The package keeps this module tiny: the warm path imports it, and every import here costs every
run. The library API is :mod:`pyrun.engine` (``prepare``, ``run``, ``create_venv``, ...); its
errors are :mod:`pyrun.errors`.
"""

__version__ = "0.1.0"
