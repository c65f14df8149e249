"""``/api/v2/`` routes. Each resource module owns its ``urlpatterns``."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularYAMLAPIView
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from incidentio.api import identity
from incidentio.incidents.api import configuration, documents, incidents
from insights import api as insights_api
from learning import api as learning_api

app_name = "api"

# ReDoc (served from our static files, templates/drf_spectacular/redoc.html)
# styles itself with styled-components, which injects <style> elements: it
# fails to render without inline styles. Its search runs in a worker it builds
# from a blob: URL. Only that page gets these, and script-src stays 'self'-only,
# so markup injected into the page still cannot run.
redoc_csp = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["'self'", "blob:"]})


class NotFoundView(APIView):
    """Anything else under /api/v2/: a 404 in the API's JSON error shape, not an HTML page."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    schema = None  # not an endpoint

    def dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs, self.request = args, kwargs, self.initialize_request(request, *args, **kwargs)
        self.headers = self.default_response_headers
        response = self.handle_exception(NotFound("There is no such API endpoint."))
        self.response = self.finalize_response(self.request, response, *args, **kwargs)
        return self.response


urlpatterns = [
    path("openapi.json", SpectacularJSONAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"),
    path("openapi.yaml", SpectacularYAMLAPIView.as_view(permission_classes=[], authentication_classes=[]),
         name="schema_yaml"),
    path("docs", redoc_csp(SpectacularRedocView.as_view(url_name="api:schema", permission_classes=[],
                                                          authentication_classes=[])), name="docs"),
    path("identity", identity.IdentityView.as_view(), name="identity"),
    *incidents.urlpatterns,
    *configuration.urlpatterns,
    *documents.urlpatterns,
    *learning_api.urlpatterns,
    *insights_api.urlpatterns,
]
urlpatterns.append(re_path(r"^.*$", NotFoundView.as_view(), name="not_found"))
