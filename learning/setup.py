"""The default learning flow of a new org (an ORG_SETUP_STEPS step)."""

from __future__ import annotations

from incidentio.incidents.models import (
    FollowUpPriority,
    IncidentRole,
    IncidentStatus,
    IncidentType,
    RoleKind,
    Severity,
    StatusCategory,
)
from learning.models import (
    DueFrom,
    FollowUpDueRule,
    LearningFlow,
    LearningFlowStatus,
    LifecycleRules,
    TaskKind,
    TaskTemplate,
    UnmatchedPolicy,
)

DEFAULT_TASKS = {
    "Documenting": [
        (TaskKind.CREATE_POSTMORTEM, "Create the post-mortem",
         "Start the post-mortem from the incident page. Describe what happened, the impact and the root causes "
         "while memories are fresh. This task completes itself when the post-mortem exists."),
        (TaskKind.REVIEW_TIMELINE, "Review the incident timeline",
         "Read the timeline from the top. Add an update for anything important that happened outside the tool, "
         "so the record is complete."),
        (TaskKind.UPDATE_TIMESTAMPS, "Update timestamps",
         "Check *impact started*, *identified*, *fixed* and *resolved* on the incident page and correct them: "
         "the durations everyone reads come from them."),
        (TaskKind.CREATE_FOLLOW_UPS, "Create follow-ups",
         "Add a follow-up for each fix or improvement that should outlive the incident, with an owner and a "
         "priority. Completes itself when the first follow-up is created."),
    ],
    "Reviewing": [
        (TaskKind.SCHEDULE_DEBRIEF, "Schedule the debrief",
         "Book a blameless debrief with the responders and share the calendar invite. Completes itself when "
         "a debrief is scheduled."),
        (TaskKind.COMPLETE_POSTMORTEM, "Mark the post-mortem as complete",
         "After the debrief, fold what was learned into the post-mortem and set its status to *Completed*."),
        (TaskKind.SHARE_POSTMORTEM, "Share the post-mortem",
         "Share the post-mortem with the organization so others can learn from it."),
        (TaskKind.REVIEW_FOLLOW_UPS, "Review follow-ups",
         "Check every follow-up has an owner and a priority, and mark the ones you will not do as *not doing*."),
    ],
}

#: Default due rules of the templates above, by kind: (business days, counted from). Kinds left out have none.
DEFAULT_DUE = {
    TaskKind.CREATE_POSTMORTEM: (5, DueFrom.INCIDENT_RESOLVED),
    TaskKind.CREATE_FOLLOW_UPS: (5, DueFrom.INCIDENT_RESOLVED),
    TaskKind.SCHEDULE_DEBRIEF: (5, DueFrom.TASK_CREATED),
    TaskKind.COMPLETE_POSTMORTEM: (10, DueFrom.INCIDENT_RESOLVED),
}

#: Follow-ups are due this many business days after the incident was resolved; Low has no due date.
DEFAULT_FOLLOW_UP_DUE_DAYS = {FollowUpPriority.URGENT: 3, FollowUpPriority.HIGH: 10, FollowUpPriority.MEDIUM: 20}


def seed_learning_defaults(*, org) -> None:
    lead = IncidentRole.objects.filter(org=org, kind=RoleKind.LEAD).first()
    flow = LearningFlow.objects.create(
        org=org, name="Default", is_default=True,
        description="The flow of every incident type that does not have one of its own.",
    )
    statuses = list(IncidentStatus.objects.filter(org=org, category=StatusCategory.LEARNING).order_by("rank", "pk"))
    LearningFlowStatus.objects.bulk_create(
        LearningFlowStatus(flow=flow, status=status, rank=rank) for rank, status in enumerate(statuses)
    )
    by_name = {s.name: s for s in statuses}
    templates = []
    for status_name, tasks in DEFAULT_TASKS.items():
        status = by_name.get(status_name)
        if status is None:
            continue
        for rank, (kind, title, instructions) in enumerate(tasks):
            templates.append(TaskTemplate(
                org=org, flow=flow, status=status, title=title, instructions=instructions, kind=kind,
                required=True, assignee_role=lead, rank=rank,
            ))
    for template in templates:
        template.due_days, template.due_from = DEFAULT_DUE.get(template.kind, (None, DueFrom.TASK_CREATED))
    TaskTemplate.objects.bulk_create(templates)
    FollowUpDueRule.objects.bulk_create(
        FollowUpDueRule(org=org, priority=priority, due_days=days) for priority, days in DEFAULT_FOLLOW_UP_DUE_DAYS.items()
    )
    # High-severity incidents always get the flow; others ask whoever closes them.
    critical = Severity.objects.filter(org=org).order_by("-rank").first()
    LifecycleRules.objects.create(
        org=org, incident_type=IncidentType.objects.get(org=org, is_default=True),
        auto_enter_min_severity=critical, otherwise=UnmatchedPolicy.ASK,
    )
