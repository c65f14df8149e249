"""The Tasks panel: what became of the learning tasks of the incidents in
scope (docs/insights.md, "Tasks").

Each chart is one SQL statement over the org's tasks of the incidents in
scope (``scoped_incident_ids_sql``), so the query count does not depend on
the data. The tables as the statements see them: ``t`` a learning task,
``tt`` its template and ``fl`` the template's flow.
"""

from __future__ import annotations

from datetime import datetime

from insights.charts import Chart, ChartKind, Column, Panel, Unit, incidents_link
from insights.filters import InsightFilters
from insights.panels._sql import fetch_all, org_rows_in_scope_sql
from learning.models import LearningFlow, LearningTask, TaskState, TaskTemplate
from orgs.models import Membership, User

_TASK = LearningTask._meta.db_table
_TEMPLATE, _FLOW = TaskTemplate._meta.db_table, LearningFlow._meta.db_table
_MEMBERSHIP, _USER = Membership._meta.db_table, User._meta.db_table

#: Tasks that no template made: added by hand (or made by a template since deleted).
HAND_ADDED = "Added by hand"
NO_REASON = "No reason given"
UNASSIGNED = "Unassigned"
#: How many (template, reason) bars "Why tasks were not done" shows at most.
REASONS_SHOWN = 10
#: How many people "Overdue tasks by owner" shows at most: those holding the most.
OWNERS_SHOWN = 15

#: A task's outcome (its ``task_state`` drill-down value) → label, in the bars' order.
OUTCOMES = {
    "completed_by_hand": "Completed by hand",
    "completed_automatically": "Completed automatically",
    "not_doing": "Not doing",
    "outstanding": "Outstanding",
}
_OUTCOME_SQL = f"""CASE
    WHEN t.state = '{TaskState.COMPLETED}' AND t.completed_automatically THEN 'completed_automatically'
    WHEN t.state = '{TaskState.COMPLETED}' THEN 'completed_by_hand'
    WHEN t.state = '{TaskState.NOT_DOING}' THEN 'not_doing'
    ELSE 'outstanding' END"""

#: The org's tasks of the incidents in scope; ``{scope}`` is ``org_rows_in_scope_sql`` on ``t``.
_TASKS_IN_SCOPE = f"""
    FROM {_TASK} t
    WHERE {{scope}}"""

# Counted per template id first, then joined to the few templates counted (not
# every task to its template).
_BY_TEMPLATE_SQL = f"""
    SELECT tt.id, tt.public_id, tt.title, fl.name, n.outcome, n.tasks
    FROM (
        SELECT t.template_id, {_OUTCOME_SQL} AS outcome, count(*) AS tasks
        {_TASKS_IN_SCOPE} AND t.created_at >= %s AND t.created_at < %s
        GROUP BY t.template_id, outcome
    ) n
    LEFT JOIN {_TEMPLATE} tt ON tt.id = n.template_id
    LEFT JOIN {_FLOW} fl ON fl.id = tt.flow_id"""

# Reasons are saved trimmed (``task_not_doing``); btrim keeps older rows grouped alike.
_NOT_DOING_SQL = f"""
    SELECT tt.id, tt.public_id, tt.title, fl.name, n.reason, n.tasks
    FROM (
        SELECT t.template_id, btrim(t.not_doing_reason, E' \\t\\r\\n') AS reason, count(*) AS tasks,
               max(t.addressed_at) AS latest
        {_TASKS_IN_SCOPE} AND t.created_at >= %s AND t.created_at < %s AND t.state = '{TaskState.NOT_DOING}'
        GROUP BY t.template_id, reason
    ) n
    LEFT JOIN {_TEMPLATE} tt ON tt.id = n.template_id
    LEFT JOIN {_FLOW} fl ON fl.id = tt.flow_id
    ORDER BY n.tasks DESC, n.latest DESC NULLS LAST, tt.title NULLS LAST, n.reason
    LIMIT {REASONS_SHOWN}"""

# The owner is looked up through the org's membership: someone who has left the
# org owns nothing here any more, so their tasks count as unassigned.
_OVERDUE_SQL = f"""
    SELECT m.public_id, u.name, u.email, sum(n.tasks)::int
    FROM (
        SELECT t.assignee_id, count(*) AS tasks
        {_TASKS_IN_SCOPE} AND t.state = '{TaskState.OUTSTANDING}' AND t.due_at <= %s
        GROUP BY t.assignee_id
    ) n
    LEFT JOIN {_MEMBERSHIP} m ON m.user_id = n.assignee_id AND m.org_id = %s
    LEFT JOIN {_USER} u ON u.id = m.user_id
    GROUP BY m.public_id, u.name, u.email"""


def _scoped(sql: str, org, filters: InsightFilters, *params) -> list[tuple]:
    scope, scope_params = org_rows_in_scope_sql(org, filters, "t")
    return fetch_all(sql.format(scope=scope), [*scope_params, *params])


