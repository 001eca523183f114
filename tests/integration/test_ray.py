"""Ray's workers in a driver's pyrun environment (issue 26, point 3): a local cluster of two
nodes (``ray start``: a head and a second node, one CPU each) inside a network namespace that
has only loopback, nodes that load :class:`pyrun.ray.PyrunPlugin` and a driver run by
``pyrun driver.py`` with ``RAY_RUNTIME_ENV_HOOK=pyrun.ray.hook`` and a plain ``ray.init()``.

Each task reports ``sys.prefix``, its Python version and the version of a package of the
block: on the head (whose pyrun cache is the driver's) the tasks run in the driver's very
environment; the second node has a cache of its own and no index (``UV_OFFLINE``, and no
network), so it composes the same set from uv's cache into its own pool. A second job with the
same block adds no pool entry and no environment on either node.

The driver's environment is built before the namespace is entered (from PyPI, like the other
integration tests); inside it nothing can leave the machine. Skipped without Ray in the
interpreter running the tests (``pip install 'pyrun-scripts[ray]'``), without root, or
without ``unshare``/``nsenter``. The cluster's processes are the namespace's: they are
ended by their ids (found through ``/proc/PID/ns/net``), never by name.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Runner, wait_for_line, wait_until, write

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                       reason="Ray is not installed (pip install 'pyrun-scripts[ray]')"),
    pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                       reason="a network namespace needs root"),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("unshare", "nsenter")),
                       reason="needs unshare and nsenter (util-linux)"),
]

HEAD_PORT = 6380  # the namespace is new: every port in it is free

DRIVER = '''\
# /// script
# dependencies = ["ray=={ray}", "six==1.16.0"]
# ///
import json
import os
import sys
import time

if os.environ.get("BUILD_ONLY"):
    sys.exit(0)

import ray
import six
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


@ray.remote
def where():
    import sys

    import six

    return {{"prefix": sys.prefix, "python": list(sys.version_info[:2]),
            "six": six.__version__, "node": ray.get_runtime_context().get_node_id()}}


ray.init()
deadline = time.monotonic() + 120
while len([n for n in ray.nodes() if n["Alive"]]) < 2:  # both nodes have registered
    assert time.monotonic() < deadline, ray.nodes()
    time.sleep(0.1)
nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
tasks = ray.get([where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False))
                 .remote() for n in nodes])
print("RESULT", json.dumps({{"prefix": sys.prefix, "python": list(sys.version_info[:2]),
                            "six": six.__version__, "tasks": tasks}}))
'''


#: ``ip link set lo up`` without iproute2 (a fresh machine may lack it): the interface's flags
#: read and set again with ``IFF_UP`` (``SIOCGIFFLAGS``/``SIOCSIFFLAGS``, netdevice(7)); then
#: "up", and the namespace held until the input closes.
LOOPBACK_UP = """\
import fcntl, socket, struct, sys
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    got = fcntl.ioctl(s, 0x8913, struct.pack("16sH22x", b"lo", 0))
    flags = struct.unpack("16sH22x", got)[1]
    fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 0x1))
