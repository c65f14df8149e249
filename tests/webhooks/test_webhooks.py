"""Signed webhooks (issue 6): events from the product's real actions, delivered
after commit to a real HTTP receiver, retried, and disabled when they keep failing.

The receiver (tests/webhooks/receiver.py) is an ``http.server`` on 127.0.0.1
(random port) in a thread: it verifies every request with
``webhooks.signing.verify`` — the function docs/webhooks.md gives receivers —
records it, and can fail the first N requests. Celery is eager here, so the
delivery job runs in-process on commit; tests that need real commits use
``transaction=True``. Backoff is not waited for: a test moves a delivery's
``next_attempt_at`` into the past and runs the beat task, which is what
happens in production once the time comes and the job was lost.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.db import connection, transaction
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, Severity
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningTask, TaskKind
from learning.services.flow import incident_close, learning_opt_out
from tests.stored import stored_value
from tests.webhooks.receiver import Receiver
from webhooks import services, signing
from webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEventType
from webhooks.tasks import deliver_due_webhooks, deliver_webhook

ALL_EVENTS = list(WebhookEventType.values)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """Run the delivery job in-process even when REDIS_URL is set (the Postgres run)."""


def _endpoint(org, receiver, events=None) -> WebhookEndpoint:
    endpoint = services.endpoint_create(org=org, url=receiver.url, events=events or ALL_EVENTS, created_by=None)
    receiver.secret = endpoint.secret
    return endpoint


def _declare(org, user, name="Checkout is down", severity="Minor", **kwargs) -> Incident:
    return incident_declare(
        org=org, actor=Actor.for_user(user), name=name, severity=Severity.objects.get(org=org, name=severity), **kwargs
    )


def _overdue(delivery: WebhookDelivery) -> None:
    """Time passes: the delivery's next attempt is long due (and its job, say, lost)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(hours=1))


def _run_job(delivery_id: int) -> str:
    """Run the delivery job once more, in-process; its return value."""
    return deliver_webhook.apply(args=(delivery_id,)).result


def _incident_url(incident, suffix=""):
    return f"/{incident.org.slug}/incidents/{incident.public_id}/{suffix}"


# --- Signing ----------------------------------------------------------------------------------

VECTOR = {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "msg_id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "timestamp": 1614265330,
    "body": '{"test": 2432232314}',
}


def _vector_headers():
    return signing.sign(**VECTOR)


def test_signature_matches_the_standard_webhooks_test_vector():
    # The specification's published vector: receivers can use any Standard Webhooks library.
    assert _vector_headers() == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_verify_accepts_a_fresh_signed_request_and_returns_its_payload():
    headers = {k.upper(): v for k, v in _vector_headers().items()}  # header names are case-insensitive
    payload = signing.verify(secret=VECTOR["secret"], headers=headers, body=VECTOR["body"], now=VECTOR["timestamp"] + 60)
    assert payload == {"test": 2432232314}


def test_verify_accepts_any_one_of_several_signatures():
    headers = _vector_headers()
    headers["webhook-signature"] = "v1,bm90LXRoaXMtb25l " + headers["webhook-signature"]
    signing.verify(secret=VECTOR["secret"], headers=headers, body=VECTOR["body"], now=VECTOR["timestamp"])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"body": '{"test": 2432232315}'}, "No matching signature"),
        ({"secret": "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="}, "No matching signature"),
        ({"now": VECTOR["timestamp"] + 301}, "too old"),
        ({"now": VECTOR["timestamp"] - 301}, "in the future"),
        ({"headers": {"webhook-id": VECTOR["msg_id"], "webhook-timestamp": "1614265330"}}, "webhook-signature"),
        ({"headers": {**_vector_headers(), "webhook-id": "msg_other"}}, "No matching signature"),
        ({"headers": {**_vector_headers(), "webhook-timestamp": "soon"}}, "not a unix timestamp"),
    ],
)
def test_verify_rejects_forged_stale_or_incomplete_requests(change, message):
    kwargs = {
        "secret": VECTOR["secret"],
        "headers": _vector_headers(),
        "body": VECTOR["body"],
        "now": VECTOR["timestamp"],
        **change,
    }
    with pytest.raises(signing.WebhookVerificationError, match=message):
        signing.verify(**kwargs)


# --- Each action emits its event ----------------------------------------------------------------


