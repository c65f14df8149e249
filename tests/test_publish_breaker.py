"""The publish breaker (incidentio/config/celery.py): after a publish fails, the
process stops trying for a while instead of waiting on the broker again for
every job a request queues. Published to a real Redis, and to a port where
nothing listens."""

from __future__ import annotations

import pytest
import redis
from celery import Celery
from django.conf import settings
from kombu.exceptions import OperationalError

from incidentio.config import celery as incidentio_celery
from incidentio.config.celery import BrokerUnavailable, PublishBreakerTask
from tests.live_stack import free_port


@pytest.fixture
def breaker(monkeypatch):
    """A clean breaker, put back as it was after the test (it is per process)."""
    monkeypatch.setattr(PublishBreakerTask, "_failed_at", None)
    return monkeypatch


def _app(broker_url: str) -> tuple[Celery, object]:
    app = Celery("breaker-test", broker=broker_url, task_cls=PublishBreakerTask)
    # The project's deadlines and retry policy (incidentio/config/settings.py).
    app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    app.conf.task_publish_retry_policy = settings.CELERY_TASK_PUBLISH_RETRY_POLICY

    @app.task(name="breaker_test.noop", shared=False)
    def noop():
        return None

    return app, noop


def test_after_a_failed_publish_the_process_stops_trying_for_a_while(breaker):
    _, noop = _app(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there

    with pytest.raises(OperationalError) as first:
        noop.delay()
    assert not isinstance(first.value, BrokerUnavailable)  # it tried, and the broker refused

    with pytest.raises(BrokerUnavailable, match="breaker_test.noop not published"):
        noop.delay()  # within the back-off: not tried at all

    breaker.setattr(incidentio_celery, "PUBLISH_BACKOFF_S", 0.0)  # the back-off is over
    with pytest.raises(OperationalError) as again:
        noop.delay()
    assert not isinstance(again.value, BrokerUnavailable)  # tried again


def test_a_publish_that_succeeds_closes_the_breaker(breaker, private_redis):
    app, noop = _app(private_redis)  # an empty database of this worker's own: the queue holds this job only
    breaker.setattr(incidentio_celery, "PUBLISH_BACKOFF_S", 0.0)
    PublishBreakerTask._failed_at = 1.0  # a failure long ago

    try:
        noop.delay()
        assert PublishBreakerTask._failed_at is None
        assert redis.Redis.from_url(private_redis).llen("celery") == 1  # the job really is on the queue
    finally:
        app.close()


def test_the_apps_tasks_go_through_the_breaker():
    from learning.tasks import advance_incident
    from slackbot.tasks import deliver_outbox_message

    assert isinstance(advance_incident, PublishBreakerTask)
    assert isinstance(deliver_outbox_message, PublishBreakerTask)
