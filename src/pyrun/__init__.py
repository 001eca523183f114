"""pyrun: run standalone Python scripts with inline script metadata from a shared package pool.

The package keeps this module tiny: the warm path imports it, and every import here costs every
run. The library API is :mod:`pyrun.engine` (``prepare``, ``run``, ``create_venv``, ...); its
errors are :mod:`pyrun.errors`.
"""

__version__ = "0.1.0"

#: Where the documentation is published (built from docs/ by mkdocs on Read the Docs, as
#: .readthedocs.yaml says); every ``--help`` ends with a link into it. mkdocs.yml's
#: ``site_url`` and pyproject.toml's ``Documentation`` URL are the same (a test checks).
DOCS_URL = "https://pyrun-scripts.readthedocs.io/en/latest/"
