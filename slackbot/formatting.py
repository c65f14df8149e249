"""The one way text goes into a Slack message.

Slack reads ``&``, ``<`` and ``>`` as control characters in message text and in
``mrkdwn`` text objects: ``<!channel>`` pings a channel, ``<@U…>`` mentions a
user, ``<https://…|label>`` shows a link under any label. So every piece of
text a user wrote (incident names, summaries, updates, reasons, task titles and
instructions, people's and orgs' names, status/severity/role names, echoed
command arguments) goes through ``escape`` ("Escaping text" in Slack's
*Formatting message text*), and our own markup is built around the escaped
text with ``mention`` and ``link``.

``plain_text`` objects (button labels, modal titles, input values, select
options) are not parsed for markup and show entities literally: text going
there is not escaped.
"""

from __future__ import annotations

import html
import re

#: A Slack user id as Slack sends it (``U…``, or ``W…`` on Enterprise Grid).
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,20}$")


def escape(text: object) -> str:
    """``text`` as literal Slack text: only ``&``, ``<`` and ``>`` are replaced,
    as Slack asks (entity-encoding anything else would show up as typed)."""
    return html.escape("" if text is None else str(text), quote=False)


def unescape(text: str) -> str:
    """Undo ``escape`` (and Slack's own escaping of what users type in a slash
    command): the three entities back to characters, ``&amp;`` last so that
    ``&amp;lt;`` becomes ``&lt;``, not ``<``."""
    return (text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mention(slack_user_id: str) -> str:
    """``<@U…>`` for a well-formed Slack user id; anything else is shown as text."""
    if SLACK_USER_ID.match(slack_user_id or ""):
        return f"<@{slack_user_id}>"
    return escape(slack_user_id)


def link(url: str, label: str = "") -> str:
    """A link to one of our own URLs, under an escaped ``label``.

    In ``<url|label>`` the first ``|`` ends the URL and ``>`` ends the link, so
    they may not appear raw in the URL; in the label, escaping ``>`` is enough.
    """
    url = escape(url).replace("|", "%7C")
    return f"<{url}|{escape(label)}>" if label else f"<{url}>"
