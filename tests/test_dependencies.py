"""Imports between the apps point one way (docs/architecture.md, "Dependencies between apps").

    incidentio.common ← orgs ← incidentio.api ← incidentio.incidents ← learning ← {slackbot, webhooks, insights}

A module may import its own layer and the layers to its left. Views, API
endpoints, URL confs, listeners, Celery task adapters, admin and management
commands are leaves: they sit on top and may import any app. The few
exceptions are listed below with their reason; a new one fails here, so it
is a decision rather than an accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("incidentio", "orgs", "learning", "slackbot", "webhooks", "insights")

LAYERS = {
    "incidentio.common": 0,
    "orgs": 1,
    "incidentio.api": 2,
    "incidentio.incidents": 3,
    "learning": 4,
    "slackbot": 5,
    "webhooks": 5,
    "insights": 5,
}

#: Module names (or their last parts) that are leaves.
LEAF_PARTS = {"views", "urls", "settings_urls", "settings_views", "account_views", "admin", "apps", "listeners",
              "tasks", "commands", "api", "demo", "config"}

#: importing module → the packages it may reach up to, and why.
EXCEPTIONS = {
    # Deleting a learning status moves its tasks to another (the flow's data).
    ("incidentio.incidents.services.configuration", "learning"),
    # The org's overview counts the viewer's open learning tasks.
    ("incidentio.incidents.selectors", "learning"),
    # The flow queues its Slack messages in the outbox, in the same transaction.
    ("learning.services.flow", "slackbot"),
    # The flow's Slack texts escape people's text with the Slack formatting rules.
    ("learning.messages", "slackbot"),
    # Digests are queued in the outbox with the period as dedupe key, their Slack text escaped.
    ("learning.services.digests", "slackbot"),
    # The reminder sweep queues its DMs in the outbox, in the sweep's transaction
    # (its unique dedupe keys are the ledger of the slots sent).
    ("learning.services.reminders", "slackbot"),
    # The reminders' Slack texts escape people's text and name the Slack buttons.
    ("learning.reminder_messages", "slackbot"),
}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    name = ".".join(parts[:2]) if parts[0] == "incidentio" else parts[0]
    return name if name in LAYERS else None


def _is_leaf(module: str) -> bool:
    return bool(LEAF_PARTS & set(module.split(".")[1:])) or module.endswith("_views")


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield module.removesuffix(".__init__"), path


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_imports_point_one_way():
    upward = []
    for module, path in _modules():
        layer = _layer(module)
        if layer is None or _is_leaf(module):
            continue
        for imported in _imports(path):
            target = _layer(imported)
            if target is None or LAYERS[target] <= LAYERS[layer] or (module, target) in EXCEPTIONS:
                continue
            upward.append(f"{module} imports {imported}")
    assert upward == [], "imports against the layering (move the code, or add a reasoned exception):\n" + "\n".join(
        upward
    )


def test_every_exception_is_still_needed():
    """An exception that no longer happens is removed, so the list stays the truth."""
    used = set()
    for module, path in _modules():
        for imported in _imports(path):
            target = _layer(imported)
            if (module, target) in EXCEPTIONS:
                used.add((module, target))
    assert used == EXCEPTIONS
