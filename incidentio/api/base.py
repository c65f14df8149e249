"""The base of every API view: the key's org and actor, resolved once."""

from __future__ import annotations

from django.http import QueryDict
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.views import APIView

from incidentio.common.actors import Actor


class OrgApiView(APIView):
    """``self.org`` is the API key's organization; every query goes through it."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.key = request.auth
        self.org = self.key.org

    @property
    def actor(self) -> Actor:
        return Actor.for_api_key(key_id=str(self.key.public_id), name=f"API key “{self.key.name}”")

    def validated(self, serializer_class, data, **kwargs):
        serializer = serializer_class(data=data, context={"org": self.org, "view": self}, **kwargs)
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            # A typo'd field in a body must not succeed silently.
            unknown = sorted(set(data) - set(serializer.fields))
            if unknown:
                raise ValidationError(
                    {name: [ErrorDetail("Unknown field.", code="unknown_field")] for name in unknown}
                )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
