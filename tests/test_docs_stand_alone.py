"""The repository's docs stand alone: nothing in docs/, the README or the code
points at design documents that are not in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Spelled in pieces, so this file does not itself hold what it looks for.
OUTSIDE = re.compile("|".join(("DES" + "IGN §", "STY" + r"LE\.md", r"\.\./" + "shared")))


def test_no_file_points_outside_the_repository():
    found = []
    for pattern in ("*.md", "docs/*.md", "**/*.py", "templates/**/*.html"):
        for path in ROOT.glob(pattern):
            if ".venv" in path.parts:
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
                if OUTSIDE.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
