"""``/api/v2/`` routes. Each resource module owns its ``urlpatterns``."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from incidentio.api import configuration, documents, identity, incidents
from learning import api as learning_api

app_name = "api"

urlpatterns = [
    path("openapi.json", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"),
    path("docs", SpectacularRedocView.as_view(url_name="api:schema", permission_classes=[], authentication_classes=[]),
         name="docs"),
    path("identity", identity.IdentityView.as_view(), name="identity"),
    *incidents.urlpatterns,
    *configuration.urlpatterns,
    *documents.urlpatterns,
    *learning_api.urlpatterns,
]
