"""Racing real database transactions from threads, for the Postgres-only tests."""

from __future__ import annotations

import threading

from django.db import connection


def run_in_threads(work, count: int = 2, *, timeout: float = 120) -> tuple[list, list[BaseException]]:
    """Run ``work(i)`` in ``count`` threads released together by a barrier.

    Each thread uses (and closes) its own database connection, so the calls
    race as separate transactions. Returns (results by i, errors raised).
    """
    barrier = threading.Barrier(count, timeout=30)
    results: list = [None] * count
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as error:  # broad on purpose: reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a racing thread hung"
    return results, errors
