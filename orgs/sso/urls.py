"""SSO URLs outside the org's pages, under ``/account/sso/`` (a reserved slug)."""

from django.urls import path

from orgs.sso import views

urlpatterns = [
    # Ahead of the org patterns: "break-glass" here is this page, not an org's slug.
    path("break-glass/<str:token>/", views.break_glass_confirm, name="sso_break_glass_confirm"),
    path("<slug:org_slug>/start/", views.start, name="sso_start"),
    path("<slug:org_slug>/break-glass/", views.break_glass_request, name="sso_break_glass"),
]
