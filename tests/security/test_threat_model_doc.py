"""docs/security.md names a test for every line of the threat model: each
named file and test must exist, so the page cannot promise what nothing checks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "security.md"
#: `tests/x.py::test_name`, `::test_name` (same file as the reference before it) or `tests/x.py`
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(test_\w+))?`")


def _references() -> list[tuple[str, str | None]]:
    found, current = [], None
    for path, name in REFERENCE.findall(PAGE.read_text()):
        if not path and not name:
            continue
        current = path or current
        found.append((current, name or None))
    return found


def test_the_page_names_tests():
    assert len(_references()) > 40


def test_every_test_the_page_names_exists():
    missing = []
    for path, name in _references():
        file = ROOT / path
        if not file.is_file():
            missing.append(path)
        elif name and not re.search(rf"^\s*def {name}\(", file.read_text(), re.M):
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
