"""Invitation, password-reset and confirmation keys never reach a log line."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from orgs import services
from orgs.models import Membership
from tests.conftest import sign_in
from tests.live_stack import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def console_log():
    """What the configured console handler (settings.LOGGING) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.mark.django_db
def test_a_refused_invitation_is_logged_without_its_key(acme, admin, outsider, console_log):
    actor = Membership.objects.get(org=acme, user=admin)
    _, token = services.invitation_create(actor=actor, email="someone@example.com", role="responder")
    client = Client()
    sign_in(client, outsider, None)

    assert client.post(f"/invitations/{token}/").status_code == 400

    log = console_log.getvalue()
    assert "Bad Request: /invitations/[redacted]/" in log
    assert token not in log


def test_gunicorn_logs_no_key_in_its_access_or_error_log(tmp_path):
    """The production server, started as docker-compose starts it (gunicorn.conf.py
    read from the working directory)."""
    invitation_key = "inv-Kq8Zlvdv6nJMAJVmfp5NGmDNvFS1SyxVfOT0g4"
    reset_key = "3-cz2x1a-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    port = free_port()
    access_log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "k" * 60,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "EMAIL_CONSOLE": "1",
        "FIELD_ENCRYPTION_KEYS": "vMGQ1mKHxFNy1MbY4JUvmGPAYVbJq3xrRkN6B-Zr7Hw=",
        # No database answers there: the pages fail, and the failure is logged with the path too.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    }
    env.pop("REDIS_URL", None)
    server_log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "incidentio.config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--access-logfile", str(access_log)],
        # To a file, not a pipe: nobody reads a pipe until the end, and a full one
        # (a few 500 tracebacks) would block the worker's next log line.
        cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
    )

    def get(path, **headers):
        try:
            with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers), timeout=10):
                pass
        except urllib.error.HTTPError:
            pass
        except OSError:
            return False
        return True

    try:
        wait_until(lambda: get("/healthz"), timeout=30, what="gunicorn")
        get(f"/invitations/{invitation_key}/", Referer=f"http://127.0.0.1:{port}/invitations/{invitation_key}/")
        get(f"/accounts/signup/?next=%2Finvitations%2F{invitation_key}%2F")
        get(f"/accounts/password/reset/key/{reset_key}/")
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_log.close()

    logs = access_log.read_text() + (tmp_path / "server.log").read_text()
    assert "/invitations/[redacted]/" in logs and "%2Finvitations%2F[redacted]%2F" in logs
    assert "/accounts/password/reset/key/[redacted]/" in logs
    assert invitation_key not in logs and reset_key not in logs