def _check_signed(request: dict, endpoint: WebhookEndpoint) -> None:
    assert request["verified"]
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["webhook-id"] == request["payload"]["id"]
    assert abs(int(request["headers"]["webhook-timestamp"]) - time.time()) < 60


@pytest.mark.django_db(transaction=True)
def test_declaring_sends_a_signed_incident_created_event(acme, responder, signed_in, receiver):
    endpoint = _endpoint(acme, receiver)
    minor = Severity.objects.get(org=acme, name="Minor")

    response = signed_in(responder, acme).post(
        "/acme/incidents/declare/", {"name": "Checkout is down", "severity": str(minor.public_id)}
    )

    assert response.status_code == 302
    incident = Incident.objects.get(org=acme)
    assert receiver.types == ["incident.created"]
    request = receiver.requests[0]
    _check_signed(request, endpoint)
    event = request["payload"]
    assert event["type"] == "incident.created" and event["created_at"].endswith("Z")
    data = event["data"]
    assert data["incident"]["id"] == str(incident.public_id)
    assert data["incident"]["reference"] == "INC-1"
    assert data["incident"]["name"] == "Checkout is down"
    assert data["incident"]["incident_status"] == {
        "id": str(incident.status.public_id), "name": "Investigating", "category": "live",
    }
    assert data["incident"]["severity"]["name"] == "Minor"
    default_type = incident.incident_type
    assert data["incident"]["incident_type"] == {"id": str(default_type.public_id), "name": "Default"}
    assert data["incident"]["learning_flow"] == "not_entered"
    assert data["incident"]["permalink"].endswith(f"/acme/incidents/{incident.public_id}/")
    assert data["actor"]["kind"] == "user" and data["actor"]["user"]["email"] == responder.email
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 1 and delivery.last_status_code == 200


@pytest.mark.django_db(transaction=True)
def test_editing_the_severity_sends_incident_updated(acme, responder, signed_in, receiver):
    incident = _declare(acme, responder)
    _endpoint(acme, receiver)
    major = Severity.objects.get(org=acme, name="Major")

    response = signed_in(responder, acme).post(_incident_url(incident, "edit/"), {"severity": str(major.public_id)})

    assert response.status_code == 302
    assert receiver.types == ["incident.updated"]
    data = receiver.payloads()[0]["data"]
    assert data["incident"]["severity"]["name"] == "Major"
    assert data["change"] == {
        "kind": "severity_changed", "description": "Severity changed from Minor to Major", "from": "Minor", "to": "Major",
    }


@pytest.mark.django_db(transaction=True)
def test_changing_the_type_sends_incident_updated_with_the_type(acme, responder, signed_in, receiver):
    from incidentio.incidents.services.configuration import incident_type_create

    incident = _declare(acme, responder)
    security = incident_type_create(org=acme, name="Security")
    _endpoint(acme, receiver)

    response = signed_in(responder, acme).post(
        _incident_url(incident, "edit/"), {"severity": str(incident.severity.public_id),
                                           "incident_type": str(security.public_id)}
    )

    assert response.status_code == 302
    assert receiver.types == ["incident.updated"]
    data = receiver.payloads()[0]["data"]
    assert data["incident"]["incident_type"] == {"id": str(security.public_id), "name": "Security"}
    assert data["change"] == {
        "kind": "type_changed", "description": "Type changed from Default to Security",
        "from": "Default", "to": "Security",
    }


@pytest.mark.django_db(transaction=True)
def test_closing_with_an_opt_out_sends_status_changed_then_learning_flow_opted_out(
    acme, responder, signed_in, receiver
):
    incident = _declare(acme, responder)
    _endpoint(acme, receiver)

    response = signed_in(responder, acme).post(
        _incident_url(incident, "close/"), {"learning_flow": "opt_out", "opt_out_reason": "A known flaky check."}
    )

    assert response.status_code == 302
    assert receiver.types == ["incident.status_changed", "incident.learning_flow_opted_out"]
    status_changed, opted_out = receiver.payloads()
    assert status_changed["data"]["incident"]["incident_status"]["category"] == "closed"
    assert opted_out["data"]["incident"]["learning_flow"] == "opted_out"
    assert opted_out["data"]["incident"]["opt_out_reason"] == "A known flaky check."
    assert opted_out["data"]["change"]["reason"] == "A known flaky check."
    assert status_changed["id"] != opted_out["id"]


