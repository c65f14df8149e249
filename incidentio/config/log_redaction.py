"""Links that carry a credential, kept out of the logs.

An invitation link, a password-reset link, an e-mail confirmation link and a
break-glass sign-in link each let whoever holds them into an account. Their key travels in the URL path, so
every log line that names the path (Django's "Bad Request: /invitations/…",
gunicorn's access log with its request line and Referer, the ``next`` of a
sign-in page) would hand it to anyone who reads the logs. The key is replaced
by ``[redacted]``; the rest of the line stays as it was.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

# The path segment after each prefix, raw or percent-encoded (as in ?next=).
_SECRET_SEGMENT = re.compile(
    r"((?:/|%2F)(?:invitations|password(?:/|%2F)reset(?:/|%2F)key|confirm-email|break-glass)(?:/|%2F))"
    r"(?!done(?:/|%2F))[^/\s\"'?&#%]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    return _SECRET_SEGMENT.sub(r"\1[redacted]", text)


class RedactSecretLinks(logging.Filter):
    """On a handler: every record it writes, whichever logger it came from."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class GunicornLogger(Logger):
    """gunicorn's logger, redacting its access log (request line, query, Referer)
    and its error log ("Error handling request /invitations/…"); set in
    gunicorn.conf.py."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.addFilter(RedactSecretLinks())
