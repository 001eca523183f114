"""What a script says and what surrounds it: its inline metadata block (PEP 723) and
``[tool.uv]``, the requirements and env files it is run with, ``.python-envs`` beside it, and
scripts fetched from a URL. Reads and validates; never builds, resolves or runs anything."""
