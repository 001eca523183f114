"""pyrun's own configuration directory, and whether a file there (or any file pyrun runs or
trusts) is one another user could have written: the one judgement ``pyrun wsp`` (its
declaration, ``trusted.json``, a project's ``.venv``) and the cache's settings
(``config.toml``'s ``[cache]``) both use.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyrun.errors import ProjectFileError


def foreign(path: Path) -> str | None:
    """Why another user could have written ``path``, or None (also when it does not exist): it
    belongs to a user other than you and root, or it is writable by every user, or by a group
    other than your own. A symbolic link is judged itself, never followed. As git judges a
    repository's ``.git`` ("dubious ownership").

    >>> foreign(Path("/")) is None
    True
    """
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    if not hasattr(os, "getuid"):  # pragma: no cover - no user ids on Windows
        return None
    if st.st_uid not in (os.getuid(), 0):
        return f"it belongs to another user (uid {st.st_uid})"
    if stat.S_ISLNK(st.st_mode):
        return None
    if st.st_mode & 0o002 and not (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
        return f"every user can write to it (mode {stat.S_IMODE(st.st_mode):o})"
    if st.st_mode & 0o020 and st.st_gid != os.getgid():
        return f"group {st.st_gid} can write to it (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def config_dir() -> Path:
    """pyrun's user config directory: ``$PYRUN_CONFIG_DIR``, else the platform's."""
    explicit = os.environ.get("PYRUN_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("pyrun", appauthor=False))


def config_file() -> Path:
    """pyrun's config file, ``config.toml`` in :func:`config_dir` (``pyrun wsp``'s
    ``[workflow]`` setting and the cache's ``[cache]`` settings)."""
    return config_dir() / "config.toml"


def check_config_file(path: Path, error: type[ProjectFileError] = ProjectFileError) -> None:
    """Refuse pyrun's config file ``path`` when it, or the directory it is in, is one another
    user could have written (:func:`foreign`): a setting there would act as you.

    Raises:
        ProjectFileError (or the subclass ``error``): naming the path, the reason and the fix.
    """
    for p in (path.parent, path):
        why = foreign(p)
        if why:
            raise error(str(p), f"{p}: {why}; pyrun reads no setting another user could have "
                        "written: make it yours and not writable by others (chown, chmod "
                        "go-w), or set PYRUN_CONFIG_DIR")
