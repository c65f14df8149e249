from django.apps import AppConfig


class OidcConfig(AppConfig):
    # allauth finds the provider through ``<app>.provider`` and mounts
    # ``<app>.urls`` under /accounts/ (allauth.urls.build_provider_urlpatterns).
    name = "orgs.sso.oidc"
    label = "sso_oidc"
    verbose_name = "Single sign-on: OpenID Connect"
