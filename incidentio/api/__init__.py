"""The public REST API, ``/api/v2/`` (docs/api.md).

The views are thin: they authenticate a key, check its role, parse with a
serializer, call the same services as the dashboard and Slack, and render.
"""
