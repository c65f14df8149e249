from __future__ import annotations

from django import forms


class BotTokenForm(forms.Form):
    """Connecting a workspace by hand: the app's bot token, checked with Slack."""

    bot_token = forms.CharField(
        label="Bot User OAuth Token",
        max_length=255,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="On your Slack app's OAuth & Permissions page; it starts with xoxb-.",
        error_messages={"required": "Paste the bot token, xoxb-…"},
    )
