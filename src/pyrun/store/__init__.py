"""The cache on disk: its directories and their ownership checks, the records pyrun writes
there (each with one owning module), and its upkeep (``pyrun cache info|prune|clean|verify``).
Knows the formats, not how an environment is built."""
