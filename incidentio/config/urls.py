from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from orgs.sso import saml_acs
from orgs.views import account, dashboard, invitations, login


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


# Staff sign in through allauth's page too: one sign-in flow, with its rate
# limits, and no second login that would replace this browser's org sessions.
admin.site.login = secure_admin_login(admin.site.login)

handler500 = "incidentio.config.error_pages.server_error"

urlpatterns = [
    path("", dashboard.root, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # Ahead of allauth's own (orgs/sso/saml_acs.py): its SAML ACS refusing an unreadable answer,
    # its finishing step with a replayed answer on our error page, no single logout (a 404),
    # our SP metadata without it, and its sign-in start sent on to ours.
    path("accounts/saml/<str:organization_slug>/acs/", saml_acs.acs, name="sso_saml_acs"),
    path("accounts/saml/<str:organization_slug>/acs/finish/", saml_acs.finish, name="sso_saml_finish_acs"),
    path("accounts/saml/<str:organization_slug>/sls/", saml_acs.no_single_logout, name="sso_saml_no_sls"),
    path("accounts/saml/<str:organization_slug>/metadata/", saml_acs.metadata, name="sso_saml_metadata"),
    path("accounts/saml/<str:organization_slug>/login/", saml_acs.login, name="sso_saml_login"),
    # The sign-in page asks for the e-mail first (orgs/views/login.py): ahead of allauth's own.
    path("accounts/login/", login.login, name="account_login"),
    path("accounts/", include("allauth.urls")),
    path("api/v2/", include("incidentio.api.urls")),
    path("account/sso/", include("orgs.sso.urls")),
    path("account/add-organization/", account.add_organization, name="add_organization"),
    path("account/sign-out/", account.sign_out_everywhere, name="sign_out_everywhere"),
    path("organizations/new/", account.organization_create, name="organization_create"),
    path("invitations/<str:token>/", invitations.invitation, name="invitation"),
    path("<slug:org_slug>/settings/", include("incidentio.incidents.settings_urls")),
    path("<slug:org_slug>/settings/", include("learning.settings_urls")),
    path("<slug:org_slug>/incidents/", include("incidentio.incidents.urls")),
    path("<slug:org_slug>/", include("learning.urls")),
    path("<slug:org_slug>/insights/", include("insights.urls")),
    path("<slug:org_slug>/settings/webhooks/", include("webhooks.urls")),
    path("<slug:org_slug>/settings/", include("slackbot.settings_urls")),
    path("<slug:org_slug>/settings/", include("orgs.sso.settings_urls")),
    path("slack/", include("slackbot.urls")),
    # Org pages last: the slug is a catch-all first segment (reserved words are refused).
    path("<slug:org_slug>/", include("orgs.urls")),
]
if settings.BENCH_ENDPOINTS:
    # Benchmarks only (bench/endpoints.py): ahead of the API's catch-all 404.
    # Imported only when on: the product never loads bench/.
    urlpatterns.insert(0, path("api/v2/", include("bench.endpoints")))
