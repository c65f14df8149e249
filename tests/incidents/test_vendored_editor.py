"""The post-mortem editor's vendored files (static/vendor/easymde/) are the
version the Makefile pins for ``make vendor``, with its license."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_vendored_easymde_is_the_pinned_version_with_its_stylesheet_and_license():
    pinned = re.search(r"^EASYMDE_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    vendor = ROOT / "static/vendor/easymde"
    assert f" * easymde v{pinned}\n" in (vendor / "easymde.min.js").read_text()[:200]
    assert f" * easymde v{pinned}\n" in (vendor / "easymde.min.css").read_text()[:200]
    assert "Permission is hereby granted, free of charge" in (vendor / "LICENSE").read_text()
