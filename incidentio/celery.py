"""The Celery app. Workers: ``celery -A incidentio worker``; beat: ``celery -A incidentio beat``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentio.settings")

app = Celery("incidentio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
