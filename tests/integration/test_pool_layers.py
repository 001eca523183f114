"""Pool layers (issue 26, point 1): read-only pools below the user's own
(``PYRUN_POOL_PATH``), seeded by ``pyrun cache seed --into``. With real uv and PyPI: a layer's
entry is read in place and nothing is written to the user's pool; a layer others can write is
refused with a message naming it; a layer on a read-only mount works; a damaged layer entry is
what ``pyrun cache verify`` reports; a root-owned layer seeded by root serves another user,
whose cache gets no entry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Runner, write

SCRIPT = ('# /// script\n# dependencies = ["six"]\n# ///\n'
          "import six, sys\nprint(six.__file__)\nprint(sys.prefix)\n")


def entries(cache: Path) -> list[str]:
    pool = cache / "pool"
    return sorted(p.name for p in pool.iterdir() if not p.name.startswith(".")) \
        if pool.is_dir() else []


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layer holding six, seeded with ``pyrun cache seed``."""
    tmp = tmp_path_factory.mktemp("layers")
    seeder = Runner(cache=tmp / "seed-cache", uv_cache=tmp / "uv-cache")
    out = seeder("cache", "seed", "--into", str(tmp / "layer"),
                 str(write(tmp / "seed.py", SCRIPT)))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "1 pool entry added" in out.stdout
    assert entries(tmp / "seed-cache") == []  # moved into the layer, the scratch cache gone
    names = sorted(p.name for p in (tmp / "layer").iterdir())
    assert names[0] == ".stamps" and names[1].startswith("six-") and len(names) == 2, names
    return tmp / "layer"


def test_a_layer_entry_is_read_in_place(seeded: Path, tmp_path: Path) -> None:
    run = Runner(cache=tmp_path / "cache", uv_cache=tmp_path / "uv-cache")
    out = run(str(write(tmp_path / "s.py", SCRIPT)), PYRUN_POOL_PATH=str(seeded))
    assert out.returncode == 0, out.stderr[-3000:]
    six_file, prefix = out.stdout.split()
    assert six_file.startswith(str(seeded) + os.sep)
    assert prefix.startswith(str(tmp_path / "cache" / "envs"))
    assert entries(tmp_path / "cache") == []
    info = run("cache", "info", PYRUN_POOL_PATH=str(seeded))
    assert f"pool layer: {seeded}: 1 entry, 1 read by this cache's environments" in info.stdout


def test_a_layer_others_can_write_is_refused(seeded: Path, tmp_path: Path) -> None:
    mode = seeded.stat().st_mode
    seeded.chmod(mode | 0o002)
    try:
        run = Runner(cache=tmp_path / "cache", uv_cache=tmp_path / "uv-cache")
        out = run(str(write(tmp_path / "s.py", SCRIPT)), PYRUN_POOL_PATH=str(seeded))
        assert out.returncode == 0, out.stderr[-3000:]
        assert (f"the pool layer {seeded} is not used: everyone can write to it"
                in out.stderr)
        assert out.stdout.split()[0].startswith(str(tmp_path / "cache" / "pool"))
        assert [e[:4] for e in entries(tmp_path / "cache")] == ["six-"]
    finally:
        seeded.chmod(mode)


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-m", "mount", "-t", "tmpfs", "none", "/mnt"],
        capture_output=True).returncode == 0


@pytest.mark.skipif(not can_mount(), reason="needs root and unshare -m (a mount namespace)")
def test_a_layer_on_a_read_only_mount(seeded: Path, tmp_path: Path) -> None:
    mounted = tmp_path / "ro-layer"
    mounted.mkdir()
    run = Runner(cache=tmp_path / "cache", uv_cache=tmp_path / "uv-cache")
    script = write(tmp_path / "s.py", SCRIPT)
    shell = ('mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && '
             'touch "$2/x" 2>/dev/null && exit 9; shift 2; exec "$@"')
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", shell, "sh", str(seeded), str(mounted),
         sys.executable, "-m", "pyrun", str(script)],
        capture_output=True, text=True, env=run.env(PYRUN_POOL_PATH=str(mounted)), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0].startswith(str(mounted) + os.sep)
    assert entries(tmp_path / "cache") == []


