"""Composition decisions over real directory trees laid out as pool entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrun.engine.composition import compose, ordered, top_level_name
from pyrun.engine.launchers import neutral_script, shebang, write_wrapper
from pyrun.engine.pool import PoolEntry
from pyrun.engine.resolution import LockedDistribution
from pyrun.errors import UsageError


def entry(root: Path, name: str, files: dict[str, str]) -> PoolEntry:
    """A pool entry directory holding ``files`` (relative to its site-packages)."""
    key = f"{name}-1.0-{'0' * 32}"
    for rel, text in files.items():
        p = root / key / "site-packages" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    dist = LockedDistribution(name=name, version="1.0", kind="wheel", url="", sha256="",
                              package={})
    return PoolEntry(key, root / key, dist)


def test_order_is_by_canonical_name(tmp_path: Path) -> None:
    es = [entry(tmp_path, n, {}) for n in ("Zope.Interface", "attrs", "Babel")]
    assert [e.distribution.name for e in ordered(es)] == ["attrs", "Babel", "Zope.Interface"]


def test_namespace_portions_are_not_overlaps(tmp_path: Path) -> None:
    es = [
        entry(tmp_path, "jaraco-a", {"jaraco/a/__init__.py": ""}),
        entry(tmp_path, "jaraco-b", {"jaraco/b/__init__.py": ""}),
        entry(tmp_path, "backports-x", {
            "backports/__init__.py":
                "__path__ = __import__('pkgutil').extend_path(__path__, __name__)",
            "backports/x.py": ""}),
        entry(tmp_path, "backports-y", {"backports/__init__.py":
                                        "__import__('pkg_resources').declare_namespace(__name__)",
                                        "backports/y.py": ""}),
    ]
    plan = compose(es)
    assert plan.mode == "pooled" and plan.overlaps == () and plan.reasons == ()


def test_rival_modules_warn_and_first_by_name_wins(tmp_path: Path) -> None:
    es = [
        entry(tmp_path, "python-magic", {"magic/__init__.py": "x", "magic/loader.py": ""}),
        entry(tmp_path, "file-magic", {"magic.py": ""}),
        entry(tmp_path, "opencv-python-headless", {"cv2/__init__.py": "", "cv2/data.py": ""}),
        entry(tmp_path, "opencv-python", {"cv2/__init__.py": "", "cv2/data.py": ""}),
    ]
    plan = compose(es)
    assert plan.mode == "pooled"
    got = {o.name: (o.winner, o.others) for o in plan.overlaps}
    assert got == {"magic": ("file-magic", ("python-magic",)),
                   "cv2": ("opencv-python", ("opencv-python-headless",))}
    hidden = plan.hidden_names()
    assert hidden == {es[0].key: frozenset({"magic"}), es[2].key: frozenset({"cv2"})}
    assert "file-magic's copy is used" in plan.overlaps[1].message()


def test_shared_native_libraries_need_a_farm(tmp_path: Path) -> None:
    es = [
        entry(tmp_path, "cmeel-a", {"cmeel.prefix/lib/liba.so.1": ""}),
        entry(tmp_path, "cmeel-b", {"cmeel.prefix/lib/libb.so": ""}),
    ]
    plan = compose(es)
    assert plan.mode == "link-farm"
    assert plan.reasons == (
        "cmeel.prefix/ holds native libraries and is shared by cmeel-a, cmeel-b",)
    assert compose(es, "pooled").mode == "pooled"


def test_extension_modules_are_not_shared_libraries(tmp_path: Path) -> None:
    es = [
        entry(tmp_path, "google-a", {"google/a/_m.cpython-312-x86_64-linux-gnu.so": ""}),
        entry(tmp_path, "google-b", {"google/b/libthing.abi3.so": ""}),
    ]
    assert compose(es).mode == "pooled"


def test_split_regular_package_needs_a_farm(tmp_path: Path) -> None:
    """Older nvidia-* wheels each ship an empty nvidia/__init__.py and their own subpackage."""
    es = [
        entry(tmp_path, "nvidia-cublas", {"nvidia/__init__.py": "", "nvidia/cublas/x.py": ""}),
        entry(tmp_path, "nvidia-cudnn", {"nvidia/__init__.py": "", "nvidia/cudnn/x.py": ""}),
    ]
    plan = compose(es)
    assert plan.mode == "link-farm" and plan.overlaps == ()
    assert "package nvidia is split across nvidia-cublas, nvidia-cudnn" in plan.reasons


def test_known_site_packages_searcher_needs_a_farm(tmp_path: Path) -> None:
    es = [entry(tmp_path, "cuda_pathfinder", {"cuda/pathfinder/__init__.py": ""})]
    assert compose(es).mode == "link-farm"
    assert compose(es, "pooled").mode == "pooled"


def test_unknown_composition(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--composition must be one of auto, pooled, link-farm"):
        compose([], "copy")


@pytest.mark.parametrize(
    ("filename", "name"),
    [("attr.py", "attr"), ("_cffi_backend.cpython-312-x86_64-linux-gnu.so", "_cffi_backend"),
     ("attr", "attr"), ("README.txt", "README.txt"), ("x.pth", "x.pth")],
)
def test_top_level_name(filename: str, name: str) -> None:
    assert top_level_name(filename) == name


def test_neutral_script_undoes_the_installers_shebang(tmp_path: Path) -> None:
    exe = "/opt/python/bin/python3.12"
    cases = {
        "plain": (f"#!{exe}\nprint(1)\n", "#!python\nprint(1)\n"),
        "trampoline": (f"#!/bin/sh\n'''exec' '{exe}' \"$0\" \"$@\"\n' '''\nprint(2)\n",
                       "#!python\nprint(2)\n"),
        "shell": ("#!/bin/sh\necho hi\n", "#!/bin/sh\necho hi\n"),
    }
    for name, (before, after) in cases.items():
        src, dest = tmp_path / f"{name}.src", tmp_path / name
        src.write_text(before)
        neutral_script(src, dest, exe)
        assert dest.read_text() == after and not src.exists(), name


def test_wrapper_forms(tmp_path: Path) -> None:
    write_wrapper(tmp_path / "a", "/env/bin/python", "pkg.cli:main.run [extra]")
    write_wrapper(tmp_path / "b", "/env/bin/python", "pkg.__main__")
    a, b = (tmp_path / "a").read_text(), (tmp_path / "b").read_text()
    assert "from pkg.cli import main\n" in a and "sys.exit(main.run())" in a
    assert "import pkg.__main__\n" in b and "sys.exit(0)" in b
    compile(a, "a", "exec"), compile(b, "b", "exec")
    assert shebang("/" + "x" * 200).startswith("#!/bin/sh\n")
