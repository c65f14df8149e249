"""API resources: documents (being built)."""

urlpatterns: list = []
