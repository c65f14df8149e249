"""Incident pages under ``/<org_slug>/incidents/``; ids are opaque UUIDs."""

from django.urls import path

from incidentio.incidents.views import actions, documents, incidents, on_demand_forms

incident = "<uuid:incident_id>/"

urlpatterns = [
    path("", incidents.IncidentListView.as_view(), name="incident_list"),
    path("declare/", incidents.DeclareView.as_view(), name="incident_declare"),
    path(incident, incidents.IncidentDetailView.as_view(), name="incident_detail"),
    path(incident + "edit/", actions.EditStatusSeverityView.as_view(), name="incident_edit"),
    path(incident + "details/", actions.EditDetailsView.as_view(), name="incident_details"),
    path(incident + "accept/", actions.AcceptView.as_view(), name="incident_accept"),
    path(incident + "decline/", actions.DeclineView.as_view(), name="incident_decline"),
    path(incident + "merge/", actions.MergeView.as_view(), name="incident_merge"),
    path(incident + "cancel/", actions.CancelView.as_view(), name="incident_cancel"),
    path(incident + "close/", actions.CloseView.as_view(), name="incident_close"),
    path(incident + "roles/", actions.AssignRoleView.as_view(), name="incident_assign_role"),
    path(incident + "updates/", actions.PostUpdateView.as_view(), name="incident_post_update"),
    path(incident + "timestamps/", actions.TimestampsView.as_view(), name="incident_timestamps"),
    path(incident + "forms/<slug:form_name>/", on_demand_forms.IncidentFormView.as_view(), name="incident_form"),
    path(incident + "postmortem/", documents.PostmortemView.as_view(), name="postmortem"),
    path(incident + "postmortem/preview/", documents.PostmortemPreviewView.as_view(), name="postmortem_preview"),
    path(incident + "postmortem/create/", documents.PostmortemCreateView.as_view(), name="postmortem_create"),
    path(incident + "postmortem/status/", documents.PostmortemStatusView.as_view(), name="postmortem_status"),
    path(incident + "postmortem/share/", documents.PostmortemShareView.as_view(), name="postmortem_share"),
    path(incident + "debriefs/", documents.DebriefScheduleView.as_view(), name="debrief_schedule"),
    path(
        incident + "debriefs/<uuid:debrief_id>.ics",
        documents.DebriefInviteView.as_view(),
        name="debrief_invite",
    ),
    path(incident + "follow-ups/", documents.FollowUpCreateView.as_view(), name="follow_up_create"),
    path(
        incident + "follow-ups/<uuid:follow_up_id>/",
        documents.FollowUpEditView.as_view(),
        name="follow_up_edit",
    ),
    path(
        incident + "follow-ups/<uuid:follow_up_id>/due/",
        documents.FollowUpDueView.as_view(),
        name="follow_up_due",
    ),
    path(
        incident + "follow-ups/<uuid:follow_up_id>/complete/",
        documents.FollowUpCompleteView.as_view(),
        name="follow_up_complete",
    ),
    path(
        incident + "follow-ups/<uuid:follow_up_id>/not-doing/",
        documents.FollowUpNotDoingView.as_view(),
        name="follow_up_not_doing",
    ),
]
