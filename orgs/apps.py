from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organizations and people"

    def ready(self) -> None:
        from allauth.account.signals import password_changed, password_set

        from orgs import sessions

        def keep_org_sessions(sender, request, user, **kwargs):
            # allauth's password pages update Django's own session hash; the
            # org sessions this browser holds for the user must follow.
            sessions.refresh_hashes(request, user=user)

        password_changed.connect(keep_org_sessions, dispatch_uid="orgs.keep_org_sessions.changed")
        password_set.connect(keep_org_sessions, dispatch_uid="orgs.keep_org_sessions.set")
