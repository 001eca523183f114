"""Run a script in this very process, as the environment's interpreter would, when that
interpreter is this process's own: the warm path then starts one interpreter, not two.

A warm run otherwise ``exec``s the environment's ``bin/python``: a second interpreter start-up
(about 7-10 ms with ``site``) that is most of what pyrun adds over ``python x.py``. When the
environment's base interpreter is the very one running pyrun, this process already *is* that
interpreter; :func:`become` turns it into what ``ENV/bin/python x.py ARGS`` would have been at
the script's first line, then runs the script:

* ``sys.executable``, ``sys.prefix``/``exec_prefix``, ``sys.argv``, ``sys.orig_argv``;
* ``sys.path``: the script's directory (symlinks resolved; not with ``-P``/``PYTHONSAFEPATH``),
  ``PYTHONPATH``, the standard library, then the environment's ``site-packages`` with its
  ``.pth`` files processed by :mod:`site` (so the pool's activation runs as at start-up);
  ``site.PREFIXES`` names the environment, so ``site.getsitepackages()`` does too;
* pyrun's own modules, and whatever pyrun's installation put on ``sys.path``, ``sys.meta_path``
  and ``sys.path_hooks``, are gone; ``sysconfig`` is imported afresh (it caches the prefix);
* a new ``__main__`` module as CPython makes one (``__file__`` joined to the working directory,
  a ``SourceFileLoader``, ``__spec__`` None, ``__builtins__`` the module);
* ``VIRTUAL_ENV`` and ``PATH`` as :func:`pyrun.launch.activated` sets them;
* an uncaught exception is printed by ``sys.excepthook`` without pyrun's frames and exits 1;
  ``KeyboardInterrupt`` ends the process by SIGINT after the usual shutdown, as CPython does;
  ``SystemExit`` is CPython's own handling.

:func:`eligible` says when this is done; otherwise (another interpreter, options given to
pyrun's interpreter, Python before 3.10, not POSIX, ``PYRUN_EXEC=1``) the warm path ``exec``s
as before. What a script can still tell: a few more standard-library modules in
``sys.modules``, and pyrun's frames below the script's in ``traceback.extract_stack()``
(never in a traceback). ``tests/integration/test_inprocess.py`` compares both ways.

Imports only ``os`` and ``sys`` (and :mod:`site`, loaded at start-up): the warm path uses it.
"""

# No ``from __future__ import annotations``: the warm path imports this module.

import os
import sys


def eligible(python: str) -> bool:
    """Whether ``python`` (an environment's ``bin/python``) can be become in this process: its
    base interpreter is this process's (the same real file), this process was started as a
    plain ``python SCRIPT`` (no interpreter options, so ``sys.flags`` are what the environment's
    interpreter would get from the same process environment), no ``PYTHONINSPECT`` (its prompt
    after the script is the interpreter's), Python 3.10+ on POSIX, and ``PYRUN_EXEC`` is not
    set."""
    if os.name != "posix" or sys.version_info < (3, 10) or os.environ.get("PYRUN_EXEC"):
        return False
    orig = getattr(sys, "orig_argv", [])
    if len(orig) < 2 or orig[1].startswith("-"):  # python -m pyrun, python -X dev ...
        return False
    if sys.flags.inspect or sys.flags.interactive:  # PYTHONINSPECT: a prompt after the script
        return False
    own = getattr(sys, "_base_executable", None) or sys.executable
    try:
        return os.path.realpath(python) == os.path.realpath(own)
    except OSError:  # pragma: no cover
        return False


