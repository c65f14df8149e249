"""API resources of the learning flow (being built)."""

urlpatterns: list = []
