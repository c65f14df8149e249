"""API resources: configuration (being built)."""

urlpatterns: list = []
