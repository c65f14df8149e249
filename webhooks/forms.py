from __future__ import annotations

from django import forms

from webhooks.models import WebhookEventType


class EndpointForm(forms.Form):
    # A CharField: the service checks the URL (http or https only) and says why
    # a URL is refused, the same way for the dashboard and any other caller.
    url = forms.CharField(
        max_length=2000,
        label="Endpoint URL",
        widget=forms.TextInput(attrs={"placeholder": "https://example.com/webhooks/incidentio"}),
        help_text="We POST signed JSON here. http:// or https:// only.",
    )
    events = forms.MultipleChoiceField(
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(WebhookEventType.values),
        label="Events to send",
        error_messages={"required": "Choose at least one event to send."},
    )
