"""Reading a page's form errors as a person sees them: next to their field."""

from __future__ import annotations

import html
import re


def error_next_to(page: str, field_id: str) -> str:
    """The error text shown next to the field whose id is ``field_id``, or "".

    A field rendered by ``templates/_field.html`` has its errors in its own
    ``<div class="field has-error">``, after its label; a hand-written one names
    its error element in ``aria-describedby`` (``<id>-error``, as
    ``templates/_field_errors.html`` writes it).
    """
    described = re.search(rf'<[^>]+\bid="{re.escape(field_id)}"[^>]*>', page)
    if described and 'aria-invalid="true"' in described.group(0):
        found = re.search(rf'<small class="error" id="{re.escape(field_id)}-error"[^>]*>(.*?)</small>', page, re.S)
        if found:
            return html.unescape(found.group(1)).strip()
    block = re.search(
        rf'<div class="field[^"]*has-error[^"]*"><label for="{re.escape(field_id)}">.*?</div>', page, re.S
    )
    if block:
        errors = re.findall(r'<small class="error"[^>]*>(.*?)</small>', block.group(0), re.S)
        return " ".join(html.unescape(error).strip() for error in errors)
    return ""
