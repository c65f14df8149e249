# The one image for web, worker and beat (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so editing the code does not reinstall them.
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt

COPY . .

# Settings refuse to load with DEBUG off unless SECRET_KEY, ALLOWED_HOSTS,
# FIELD_ENCRYPTION_KEYS and EMAIL_HOST (or EMAIL_CONSOLE) are set. These values
# exist only for this command and are not kept in the image; the real ones come
# from the environment at run time.
RUN DEBUG=0 \
    SECRET_KEY=build-time-only-collectstatic-key-not-used-at-runtime-0123456789 \
    ALLOWED_HOSTS=localhost \
    FIELD_ENCRYPTION_KEYS=YnVpbGQtdGltZS1vbmx5LWtleS1ub3QtdXNlZC0wMDA= \
    EMAIL_CONSOLE=1 \
    python manage.py collectstatic --noinput

# The code stays owned by root: the app user can read it but not change it.
RUN useradd --system --uid 10001 --no-create-home incidentio
USER incidentio

EXPOSE 8000
# gunicorn.conf.py (read from /app) keeps invitation and reset keys out of the access log.
CMD ["gunicorn", "incidentio.config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
