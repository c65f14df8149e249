"""The Celery app. Workers: ``celery -A incidentio worker``; beat: ``celery -A incidentio beat``."""

import os
import time

from celery import Celery, Task
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentio.config.settings")

#: After a publish fails, this process publishes nothing for this many seconds.
PUBLISH_BACKOFF_S = 10.0


class BrokerUnavailable(OperationalError):
    """Not published: a publish failed in this process moments ago (``PublishBreakerTask``)."""


class PublishBreakerTask(Task):
    """Every task of the app: published through a breaker.

    Each Redis call has a deadline (``REDIS_BROKER_TIMEOUT_S``), but a publish
    to a Redis that accepts connections and never answers still waits for one
    or more of them, and a request that queues several jobs (a status change:
    an advance, Slack messages, webhooks) would wait for each in turn, past
    the web server's timeout. So after one failed publish this process stops
    trying for ``PUBLISH_BACKOFF_S``: publishing raises at once, as it would
    have after waiting, and the callers already handle that (after-commit
    callbacks are ``robust``; the beat's sweeps queue the work again).
    """

    #: When a publish last failed in this process (monotonic), or None. Shared by every task.
    _failed_at: float | None = None

    def apply_async(self, *args, **kwargs):
        if self.app.conf.task_always_eager:  # no broker: run here and now
            return super().apply_async(*args, **kwargs)
        failed_at = PublishBreakerTask._failed_at
        if failed_at is not None and time.monotonic() - failed_at < PUBLISH_BACKOFF_S:
            raise BrokerUnavailable(
                f"{self.name} not published: publishing failed {time.monotonic() - failed_at:.1f} s ago"
            )
        try:
            result = super().apply_async(*args, **kwargs)
        except OperationalError:
            PublishBreakerTask._failed_at = time.monotonic()
            raise
        PublishBreakerTask._failed_at = None
        return result


app = Celery("incidentio", task_cls=PublishBreakerTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task priorities on Redis: lower is sooner. Kombu keeps one list per priority
# step (0, 3, 6, 9) under each queue name, and a worker pops them in that
# order, so every worker of the queue honours them whatever its ``-Q``.
# Unmarked tasks are 0: what a person is waiting on in the product (an advance
# to the next learning status, an answer to a Slack interaction) and the
# beat's sweeps, which are cheap and must not wait behind the backlog they
# repair (they re-queue each delivery at its own priority).
#: Deliveries (Slack messages, webhooks): a burst of them must not hold back
#: an advance queued after it.
PRIORITY_BACKGROUND = 6
#: Slack edits that re-render a message already posted (the task list after a
#: task changed): they render the state current when they run and a newer one
#: makes an older one a no-op, so they wait behind new posts and DMs, which
#: carry news (``slackbot.tasks.delivery_priority``).
PRIORITY_REFRESH = 9
