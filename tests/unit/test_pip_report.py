"""pip's installation report read into pins, and pins written back as hash-checked pip input."""

from __future__ import annotations

import json

from pyrun.resolution import parse_pip_report, pip_requirements

REPORT = {
    "version": "1",
    "install": [
        {"metadata": {"name": "Six", "version": "1.17.0"},
         "download_info": {"url": "https://files.example/six-1.17.0-py2.py3-none-any.whl",
                           "archive_info": {"hash": "sha256=aa", "hashes": {"sha256": "aa"}}}},
        {"metadata": {"name": "docopt", "version": "0.6.2"},
         "download_info": {"url": "https://files.example/docopt-0.6.2.tar.gz",
                           "archive_info": {"hashes": {"sha256": "bb"}}}},
        {"metadata": {"name": "mine", "version": "1"},
         "download_info": {"url": "https://git.example/mine",
                           "vcs_info": {"vcs": "git", "commit_id": "abc"}}},
    ],
}


def test_report_to_pins() -> None:
    pins = parse_pip_report(json.dumps(REPORT))
    assert [(p.name, p.version, p.kind, p.sha256) for p in pins] == [
        ("docopt", "0.6.2", "sdist", "bb"), ("mine", "1", "vcs", ""), ("six", "1.17.0", "wheel", "aa")]


def test_pins_to_requirements() -> None:
    pins = parse_pip_report(json.dumps(REPORT))
    assert pip_requirements([pins[0], pins[2]]).splitlines() == [
        "docopt @ https://files.example/docopt-0.6.2.tar.gz --hash=sha256:bb",
        "six @ https://files.example/six-1.17.0-py2.py3-none-any.whl --hash=sha256:aa",
    ]
    # one artifact without a hash: no hash-checking mode (pip wants all or none)
    assert "--hash" not in pip_requirements(pins) and "mine==1" in pip_requirements(pins)