@pytest.mark.django_db(transaction=True)
def test_completing_a_task_sends_learning_task_updated_to_an_endpoint_that_wants_only_that(
    acme, responder, signed_in, receiver
):
    incident = _declare(acme, responder)
    _endpoint(acme, receiver, events=["learning_task.updated"])
    incident_close(incident=incident, actor=Actor.for_user(responder), learning_flow="run")
    assert receiver.requests == []  # closing sent nothing this endpoint subscribes to
    task = LearningTask.objects.get(incident=incident, kind=TaskKind.REVIEW_TIMELINE)

    response = signed_in(responder, acme).post(_incident_url(incident, f"tasks/{task.public_id}/complete/"))

    assert response.status_code == 302
    assert receiver.types == ["learning_task.updated"]
    data = receiver.payloads()[0]["data"]
    assert data["learning_task"]["id"] == str(task.public_id)
    assert data["learning_task"]["state"] == "completed"
    assert data["learning_task"]["learning_status"]["name"] == "Documenting"
    assert data["incident"]["learning_flow"] == "running"


@pytest.mark.django_db(transaction=True)
def test_opting_out_from_inside_the_flow_also_reports_the_status_change(acme, responder, receiver):
    incident = _declare(acme, responder)
    incident_close(incident=incident, actor=Actor.for_user(responder), learning_flow="run")
    _endpoint(acme, receiver)

    learning_opt_out(incident=incident, actor=Actor.for_user(responder), reason="Covered by INC-0's review.")

    assert receiver.types == ["incident.status_changed", "incident.learning_flow_opted_out"]
    assert receiver.payloads()[0]["data"]["incident"]["incident_status"]["name"] == "Closed"


# --- After commit only ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_for_a_rolled_back_change(acme, responder, receiver):
    _endpoint(acme, receiver)

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            _declare(acme, responder, name="Never happened")
            assert WebhookDelivery.objects.count() == 1  # queued inside the transaction…
            raise RuntimeError("the request failed after the declare")

    assert WebhookDelivery.objects.count() == 0  # …and gone with it
    assert receiver.requests == []
    _declare(acme, responder, name="Did happen")  # the receiver does work
    assert [p["data"]["incident"]["name"] for p in receiver.payloads()] == ["Did happen"]


@pytest.mark.django_db(transaction=True)
def test_a_disabled_endpoint_receives_nothing(acme, responder, receiver):
    endpoint = _endpoint(acme, receiver)
    services.endpoint_disable(endpoint=endpoint, reason="Switched off for the test.")

    _declare(acme, responder)

    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_another_orgs_endpoint_receives_nothing(acme, globex, responder, outsider, receiver):
    _endpoint(globex, receiver)
    _declare(acme, responder)
    assert receiver.requests == []


# --- Retries --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_receiver_failing_twice_then_succeeding_gets_the_event_exactly_once_more(acme, responder, receiver):
    endpoint = _endpoint(acme, receiver)
    receiver.fail_first = 2

    _declare(acme, responder)  # attempt 1, on commit: 500
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.PENDING, 1, 500)
    assert delivery.last_error == "HTTP 500 Internal Server Error"
    # Retried after the base backoff, not sooner: the Celery retry came back at once
    # (eager) and found it not yet due.
    first_wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 5 < first_wait <= 10
    assert deliver_due_webhooks() == 0  # the beat leaves an on-time retry alone

    _overdue(delivery)
    assert deliver_due_webhooks() == 1  # attempt 2: 500 again, and the wait doubles
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 2)
    assert 15 < (delivery.next_attempt_at - timezone.now()).total_seconds() <= 20
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 2 and endpoint.is_active

    _overdue(delivery)
    assert deliver_due_webhooks() == 1  # attempt 3: 200
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.DELIVERED, 3, 200)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0

    # Running the job or the beat again sends nothing more.
    assert _run_job(delivery.pk) == "not pending"
    _overdue(delivery)
    assert deliver_due_webhooks() == 0
    assert len(receiver.requests) == 3
    assert all(r["verified"] for r in receiver.requests)
    # One event: the same id and body every time, a fresh signature each attempt.
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_attempt_asks_celery_to_come_back_after_the_backoff(acme, responder, receiver):
    _endpoint(acme, receiver)
    receiver.fail_first = 2
    _declare(acme, responder)  # attempt 1 fails
    delivery = WebhookDelivery.objects.get()
    _overdue(delivery)

    # Run as a worker runs a job (a request with an id, not eager): attempt 2
    # fails, and the task hands Celery a countdown (20 s, the doubled backoff)
    # instead of sleeping. (The re-queued job runs at once here, eagerly, and
    # finds the delivery not yet due.)
    deliver_webhook.push_request(
        id="job-1", args=[delivery.pk], kwargs={}, called_directly=False, is_eager=False, retries=0
    )
    try:
        with pytest.raises(Retry) as retry:
            deliver_webhook.run(delivery.pk)
    finally:
        deliver_webhook.pop_request()

    assert retry.value.when == pytest.approx(20, abs=1)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 2)
    assert len(receiver.requests) == 2