print("up", flush=True)
sys.stdin.read()
"""


class Namespace:
    """A network namespace with only loopback, held open by one process (``cat``, until its
    input closes); commands run in it through ``nsenter``."""

    def __init__(self) -> None:
        self.holder = subprocess.Popen(
            ["unshare", "-n", "--", sys.executable, "-c", LOOPBACK_UP],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.holder.stdout is not None
        wait_for_line(self.holder.stdout, "up", timeout=30)
        self.net = os.readlink(f"/proc/{self.holder.pid}/ns/net")

    def run(self, args: list[str], env: dict[str, str], timeout: float = 300
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "--", *args],
                              capture_output=True, text=True, env=env, timeout=timeout,
                              check=False)

    def members(self) -> list[int]:
        """The processes in the namespace besides its holder."""
        found = []
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) != self.holder.pid:
                try:
                    if os.readlink(f"/proc/{name}/ns/net") == self.net:
                        found.append(int(name))
                except OSError:
                    continue
        return found

    def close(self) -> None:
        """End every process in the namespace (Ray's daemons): SIGTERM, then SIGKILL."""
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 30.0)):
            for pid in self.members():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            try:
                wait_until(lambda: not [p for p in self.members() if not _zombie(p)],
                           "the cluster's processes ended", timeout=grace)
                break
            except pytest.fail.Exception:
                if sig == signal.SIGKILL:
                    raise
        assert self.holder.stdin is not None and self.holder.stdout is not None
        self.holder.stdin.close()
        self.holder.wait(timeout=30)
        self.holder.stdout.close()


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    probe = subprocess.run(["unshare", "-n", "--", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not allowed here: {probe.stderr.decode()[-300:]}")
    ns = Namespace()
    try:
        yield ns
    finally:
        ns.close()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path for the nodes' temporary directories: their sockets'
    paths must fit ``AF_UNIX``'s 107 bytes, which pytest's ``tmp_path`` can exceed."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="pyrun-ray-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _listing(cache: Path, part: str) -> set[str]:
    top = cache / part
    return {p.name for p in top.iterdir() if not p.name.startswith(".")} if top.is_dir() else set()


def _result(out: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-6000:])
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, (out.stdout[-3000:], out.stderr[-6000:])
    result: dict[str, object] = json.loads(lines[-1][len("RESULT "):])
    return result


def test_a_driver_s_tasks_run_in_its_environment_on_every_node(
        pyrun: Runner, tmp_path: Path, short_dir: Path, namespace: Namespace) -> None:
    from importlib.metadata import version

    head_cache, node_cache = tmp_path / "cache", tmp_path / "node-cache"
    runner = Runner(cache=head_cache, uv_cache=pyrun.uv_cache)
    driver = write(tmp_path / "driver.py", DRIVER.format(ray=version("ray")))
    second = write(tmp_path / "second.py", driver.read_text(encoding="utf-8"))
    python = ("--python", sys.executable)  # the cluster's Python: Ray wants the driver's
    built = runner(*python, str(driver), BUILD_ONLY="1")  # with the network, before the namespace
    assert built.returncode == 0, built.stderr[-3000:]

    ray_env = runner.env(RAY_RUNTIME_ENV_PLUGINS='[{"class": "pyrun.ray.PyrunPlugin"}]',
                         RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    ray = [sys.executable, "-m", "ray.scripts.scripts", "start", "--node-ip-address",
           "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
    head = namespace.run([*ray, "--head", "--port", str(HEAD_PORT), "--include-dashboard=false",
                          "--temp-dir", str(short_dir / "h"),
                          "--dashboard-agent-listen-port", "52400"], ray_env)
    assert head.returncode == 0, head.stderr[-4000:]
    node = namespace.run([*ray, "--address", f"127.0.0.1:{HEAD_PORT}",
                          "--temp-dir", str(short_dir / "n"),
                          "--dashboard-agent-listen-port", "52401"],
                         {**ray_env, "PYRUN_CACHE_DIR": str(node_cache), "UV_OFFLINE": "1"})
    assert node.returncode == 0, node.stderr[-4000:]

    job_env = runner.env(RAY_ADDRESS=f"127.0.0.1:{HEAD_PORT}", RAY_AUTH_MODE="disabled",
                         RAY_RUNTIME_ENV_HOOK="pyrun.ray.hook")  # pyrun finds its hook itself
    run = [sys.executable, "-m", "pyrun", *python]
    first = _result(namespace.run([*run, str(driver)], job_env))
    tasks = first["tasks"]
    assert isinstance(tasks, list) and len(tasks) == 2, first
    prefix = Path(str(first["prefix"]))
    assert prefix.parent == head_cache / "envs" and first["six"] == "1.16.0"
    assert first["python"] == list(sys.version_info[:2])
    prefixes = sorted(Path(t["prefix"]) for t in tasks)
    assert prefixes == sorted([prefix, node_cache / "envs" / prefix.name]), first
    for task in tasks:
        assert task["python"] == first["python"] and task["six"] == "1.16.0", task
        assert (Path(task["prefix"]) / "pyrun-env.json").is_file(), task

    before = {(c, part): _listing(c, part) for c in (head_cache, node_cache)
              for part in ("pool", "envs")}
    assert before[(node_cache, "pool")], "the second node composed from a pool of its own"
    again = _result(namespace.run([*run, str(second)], job_env))
    tasks = again["tasks"]
    assert isinstance(tasks, list) and sorted(Path(t["prefix"]) for t in tasks) == prefixes
    after = {(c, part): _listing(c, part) for c in (head_cache, node_cache)
             for part in ("pool", "envs")}
    assert after == before
