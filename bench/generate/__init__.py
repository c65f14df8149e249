"""The deterministic benchmark data generator (issue #7).

    python -m bench.generate --database-url postgres://postgres@127.0.0.1:5432/incidentio_bench \\
        --scale full --manifest bench/results/manifest.json [--seed 1]

(Re)creates the database, migrates it, creates every organization through the
product's own services, then streams the bulk rows (incidents, timeline, tasks,
...) in with COPY and returns a manifest of the fixtures the benchmark needs.
Django is set up here, against ``database_url``: call :func:`generate` from a
process that has not set Django up for another database.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from bench.generate.scales import SCALES

__all__ = ["generate", "SCALES"]


def _anchor(anchor: datetime | None) -> datetime:
    """"Now" for the data: midnight UTC today unless given (the same anchor and seed make the same rows)."""
    if anchor is None:
        anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=UTC)
    return anchor


def recreate_database(database_url: str) -> str:
    """DROP (forcing other sessions off) and CREATE the URL's database; returns its name."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name or name in ("postgres", "template0", "template1"):
        raise ValueError(f"refusing to recreate database {name!r}")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    connection = psycopg2.connect(maintenance)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()
    return name


def setup_django(database_url: str) -> None:
    """Point Django at ``database_url`` and set it up (before anything imports models)."""
    import django
    from django.conf import settings

    if settings.configured:
        import dj_database_url

        wanted = dj_database_url.parse(database_url)
        current = settings.DATABASES["default"]
        if any(str(current.get(k) or "") != str(wanted.get(k) or "") for k in ("NAME", "HOST", "PORT")):
            raise RuntimeError(
                "Django is already set up for another database; run the generator in its own process "
                "(python -m bench.generate ...)."
            )
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "incidentio.config.settings"
    django.setup()


def generate(*, database_url: str, scale: str, seed: int = 1, anchor: datetime | None = None,
             log=None) -> dict:
    """Recreate the database at ``database_url`` and fill it; return the manifest.

    ``scale`` is one of :data:`SCALES` (``full``, ``smoke``, ``tiny``). The same
    ``seed`` and ``anchor`` (default: midnight UTC today) make the same rows,
    except the API key's secret, which is drawn by the product.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    say = log or (lambda message: None)
    started = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.monotonic()
        timings[name] = round(now - since, 2)
        say(f"{name}: {timings[name]:.1f}s")
        return now

    anchor = _anchor(anchor)
    recreate_database(database_url)
    setup_django(database_url)
    from django.core.management import call_command

    from bench.generate import finish, tenants
    from bench.generate.load import Generator

    t = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    t = lap("migrate", t)

    gen = Generator(seed=seed, anchor=anchor.timestamp(), scale=SCALES[scale])
    orgs = tenants.create(gen, SCALES[scale])
    t = lap("organizations", t)

    skip_triggers = finish.is_superuser()
    gen.open(database_url, skip_triggers=skip_triggers)
    try:
        for org in orgs:
            plans = gen.plan_big_org(org) if org.big else gen.plan_small_org(org)
            gen.run_org(org, plans)
        gen.close()
    except BaseException:
        gen.abort()
        raise
    t = lap("bulk_rows", t)

    finish.reset_sequences_and_counters()
    if skip_triggers:
        finish.verify_foreign_keys()
    t = lap("sequences_and_checks", t)
    finish.vacuum_analyze(database_url)
    t = lap("vacuum_analyze", t)

    manifest = finish.manifest(gen, orgs, database_url=database_url, scale=scale, seed=seed, anchor=anchor)
    manifest["timings"] = timings
    manifest["elapsed_seconds"] = round(time.monotonic() - started, 1)
    return manifest


def anchor_from_text(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


DEFAULT_ANCHOR_HELP = "'now' of the data, ISO date or datetime (default: midnight UTC today)"