def test_a_damaged_layer_entry_is_reported_by_verify(seeded: Path, tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    shutil.copytree(seeded, layer, symlinks=True)
    target = next(layer.glob("six-*/site-packages/six.py"))
    target.parent.chmod(0o755)
    target.chmod(0o644)
    stat = target.stat()
    target.write_bytes(target.read_bytes().replace(b"import", b"imp0rt", 1))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # size and mtime kept
    run = Runner(cache=tmp_path / "cache", uv_cache=tmp_path / "uv-cache")
    out = run("cache", "verify", PYRUN_POOL_PATH=str(layer))
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"damaged: {target.parent.parent}" in out.stdout
    assert f"verified the pool layer {layer}: 1 entry, 1 damaged" in out.stdout
    assert target.read_bytes().count(b"imp0rt") == 1  # never changed: not the user's


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"),
                    reason="needs root (to act as another user) and a Python every user runs")
def test_a_root_owned_layer_serves_another_user(tmp_path: Path) -> None:
    """root seeds a layer; the user ``nobody`` runs the script with a cache of its own and the
    layer: it runs, reading six from the layer, and nobody's pool stays empty."""
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="pyrun-layers-"))  # pytest's own is root's alone
    try:
        shared.chmod(0o755)
        _serve_another_user(shared, tmp_path)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _serve_another_user(shared: Path, tmp_path: Path) -> None:
    from pyrun.engine.installers.uv import find_uv

    venv = shared / "venv"  # a pyrun every user can run: /usr/bin/python3's, outside /root
    subprocess.run([find_uv(), "venv", "-q", "-p", "/usr/bin/python3", str(venv)], check=True)
    subprocess.run([find_uv(), "pip", "install", "-q", "--python", str(venv / "bin/python"),
                    str(Path(__file__).resolve().parents[2])], check=True,
                   env={**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-root")})
    python = os.path.realpath("/usr/bin/python3")
    script = write(shared / "s.py", SCRIPT)
    script.chmod(0o644)
    base = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PYRUN_COMPILE": "foreground",
            **{k: v for k, v in os.environ.items() if k.startswith(("SSL_", "REQUESTS_CA"))}}
    seed = subprocess.run(
        [str(venv / "bin/pyrun"), "cache", "seed", "--python", python, "--into",
         str(shared / "layer"), str(script)], capture_output=True, text=True, timeout=600,
        env={**base, "HOME": str(tmp_path), "PYRUN_CACHE_DIR": str(tmp_path / "root-cache"),
             "UV_CACHE_DIR": str(tmp_path / "uv-root")})
    assert seed.returncode == 0, seed.stderr[-3000:]
    layer = shared / "layer"
    assert layer.stat().st_uid == 0 and not layer.stat().st_mode & 0o022
    home = shared / "nobody"
    home.mkdir()
    os.chown(home, 65534, 65534)
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         str(venv / "bin/pyrun"), "--python", python, str(script)],
        capture_output=True, text=True, timeout=600,
        env={**base, "HOME": str(home), "PYRUN_CACHE_DIR": str(home / "cache"),
             "UV_CACHE_DIR": str(home / "uv-cache"), "PYRUN_POOL_PATH": str(layer)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0].startswith(str(layer) + os.sep)
    assert (home / "cache" / "envs").is_dir() and entries(home / "cache") == []


def test_a_layer_made_writable_later_is_not_used_by_a_warm_run(seeded: Path,
                                                                tmp_path: Path) -> None:
    """The warm path watches the layer and its entries: once others can write to the layer,
    the environment that reads it is not run again; the run builds from your own pool."""
    run = Runner(cache=tmp_path / "cache", uv_cache=tmp_path / "uv-cache")
    script = write(tmp_path / "s.py", SCRIPT)
    first = run(str(script), PYRUN_POOL_PATH=str(seeded))
    assert first.returncode == 0 and first.stdout.startswith(str(seeded)), first.stderr
    warm = run("-v", str(script), PYRUN_POOL_PATH=str(seeded))
    assert "pyrun: warm:" in warm.stderr  # the warm path takes it while the layer is trusted
    mode = seeded.stat().st_mode
    seeded.chmod(mode | 0o020)
    try:
        again = run("-v", str(script), PYRUN_POOL_PATH=str(seeded))
    finally:
        seeded.chmod(mode)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "pyrun: warm:" not in again.stderr
    assert "is not used: its group can write to it" in again.stderr
    assert again.stdout.startswith(str(tmp_path / "cache" / "pool"))


