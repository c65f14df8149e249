"""Small helpers for the sentences we write to people."""

from __future__ import annotations

_SENTENCE_ENDS = (".", "!", "?", "…")


def full_stop(text: str) -> str:
    """``text`` ending a sentence: a full stop after it, unless it ends with one
    already — "in Acme Inc." rather than "in Acme Inc.." (names are the
    organization's own, and some end in an abbreviation)."""
    text = str(text)
    return text if text.rstrip().endswith(_SENTENCE_ENDS) else f"{text}."
