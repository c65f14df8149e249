"""The charts' vendored scripts (static/vendor/) are the versions the Makefile pins for ``make vendor``."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pinned(name: str) -> str:
    return re.search(rf"^{name} := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)


def test_vendored_plot_and_d3_are_the_pinned_versions_with_their_licenses():
    plot = (ROOT / "static/vendor/plot/plot.umd.min.js").read_text()
    d3 = (ROOT / "static/vendor/d3/d3.min.js").read_text()
    assert plot.startswith(f"// @observablehq/plot v{_pinned('PLOT_VERSION')} ")
    assert d3.startswith(f"// https://d3js.org v{_pinned('D3_VERSION')} ")
    for package in ("plot", "d3"):
        assert "Permission to use, copy, modify" in (ROOT / "static/vendor" / package / "LICENSE").read_text()
