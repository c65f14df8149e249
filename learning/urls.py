"""Learning-flow pages under ``/<org_slug>/``."""

from django.urls import path

from learning import post_incident_views, views

task = "incidents/<uuid:incident_id>/tasks/<uuid:task_id>/"

urlpatterns = [
    path("tasks/", views.MyTasksView.as_view(), name="my_tasks"),
    path("post-incident/", post_incident_views.PostIncidentView.as_view(), name="post_incident"),
    path(task + "complete/", views.TaskCompleteView.as_view(), name="task_complete"),
    path(task + "not-doing/", views.TaskNotDoingView.as_view(), name="task_not_doing"),
    path(task + "reopen/", views.TaskReopenView.as_view(), name="task_reopen"),
    path(task + "assign/", views.TaskAssignView.as_view(), name="task_assign"),
    path(task + "snooze/", views.TaskSnoozeView.as_view(), name="task_snooze"),
    path("incidents/<uuid:incident_id>/follow-ups/<uuid:follow_up_id>/snooze/", views.FollowUpSnoozeView.as_view(),
         name="follow_up_snooze"),
    path("incidents/<uuid:incident_id>/learning/opt-out/", views.OptOutView.as_view(), name="learning_opt_out"),
]