@pytest.mark.django_db(transaction=True)
def test_a_redirect_is_a_failed_attempt_and_is_not_followed(acme, responder, receiver):
    _endpoint(acme, receiver)
    receiver.fail_first, receiver.fail_status = 1, 307

    _declare(acme, responder)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.last_status_code) == (DeliveryState.PENDING, 307)
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_receiver_is_retried(acme, responder, receiver):
    _endpoint(acme, receiver)
    receiver.close()  # nothing listens on the port any more

    _declare(acme, responder)

    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    assert delivery.last_status_code is None and delivery.last_error.startswith("Could not connect")


# --- Giving up, disabling, re-enabling ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_delivery_failing_for_24_hours_disables_the_endpoint_until_re_enabled(
    acme, admin, responder, signed_in, receiver
):
    endpoint = _endpoint(acme, receiver)
    receiver.fail_first = 10**6  # down for good
    _declare(acme, responder, name="First")
    _declare(acme, responder, name="Second")
    first, second = WebhookDelivery.objects.order_by("pk")
    # A day later, the first event's last retry fails too.
    WebhookDelivery.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    _overdue(first)

    assert _run_job(first.pk) == "failed"

    first.refresh_from_db()
    second.refresh_from_db()
    endpoint.refresh_from_db()
    assert (first.state, first.attempts) == (DeliveryState.FAILED, 2)
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert "failed for 24 hours" in endpoint.disabled_reason and "HTTP 500" in endpoint.disabled_reason
    # Its other pending deliveries are not sent any more, and new events are not queued.
    assert second.state == DeliveryState.FAILED and "disabled" in second.last_error
    sent = len(receiver.requests)
    _declare(acme, responder, name="Third")
    assert len(receiver.requests) == sent and WebhookDelivery.objects.count() == 2

    as_admin = signed_in(admin, acme)
    page = as_admin.get(f"/acme/settings/webhooks/{endpoint.public_id}/").content.decode()
    assert "Disabled" in page and "failed for 24 hours" in page
    listing = as_admin.get("/acme/settings/webhooks/").content.decode()
    assert "Disabled" in listing and f"{endpoint.public_id}/enable/" in listing

    receiver.fail_first = 0  # the receiver is fixed
    response = as_admin.post(f"/acme/settings/webhooks/{endpoint.public_id}/enable/")
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0 and endpoint.disabled_reason == ""
    _declare(acme, responder, name="Fourth")
    assert receiver.payloads()[-1]["data"]["incident"]["name"] == "Fourth"


@pytest.mark.django_db(transaction=True)
def test_410_gone_disables_the_endpoint_at_once(acme, responder, receiver):
    endpoint = _endpoint(acme, receiver)
    receiver.fail_first, receiver.fail_status = 1, 410

    _declare(acme, responder)

    endpoint.refresh_from_db()
    assert not endpoint.is_active and "410" in endpoint.disabled_reason
    assert WebhookDelivery.objects.get().state == DeliveryState.FAILED
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_a_job_for_a_deleted_endpoint_returns_quietly(acme, responder, receiver):
    endpoint = _endpoint(acme, receiver)
    receiver.fail_first = 1
    _declare(acme, responder)
    delivery_id = WebhookDelivery.objects.get().pk

    services.endpoint_delete(endpoint=endpoint)

    assert _run_job(delivery_id) == "not pending"
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_jobs_for_one_delivery_send_it_once(acme, responder, receiver):
    _endpoint(acme, receiver)
    receiver.fail_first = 1
    _declare(acme, responder)
    delivery = WebhookDelivery.objects.get()
    _overdue(delivery)
    receiver.delay = 0.5  # the first job is still waiting for the answer when the second starts
    outcomes = []

    def attempt():
        try:
            outcomes.append(services.delivery_attempt(delivery_id=delivery.pk).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.1)
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["delivered", "not pending"]
    assert len(receiver.requests) == 2  # the failed first attempt, and one more


