"""SSO URLs outside the org's pages, under ``/account/sso/`` (a reserved slug)."""

from django.urls import path

from orgs.sso import views

urlpatterns = [
    path("<slug:org_slug>/start/", views.start, name="sso_start"),
]