def become(python: str, script: str, args: "list[str]", holder: int) -> "int":
    """Run ``script`` with ``args`` in this process as ``python script *args`` would (see the
    module's docstring); ``holder`` is the descriptor of the environment's shared lock, kept
    open (and not inherited by the script's children) while the script runs. Returns 0 when
    the script ends normally; raises ``SystemExit`` as the script does; an uncaught exception
    is printed and exits 1 (SIGINT for ``KeyboardInterrupt``).

    Raises:
        OSError: the script cannot be read; nothing was changed yet (the caller can exec).
    """
    with open(script, "rb") as f:  # before anything changes
        source = f.read()
    filename = script if os.path.isabs(script) else os.getcwd() + os.sep + script  # CPython's
    env_dir = os.path.dirname(os.path.dirname(python))
    import site

    safe = bool(getattr(sys.flags, "safe_path", False))  # -P, PYTHONSAFEPATH (3.11+)
    start = 0 if safe else 1  # sys.path[0] is the directory of pyrun's own launcher
    added = _site_added(site)
    base = sys.path[start:added]  # PYTHONPATH and the standard library: the same interpreter's
    os.set_inheritable(holder, False)
    _forget_pyrun(sys.path[added:])
    os.environ["VIRTUAL_ENV"] = env_dir
    path = os.environ.get("PATH")
    bin_dir = os.path.join(env_dir, "bin")
    os.environ["PATH"] = bin_dir + os.pathsep + path if path else bin_dir
    os.environ.pop("PYTHONHOME", None)

    sys.executable = python
    sys.prefix = sys.exec_prefix = env_dir
    sys.argv[:] = [script, *args]
    sys.orig_argv[:] = [python, script, *args]  # type: ignore[attr-defined,unused-ignore]
    sys.path[:] = base if safe else [os.path.dirname(os.path.realpath(script)), *base]
    sys.path_importer_cache.clear()
    site.PREFIXES[:] = [env_dir]
    site.ENABLE_USER_SITE = False  # a venv without the system's site-packages, as pyrun's are
    site.addsitepackages(set())  # the environment's .pth files, as at start-up

    main = type(sys)("__main__")
    loader = sys.modules["_frozen_importlib_external"].SourceFileLoader  # CPython's, for __main__
    main.__dict__.update(__file__=filename, __cached__=None, __annotations__={},
                         __builtins__=sys.modules["builtins"])
    main.__loader__ = loader("__main__", filename)
    sys.modules["__main__"] = main
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except BaseException as exc:  # a SyntaxError: printed as CPython prints it, no frames
        exc.__traceback__ = None
        _uncaught(exc, skip=0)
    try:
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        _uncaught(exc)
    return 0


def _site_added(site: object) -> int:
    """The index in ``sys.path`` of the first entry :mod:`site` added at start-up (pyrun's own
    ``site-packages``, or the user's): it appends them, and the ``.pth`` files' paths, after
    the standard library's; ``len(sys.path)`` when there is none."""
    sitedirs = set(getattr(site, "getsitepackages", lambda: [])())
    user = getattr(site, "USER_SITE", None)
    if user:
        sitedirs.add(user)
    for i, entry in enumerate(sys.path):
        if entry in sitedirs:
            return i
    return len(sys.path)


def _under(path: str, roots: "list[str]") -> bool:
    return any(path == r or path.startswith(r + os.sep) for r in roots if r)


def _forget_pyrun(installed: "list[str]") -> None:
    """Drop pyrun's modules and what pyrun's own installation added: modules loaded from the
    ``installed`` paths (its ``site-packages`` and what their ``.pth`` files added:
    ``_distutils_hack``, an editable pyrun), their finders on ``sys.meta_path`` and
    ``sys.path_hooks``, and ``sysconfig``, whose cached paths name pyrun's prefix."""
    gone = {name for name, module in sys.modules.items()
            if name == "pyrun" or name.startswith(("pyrun.", "_sysconfigdata"))
            or name == "sysconfig" or _under(getattr(module, "__file__", None) or "",
                                             installed)}
    def kept(hook: object) -> bool:
        return (getattr(hook, "__module__", None) or type(hook).__module__) not in gone

    sys.meta_path[:] = [h for h in sys.meta_path if kept(h)]
    sys.path_hooks[:] = [h for h in sys.path_hooks if kept(h)]
    for name in gone:
        del sys.modules[name]


def _uncaught(exc: BaseException, skip: int = 1) -> None:
    """What CPython does with an exception that ends the main module: ``sys.excepthook`` with
    the traceback from the script's first frame (``skip`` frames of pyrun's dropped), then
    exit 1; for ``KeyboardInterrupt``, the usual shutdown (threads joined, ``atexit``) and
    then death by SIGINT, so that a shell loop around the script stops."""
    tb = exc.__traceback__
    for _ in range(skip):
        tb = tb.tb_next if tb is not None else None
    exc.__traceback__ = tb
    sys.excepthook(type(exc), exc, tb)
    if not isinstance(exc, KeyboardInterrupt):
        sys.exit(1)
    import signal

    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    sys.exit(130)  # pragma: no cover - SIGINT ignored by the parent