def _template_labels(templates: dict) -> dict:
    """template id (None: no template) → (label, drill-down value), from
    ``{id: (public_id, title, flow name)}``. Two templates of the same title
    (in two flows) get their flow's name, so their bars can be told apart."""
    titles = [title for _public_id, title, _flow in templates.values()]
    labels = {None: (HAND_ADDED, "none")}
    for template_id, (public_id, title, flow) in templates.items():
        if template_id is not None:
            label = f"{title} ({flow})" if titles.count(title) > 1 else title
            labels[template_id] = (label, str(public_id))
    return labels


def _tasks_by_template(org, filters: InsightFilters) -> Chart:
    found = _scoped(_BY_TEMPLATE_SQL, org, filters, filters.period.start, filters.period.end)
    labels = _template_labels({row[0]: row[1:4] for row in found})
    counts: dict = {}
    for template_id, _public_id, _title, _flow, outcome, n in found:
        counts.setdefault(template_id, {})[outcome] = n
    # The most tasks first; then by name, so the order is the same on every read.
    order = sorted(counts, key=lambda key: (-sum(counts[key].values()), labels[key][0].casefold()))
    period = filters.period.text
    rows = [
        {"template": labels[key][0], "outcome": label, "tasks": counts[key][outcome],
         "link": incidents_link(org, filters, [("task_template", labels[key][1]), ("task_state", outcome),
                                               ("task_created", period)])}
        for key in order for outcome, label in OUTCOMES.items() if outcome in counts[key]
    ]
    return Chart(
        id="tasks_by_template", title="Tasks by template",
        description="Learning tasks of the incidents in scope created in the range, by the template that made "
                    "them and what became of them.",
        kind=ChartKind.HORIZONTAL,
        columns=[Column("template", "Template", Unit.TEXT), Column("outcome", "Outcome", Unit.TEXT),
                 Column("tasks", "Tasks")],
        x="template", y="tasks", series="outcome", rows=rows,
        empty_text="No learning tasks were created in this range. Tasks appear when an incident enters a "
                   "learning status that has task templates, or when someone adds a task to an incident.",
    )


def _not_doing_reasons(org, filters: InsightFilters) -> Chart:
    found = _scoped(_NOT_DOING_SQL, org, filters, filters.period.start, filters.period.end)
    labels = _template_labels({row[0]: row[1:4] for row in found})
    period = filters.period.text
    rows = [
        {"template": labels[template_id][0], "reason": reason or NO_REASON, "tasks": n,
         "link": incidents_link(org, filters, [("task_template", labels[template_id][1]),
                                               ("task_state", "not_doing"), ("task_created", period)])}
        for template_id, _public_id, _title, _flow, reason, n in found
    ]
    return Chart(
        id="not_doing_reasons", title="Why tasks were not done",
        description=f"The reasons given for learning tasks created in the range and marked not doing, per "
                    f"template: the {REASONS_SHOWN} most frequent.",
        kind=ChartKind.HORIZONTAL,
        columns=[Column("template", "Template", Unit.TEXT), Column("reason", "Reason", Unit.TEXT),
                 Column("tasks", "Tasks")],
        x="reason", y="tasks", series="template", rows=rows,
        empty_text="No learning task created in this range was marked not doing. When someone marks a task "
                   "not doing, the reason they give is counted here.",
    )


def _overdue_tasks_by_owner(org, filters: InsightFilters, now: datetime) -> Chart:
    found = _scoped(_OVERDUE_SQL, org, filters, now, org.pk)
    owners = sorted(
        ((str(membership) if membership else "none", (name or email) if membership else UNASSIGNED, n)
         for membership, name, email, n in found),
        key=lambda owner: (-owner[2], owner[1].casefold()),
    )
    rows = [
        {"owner": label, "tasks": n,
         "link": incidents_link(org, filters, [("task_state", "overdue"), ("task_assignee", membership)])}
        for membership, label, n in owners[:OWNERS_SHOWN]
    ]
    return Chart(
        id="overdue_tasks_by_owner", title="Overdue tasks by owner",
        description=f"Right now, whatever the date range: outstanding learning tasks of the incidents in scope "
                    f"whose due date has passed, for the {OWNERS_SHOWN} owners (or “Unassigned”) holding the most.",
        kind=ChartKind.HORIZONTAL,
        columns=[Column("owner", "Owner", Unit.TEXT), Column("tasks", "Tasks")],
        x="owner", y="tasks", rows=rows,
        empty_text="No learning task is overdue right now. Tasks get a due date from their template's due "
                   "rule or from a person; an outstanding task past it is counted here.",
    )


def panel(org, filters: InsightFilters, *, now: datetime) -> Panel:
    """The Tasks panel: tasks by template and outcome, the reasons for not
    doing them (both over the tasks created in the range), and who holds the
    overdue ones now (a snapshot at ``now``)."""
    return Panel(slug="tasks", title="Tasks", charts=[
        _tasks_by_template(org, filters),
        _not_doing_reasons(org, filters),
        _overdue_tasks_by_owner(org, filters, now),
    ])
