"""The Celery app. Workers: ``celery -A incidentio worker``; beat: ``celery -A incidentio beat``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentio.settings")

app = Celery("incidentio")
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
