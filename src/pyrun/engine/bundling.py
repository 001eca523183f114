"""``pyrun bundle SCRIPT... -o DIR [--tar FILE]`` (issue 26, point 2): writes what the scripts
need to run on a machine with no network and empty caches, in the layout
:mod:`pyrun.engine.bundles` owns; ``pyrun --bundle DIR SCRIPT`` runs from it, starting no
resolver and touching no network. ``--tar FILE`` also writes the bundle as a tar archive (its
paths relative, modes kept), which a container build can add as a layer and unpack anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyrun.engine.bundles import LAYER, LOCKS, MANIFEST, block_id, read
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from pyrun.engine.options import RunOptions


def bundle(scripts: Sequence[str], out: str | os.PathLike[str], options: RunOptions,
           reporter: Reporter, tar: str | None = None) -> Path:
    """Write (or add to) the bundle ``out`` for ``scripts`` (with ``options``: ``--python``
    chooses the interpreter, as for a run); with ``tar``, also that archive. Returns the
    bundle's directory.

    Raises:
        UsageError: ``out`` cannot be a layer (see :func:`pyrun.engine.seeding.seed`), or its
            description cannot be read.
        And what locking (:func:`pyrun.engine.export`) and building a script raise.
    """
    from pyrun.engine.seeding import seed
    from pyrun.engine.subcommands import export
    from pyrun.script.metadata import read_script

    root = Path(os.path.abspath(out))
    (root / LOCKS).mkdir(mode=0o755, parents=True, exist_ok=True)
    described: dict[str, Any] = (read(root) if (root / MANIFEST).exists()
                                 else {"format": 1, "scripts": {}})
    for script in scripts:
        ident = block_id(read_script(script))
        lock = root / LOCKS / f"{ident}.pylock.toml"
        lock.write_text(export(script, options, reporter), encoding="utf-8")
        done = seed([script], root / LAYER, dataclasses.replace(options, lock=str(lock)),
                    reporter)
        described["scripts"][ident] = {"script": os.path.basename(script),
                                       "lock": f"{LOCKS}/{lock.name}", "python": done.python,
                                       "version": done.version}
        reporter.step(f"bundled {script}: {len(done.added)} entr"
                      f"{'y' if len(done.added) == 1 else 'ies'} added for Python "
                      f"{done.version}")
    (root / MANIFEST).write_text(json.dumps(described, indent=1, sort_keys=True) + "\n",
                                 encoding="utf-8")
    if tar:
        import tarfile

        with tarfile.open(tar, "w:gz" if tar.endswith((".gz", ".tgz")) else "w") as archive:
            archive.add(root, arcname=root.name)
    return root


