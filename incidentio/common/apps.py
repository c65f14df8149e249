from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Pieces every app uses. Installed for its template tags (``links``,
    ``fields``) and its management command (``rotate_encryption_keys``); it
    has no models."""

    name = "incidentio.common"