# --- Settings → Webhooks -------------------------------------------------------------------------

PAGE = "/acme/settings/webhooks/"


@pytest.fixture
def as_admin(admin, acme, signed_in):
    return signed_in(admin, acme)


def _acme_endpoint(acme, url="https://example.com/hooks", events=None):
    return services.endpoint_create(org=acme, url=url, events=events or ALL_EVENTS, created_by=None)


SECRET = re.compile(r'data-testid="new-endpoint-secret-value">([^<]+)<')


def _shown_secret(response) -> str:
    match = SECRET.search(response.content.decode())
    assert match, "the secret is on the page that answers the POST that made it"
    return match.group(1)


@pytest.mark.django_db
def test_admin_adds_an_endpoint_and_sees_its_secret_once(as_admin, acme, admin):
    response = as_admin.post(PAGE, {"url": " https://hooks.example.com/incidentio ", "events": ["incident.created"]})

    # Shown in the create response itself: never kept in clear, not even in the session.
    assert response.status_code == 201 and "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get(org=acme)
    assert _shown_secret(response) == endpoint.secret and endpoint.secret.startswith("whsec_")
    assert endpoint.url == "https://hooks.example.com/incidentio"
    assert endpoint.events == ["incident.created"] and endpoint.is_active and endpoint.created_by == admin
    assert stored_value(endpoint, "secret") != endpoint.secret  # encrypted at rest (tests/test_encryption.py)

    # Every later page shows a hint of it, never the secret.
    hint = "whsec_…" + endpoint.secret.rstrip("=")[-4:]
    for later in (as_admin.get(PAGE), as_admin.get(f"{PAGE}{endpoint.public_id}/")):
        page = later.content.decode()
        assert later.status_code == 200 and endpoint.secret not in page and endpoint.secret[6:] not in page
        assert hint in page and 'data-testid="new-endpoint-secret"' not in page
        assert "https://hooks.example.com/incidentio" in page and "Active" in page


@pytest.mark.django_db(transaction=True)
def test_regenerating_the_secret_shows_the_new_one_once_and_the_old_one_stops_verifying(
    acme, admin, responder, signed_in, receiver
):
    endpoint = _endpoint(acme, receiver)
    old_secret = endpoint.secret
    client = signed_in(admin, acme)

    response = client.post(f"{PAGE}{endpoint.public_id}/secret/regenerate/")

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new_secret = _shown_secret(response)
    endpoint.refresh_from_db()
    assert endpoint.secret == new_secret != old_secret and old_secret not in response.content.decode()
    assert new_secret not in client.get(f"{PAGE}{endpoint.public_id}/").content.decode()

    # A receiver still holding the old secret refuses the next delivery (401) ...
    _declare(acme, responder)
    assert [r["verified"] for r in receiver.requests] == [False]
    # ... and accepts its retry once it has the new one.
    receiver.secret = new_secret
    delivery = WebhookDelivery.objects.get()
    _overdue(delivery)
    assert deliver_due_webhooks() == 1
    assert [r["verified"] for r in receiver.requests] == [False, True]
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["ftp://example.com/hooks", "javascript:alert(1)", "example.com/hooks", "https://", "file:///etc/passwd"]
)
def test_only_http_and_https_urls_are_accepted(as_admin, acme, url):
    response = as_admin.post(PAGE, {"url": url, "events": ALL_EVENTS})

    assert response.status_code == 400
    assert "Enter an http:// or https:// URL" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_an_endpoint_needs_at_least_one_event(as_admin, acme):
    response = as_admin.post(PAGE, {"url": "https://example.com/hooks"})
    assert response.status_code == 400
    assert "Choose at least one event to send." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_admin_deletes_an_endpoint(as_admin, acme):
    endpoint = _acme_endpoint(acme)
    response = as_admin.post(f"{PAGE}{endpoint.public_id}/delete/")
    assert response.status_code == 302 and response.url == PAGE
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_the_delivery_log_shows_the_last_50_deliveries(as_admin, acme, django_assert_max_num_queries):
    endpoint = _acme_endpoint(acme)
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint, event_type="incident.updated", event_id=f"00000000-0000-0000-0000-{i:012d}",
            payload={}, created_at=now - timedelta(minutes=i), attempts=1,
            state=DeliveryState.FAILED if i == 0 else DeliveryState.DELIVERED,
            last_status_code=503 if i == 0 else 200, last_error="HTTP 503 Service Unavailable" if i == 0 else "",
        )
        for i in range(55)
    )

    with django_assert_max_num_queries(15):
        page = as_admin.get(f"{PAGE}{endpoint.public_id}/").content.decode()

    log = page.split('data-testid="deliveries"')[1]
    assert log.count("<tr>") == 51  # header + 50
    assert "00000000-0000-0000-0000-000000000049" in log and "00000000-0000-0000-0000-000000000050" not in log
    assert "HTTP 503 Service Unavailable" in log and "Failed" in log


