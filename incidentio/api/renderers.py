"""The API's JSON renderer: DRF's ``JSONRenderer`` output, encoded by orjson.

The incidents list is the API's busiest read, and with DRF's renderer a
quarter of its time went to ``json.dumps`` and to formatting each timestamp
and id in Python (docs/performance.md). orjson writes the same JSON in Rust,
timestamps and UUIDs included, so the fast list paths hand it ``datetime`` and
``UUID`` values as they come from the database.

What stays as DRF renders it:
- compact output (``COMPACT_JSON``), UTF-8 (``UNICODE_JSON``), and
  ``Accept: application/json; indent=N`` pretty-printing (orjson indents by 2);
- datetimes as ``isoformat()`` with a UTC offset written ``Z``, microseconds
  only when there are some;
- U+2028 and U+2029 escaped, so the output stays a strict JavaScript subset;
- any other type (lazy translations, ``Decimal``…) through DRF's own encoder.
"""

from __future__ import annotations

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
_fallback = JSONEncoder().default


class FastJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type, renderer_context or {})
        options = _OPTIONS | (orjson.OPT_INDENT_2 if indent else 0)
        body = orjson.dumps(data, default=_fallback, option=options)
        if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:  # U+2028, U+2029 in UTF-8
            body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return body


def as_sent(data):
    """``data`` as the API sends it, parsed back: timestamps and ids become the
    very strings the renderer writes. For the API's representations stored or
    sent as JSON elsewhere (webhook payloads), so both read the same."""
    return orjson.loads(orjson.dumps(data, default=_fallback, option=_OPTIONS))
