"""Dashboard URLs under ``/<org_slug>/``; the org is resolved by OrgSessionMiddleware."""

from django.urls import path

from orgs.views import account, api_keys, calendar, dashboard, settings
from slackbot.account_views import SlackLinkView

urlpatterns = [
    path("", dashboard.OrgHomeView.as_view(), name="org_home"),
    path("preferences/", account.PreferencesView.as_view(), name="preferences"),
    path("preferences/slack-link/<str:token>/", SlackLinkView.as_view(), name="slack_account_link"),
    path("leave/", account.LeaveOrganizationView.as_view(), name="org_leave"),
    path("sign-out/", account.SignOutOfOrgView.as_view(), name="org_sign_out"),
    path(
        "organizations/new/",
        account.OrganizationCreateInOrgView.as_view(),
        name="organization_create_in_org",
    ),
    path("settings/", settings.GeneralSettingsView.as_view(), name="settings_general"),
    path("settings/members/", settings.MembersView.as_view(), name="settings_members"),
    path(
        "settings/members/<uuid:member_id>/role/",
        settings.MemberRoleView.as_view(),
        name="settings_member_role",
    ),
    path(
        "settings/members/<uuid:member_id>/remove/",
        settings.MemberRemoveView.as_view(),
        name="settings_member_remove",
    ),
    path(
        "settings/invitations/<uuid:invitation_id>/revoke/",
        settings.InvitationRevokeView.as_view(),
        name="settings_invitation_revoke",
    ),
    path("settings/calendar/", calendar.WorkingCalendarView.as_view(), name="settings_calendar"),
    path("settings/calendar/holidays/<str:day>/delete/", calendar.HolidayDeleteView.as_view(),
         name="settings_holiday_delete"),
    path("settings/api-keys/", api_keys.ApiKeysView.as_view(), name="settings_api_keys"),
    path("settings/api-keys/<uuid:key_id>/revoke/", api_keys.ApiKeyRevokeView.as_view(), name="settings_api_key_revoke"),
]
