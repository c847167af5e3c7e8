"""A database of its own on the machine's PostgreSQL (127.0.0.1:5432, trust auth, user postgres):
created with a unique name for a test session and dropped at its end. No other database is
touched. ``scripts/test`` starts the server in CI when it is not running."""

from __future__ import annotations

import os
import uuid

HOST = os.environ.get("GRAFLOW_TEST_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("GRAFLOW_TEST_PG_PORT", "5432"))
USER = os.environ.get("GRAFLOW_TEST_PG_USER", "postgres")


class PostgresUnavailable(Exception):
    pass


def _admin() -> object:
    try:
        import psycopg
    except ImportError as exc:
        raise PostgresUnavailable("psycopg is not installed (pip install 'psycopg[binary]')") from exc
    try:
        return psycopg.connect(host=HOST, port=PORT, user=USER, dbname="postgres", autocommit=True,
                               connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(f"no PostgreSQL at {HOST}:{PORT} for user {USER}: {exc}") from exc


class PrivateDatabase:
    def __init__(self, prefix: str = "graflow_test") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"

    @property
    def url(self) -> str:
        return f"postgres://{USER}@{HOST}:{PORT}/{self.name}"

    def connect(self) -> object:
        import psycopg

        return psycopg.connect(host=HOST, port=PORT, user=USER, dbname=self.name, autocommit=True)

    def create(self) -> PrivateDatabase:
        with _admin() as admin:  # type: ignore[attr-defined]
            admin.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        with _admin() as admin:  # type: ignore[attr-defined]
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
