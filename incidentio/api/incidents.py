"""API resources: incidents (being built)."""

urlpatterns: list = []
