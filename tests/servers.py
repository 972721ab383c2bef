"""Real PostgreSQL and Redis servers on loopback, as the production-profile tests use them.

The servers are the machine's own (``make test`` starts them when they are down: see
``ci/services.sh``); every test gets databases and a Redis database index of its own and
drops them afterwards, so a user's data on the same servers is never touched.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis

POSTGRES_URL = os.environ.get(
    "MODELWORKS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432"
)
REDIS_HOST = os.environ.get("MODELWORKS_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("MODELWORKS_TEST_REDIS_PORT", "6379"))


def _admin() -> psycopg.Connection:
    # CREATE/DROP DATABASE cannot run in a transaction
    return psycopg.connect(f"{POSTGRES_URL}/postgres", connect_timeout=5, autocommit=True)


@contextmanager
def temporary_databases(*purposes: str, create: bool = True) -> Iterator[dict[str, str]]:
    """PostgreSQL databases of unique names, one per purpose: ``{purpose: url}``; made now
    (unless ``create`` is false: the code under test makes them) and dropped afterwards."""
    stem = f"mw_test_{uuid.uuid4().hex[:10]}"
    names = {purpose: f"{stem}_{purpose}" for purpose in purposes}
    admin = _admin()
    try:
        with admin.cursor() as cursor:
            for name in names.values() if create else ():
                cursor.execute(f'CREATE DATABASE "{name}"')
        yield {purpose: f"{POSTGRES_URL}/{name}" for purpose, name in names.items()}
    finally:
        with admin.cursor() as cursor:
            for name in names.values():
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def temporary_redis_db() -> Iterator[int]:
    """An empty Redis database index (1-15) held for the test and flushed afterwards.

    A key ``modelworks:test:claim`` marks it taken, so parallel test workers never share one.
    """
    for index in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index)
        if client.dbsize() == 0 and client.set("modelworks:test:claim", os.getpid(), nx=True):
            try:
                yield index
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    raise RuntimeError(f"no empty Redis database on {REDIS_HOST}:{REDIS_PORT} for the test")


def existing_databases() -> set[str]:
    with _admin() as admin:
        return {row[0] for row in admin.execute("SELECT datname FROM pg_database")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
