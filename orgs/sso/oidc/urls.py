"""``/accounts/oidc/<OrgSSO.public_id>/login/callback/``: the redirect URI an IdP is given.

Mounted under /accounts/ by allauth itself (``build_provider_urlpatterns``).
The ``oidc/`` prefix keeps our patterns from shadowing allauth's account
pages; the UUID pattern keeps anything else from reaching the views.
"""

from django.urls import include, path, re_path

from orgs.sso.oidc import views

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

urlpatterns = [
    re_path(
        rf"^oidc/(?P<provider_id>{UUID})/",
        include([
            path("login/", views.login, name="org_oidc_login"),
            path("login/callback/", views.callback, name="org_oidc_callback"),
        ]),
    )
]