@pytest.mark.django_db
def test_the_endpoint_list_costs_the_same_queries_for_many_endpoints(as_admin, acme, django_assert_max_num_queries):
    _acme_endpoint(acme, url="https://example.com/1")
    with django_assert_max_num_queries(30) as few:
        as_admin.get(PAGE)
    for i in range(2, 8):
        _acme_endpoint(acme, url=f"https://example.com/{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = as_admin.get(PAGE).content.decode()
    assert "https://example.com/7" in page


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["responder", "viewer"])
def test_responders_and_viewers_cannot_manage_webhooks(request, acme, signed_in, who):
    endpoint = _acme_endpoint(acme)
    client = signed_in(request.getfixturevalue(who), acme)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"url": "https://evil.example.com", "events": ALL_EVENTS}).status_code == 403
    assert client.get(f"{PAGE}{endpoint.public_id}/").status_code == 403
    assert client.post(f"{PAGE}{endpoint.public_id}/enable/").status_code == 403
    assert client.post(f"{PAGE}{endpoint.public_id}/delete/").status_code == 403
    assert client.post(f"{PAGE}{endpoint.public_id}/secret/regenerate/").status_code == 403
    assert WebhookEndpoint.objects.count() == 1 and WebhookEndpoint.objects.get().secret == endpoint.secret


@pytest.mark.django_db
def test_another_orgs_endpoint_is_a_404_whatever_the_method(as_admin, globex):
    theirs = _acme_endpoint(globex)
    for suffix in ("", "enable/", "delete/", "secret/regenerate/"):
        assert as_admin.get(f"{PAGE}{theirs.public_id}/{suffix}").status_code == 404
        assert as_admin.post(f"{PAGE}{theirs.public_id}/{suffix}").status_code == 404
    assert WebhookEndpoint.objects.get(pk=theirs.pk).secret == theirs.secret


@pytest.mark.django_db
def test_someone_outside_the_org_cannot_regenerate_a_secret(acme, outsider, globex, signed_in):
    endpoint = _acme_endpoint(acme)
    client = signed_in(outsider, globex)
    response = client.post(f"{PAGE}{endpoint.public_id}/secret/regenerate/")
    # No session for acme: sent to sign in, as on every acme page (another org's id from one's own org is a 404 above).
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert WebhookEndpoint.objects.get().secret == endpoint.secret


@pytest.mark.django_db
def test_wrong_methods_are_405(as_admin, acme):
    endpoint = _acme_endpoint(acme)
    assert as_admin.get(f"{PAGE}{endpoint.public_id}/delete/").status_code == 405
    assert as_admin.get(f"{PAGE}{endpoint.public_id}/enable/").status_code == 405
    assert as_admin.get(f"{PAGE}{endpoint.public_id}/secret/regenerate/").status_code == 405
    assert as_admin.post(f"{PAGE}{endpoint.public_id}/").status_code == 405
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data"],
)
def test_private_addresses_are_refused_when_not_allowed(url, acme, settings):
    from incidentio.common.errors import ServiceError

    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(ServiceError) as refused:
        services.endpoint_create(org=acme, url=url, events=ALL_EVENTS, created_by=None)
    assert refused.value.field == "url" and "public address" in str(refused.value)
    assert not WebhookEndpoint.objects.exists()

