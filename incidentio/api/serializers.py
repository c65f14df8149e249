"""The API's JSON: shared output shapes, and one input serializer per write endpoint.

Output serializers only render. Input serializers only parse: they check
types and resolve ids *through the key's organization* (``context["org"]``);
every rule about what may change lives in the services the views call.

Ids are opaque strings. A user's id is their membership id in the key's
organization (the id the dashboard's member pages use); it is null for
someone who has since left the organization.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from incidentio.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from incidentio.common.errors import ServiceError
from orgs.models import Membership

# --- Helpers shared by the resource modules ---------------------------------------------


def user_ref(user, member_id) -> dict | None:
    if user is None:
        return None
    return {"id": str(member_id) if member_id else None, "name": user.display_name, "email": user.email}


@contextmanager
def api_field_names(**renames: str):
    """Re-raise a ServiceError naming a service argument (``severity``) with
    the API field the client sent (``severity_id``)."""
    try:
        yield
    except ServiceError as error:
        if error.field in renames:
            raise ServiceError(str(error), field=renames[error.field]) from error
        raise


# --- Input fields ------------------------------------------------------------------------


def _require_string(data) -> None:
    # DRF would take 5 for "5"; the schema promises strings, so a number is a wrong type.
    if not isinstance(data, str):
        raise serializers.ValidationError(f"Expected a string, got {_json_type(data)}.", code="invalid_type")


def _json_type(data) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}.get(
        type(data), type(data).__name__
    )


class Text(serializers.CharField):
    """A JSON string the database can store: no NUL (DRF's check) and no lone surrogates."""

    def to_internal_value(self, data):
        _require_string(data)
        value = super().to_internal_value(data)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError("Send valid UTF-8 text.", code="invalid") from None
        return value


class OrgObjectField(serializers.UUIDField):
    """The id of one of the org's statuses, severities or roles → that object.

    Another org's id is "unknown", exactly like one that never existed.
    """

    def __init__(self, *, model, what: str, **kwargs):
        self.model = model
        self.what = what
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        _require_string(data)
        public_id = super().to_internal_value(data)
        found = self.model.objects.filter(org=self.context["org"], public_id=public_id).first()
        if found is None:
            raise serializers.ValidationError(f"Unknown {self.what} in this organization.", code="not_found")
        return found

    def to_representation(self, value):
        return str(value.public_id)


class MemberField(Text):
    """A member of the org, by user id (their membership id) or e-mail address → the User."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data).strip()
        members = Membership.objects.filter(org=self.context["org"]).select_related("user")
        try:
            if len(value) > 254:
                member = None
            elif "@" in value:
                member = members.filter(user__email__iexact=value).first()
            else:
                member = members.filter(public_id=value).first()
        except (DjangoValidationError, ValueError):
            member = None  # not a UUID: as unknown as any other
        if member is None:
            raise serializers.ValidationError(
                "No member of this organization has this user id or e-mail address.", code="not_found"
            )
        return member.user


def member_field(**kwargs) -> MemberField:
    return MemberField(help_text="A user id (as returned by this API) or the member's e-mail address.", **kwargs)


class OneOfField(serializers.ListField):
    """A ``[one_of]`` filter: repeated (``?f=a&f=b``) or comma-separated (``?f=a,b``)."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [data]
        if isinstance(data, (list, tuple)):
            data = [part.strip() for value in data for part in str(value).split(",") if part.strip()]
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            # Name the filter itself, not "filter.<index>".
            if isinstance(error.detail, dict):
                raise serializers.ValidationError(
                    [message for messages in error.detail.values() for message in messages]
                ) from None
            raise


class EnumField(serializers.ChoiceField):
    """A choice field that the schema names as its own enum component, ``enum_name``.

    Named here rather than by drf-spectacular's guess from the field name:
    several resources have a ``status`` or a ``kind`` with different values.
    """

    def __init__(self, choices, *, enum_name: str, **kwargs):
        self.enum_name = enum_name
        super().__init__(choices, **kwargs)

    def to_internal_value(self, data):
        _require_string(data)
        return super().to_internal_value(data)


class Boolean(serializers.BooleanField):
    """A JSON true or false; DRF alone would also take "yes", 1 and "on"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            raise serializers.ValidationError(f"Expected true or false, got {_json_type(data)}.",
                                              code="invalid_type")
        return data


class EnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EnumField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        component = ResolvedComponent(
            name=field.enum_name, type=ResolvedComponent.SCHEMA, object=field.enum_name,
            schema={"type": "string", "enum": [str(value) for value in field.choices]},
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


# --- Envelopes (what each endpoint returns) ------------------------------------------


class PaginationMetaSerializer(serializers.Serializer):
    after = serializers.CharField(
        allow_null=True, help_text="Pass as ?after= for the next page; null on the last page."
    )
    page_size = serializers.IntegerField()


def envelope(name: str, **fields) -> type[serializers.Serializer]:
    """A response body ``{"<key>": ...}``, named for the schema."""
    return type(name, (serializers.Serializer,), fields)


def list_envelope(name: str, plural: str, item, meta=PaginationMetaSerializer):
    return envelope(name, **{plural: item(many=True), "pagination_meta": meta()})


class ErrorSourceSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The request field at fault, e.g. name or status[one_of].")


class ErrorItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    source = ErrorSourceSerializer(required=False)


class ErrorSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="e.g. validation_error, not_found, authorization_error.")
    status = serializers.IntegerField()
    request_id = serializers.CharField(help_text="Also in the X-Request-Id header and the server's log.")
    errors = ErrorItemSerializer(many=True)


_ERROR_DESCRIPTIONS = {
    400: "Malformed JSON.",
    401: "No API key, or one that is not valid or was revoked.",
    403: "The API key's roles do not allow this.",
    404: "No such object in this organization.",
    415: "Send JSON (Content-Type: application/json).",
    422: "A field or parameter is not valid, or a rule refused the change; errors[].source.field names it.",
    429: "Too many requests; retry after the Retry-After header's seconds.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses for ``extend_schema``; 401, 403 and 429 can answer any request."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code])
        for code in sorted({401, 403, 429, *codes})
    }


LIST_PARAMETERS = [
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                                   "default": DEFAULT_PAGE_SIZE}, description="Rows per page: 1 to 250; default 25."),
    OpenApiParameter("after", {"type": "string", "minLength": 1},
                     description="pagination_meta.after of the previous page, as given."),
]

READ_ERRORS = errors(404)
LIST_ERRORS = errors(422)
WRITE_ERRORS = errors(400, 404, 415, 422)
CREATE_ERRORS = errors(400, 415, 422)
