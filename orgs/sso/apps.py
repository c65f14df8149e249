from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "orgs.sso"
    label = "sso"
    verbose_name = "Single sign-on"
