from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from incidentio.api.base import OrgApiView
from incidentio.api.serializers import errors

IdentityResponse = inline_serializer(
    "IdentityResponse",
    {
        "identity": inline_serializer(
            "Identity",
            {
                "name": serializers.CharField(),
                "roles": serializers.ListField(child=serializers.CharField()),
                "organization": inline_serializer(
                    "IdentityOrganization", {"id": serializers.CharField(), "slug": serializers.CharField(),
                                             "name": serializers.CharField()}
                ),
            },
        )
    },
)


class IdentityView(OrgApiView):
    """Which organization this key belongs to, and what it may do."""

    @extend_schema(responses={200: IdentityResponse, **errors()}, operation_id="identity_get")
    def get(self, request):
        return Response(
            {
                "identity": {
                    "name": self.key.name,
                    "roles": self.key.roles,
                    "organization": {"id": self.org.slug, "slug": self.org.slug, "name": self.org.name},
                }
            }
        )