def test_a_seed_removes_what_a_killed_seed_left(seeded: Path, tmp_path: Path) -> None:
    """A scratch cache whose lock is free is a dead seed's, removed by the next seed; one whose
    lock is held is a running seed's, kept, whatever pid its name holds (the pid is for
    people: a seed in a container or on another machine has pids that mean nothing here)."""
    import fcntl

    layer = tmp_path / "layer"
    layer.mkdir(mode=0o755)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    dead = layer / f".seed-{gone}-0badc0de"        # a killed seed's scratch, its lock free
    unlocked = layer / f".seed-{gone}-0badf00d"    # killed before its lock file was written
    alive = layer / f".seed-{gone}-c0ffee00"       # a running seed's (its pid means nothing)
    orphan = layer / f".seed-{gone}-deadbeef.lock"  # its seed died after removing its cache
    for scratch in (dead, unlocked, alive):
        (scratch / "pool" / "six-1.0-x").mkdir(parents=True)
    (layer / f"{dead.name}.lock").touch()
    orphan.touch()
    with open(layer / f"{alive.name}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        seeder = Runner(cache=tmp_path / "cache", uv_cache=seeded.parent / "uv-cache")
        out = seeder("cache", "seed", "--into", str(layer),
                     str(write(tmp_path / "s.py", SCRIPT)))
    assert out.returncode == 0, out.stderr[-3000:]
    names = sorted(p.name for p in layer.iterdir())
    assert names == sorted([".stamps", alive.name, f"{alive.name}.lock",
                            *[n for n in names if n.startswith("six-")]]), names
    assert [n for n in names if n.startswith("six-")], names  # the seed itself left no scratch


def _offline(seeded: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pyrun -v ARGS`` with the layer, empty caches of its own, in a network namespace
    with no network."""
    env = Runner(cache=tmp_path / "cache", uv_cache=tmp_path / "uv-cache").env(
        PYRUN_POOL_PATH=str(seeded))
    return subprocess.run(["unshare", "-rn", sys.executable, "-m", "pyrun", "-v", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def no_network() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rn", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not no_network(), reason="needs unshare -rn (a network namespace)")
def test_a_new_script_resolves_from_a_layer_s_fresh_entries(seeded: Path,
                                                             tmp_path: Path) -> None:
    """The seed leaves the index's choices as the layer's stamps: a new block (another
    spelling) resolves from the layer's entries as from the user's own pool, with no index,
    no network and empty caches; stamps older than the window answer only because the index
    cannot be reached, with a warning."""
    stamps = list((seeded / ".stamps").glob("*/six-*"))
    assert len(stamps) == 1 and (stamps[0].stat().st_mode & 0o777) == 0o644
    script = write(tmp_path / "new.py", SCRIPT.replace('"six"', '"Six>=1.0"'))
    out = _offline(seeded, tmp_path, str(script))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "resolved 1 distribution(s) from the pool" in out.stderr, out.stderr[-3000:]
    assert "compile" not in out.stderr, out.stderr
    assert out.stdout.split()[0].startswith(str(seeded) + os.sep)
    assert entries(tmp_path / "cache") == []

    old = stamps[0].stat().st_mtime
    os.utime(stamps[0], (old - 3 * 86400, old - 3 * 86400))  # chosen three days ago
    try:
        again = _offline(seeded, tmp_path / "b", str(write(tmp_path / "b.py", SCRIPT.replace(
            '"six"', '"six>=1.1"'))))
        assert again.returncode == 0, again.stderr[-3000:]
        assert "no six>=1.1 on offer" in again.stderr  # too old for the window: the index
        assert "cannot be reached: running with what the pool holds" in again.stderr
        assert again.stdout.split()[0].startswith(str(seeded) + os.sep)
    finally:
        os.utime(stamps[0], (old, old))
