"""The example Django project (``examples/django_site``) as it runs for real: a database of its
own on the machine's PostgreSQL, migrated; a private redis-server (broker and run state); one
Celery worker of the project (``celery -A shop worker``); the project served by gunicorn; and a
driver process of the project that holds transactions open on request (``driver.py``). All
started once for the session, when a test first needs them, and stopped at its end.

Without PostgreSQL the tests are skipped, saying why - in CI (CI=true) they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import in_ci
from tests.support.browser import browser, page  # noqa: F401  (fixtures for the browser tests)
from tests.support.postgres import PostgresUnavailable, PrivateDatabase
from tests.support.redis_server import RedisServer, free_port
from tests.support.wait import wait_until
from tests.support.web_client import Client
from tests.support.workers import ROOT, started

SITE = ROOT / "examples" / "django_site"
OUTBOX_GRACE = 4  # seconds (settings.py): workers sweep the outbox every 2, give or take a fifth


class Driver:
    """``driver.py`` in a subprocess: one JSON line out, one back."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-u", str(Path(__file__).with_name("driver.py"))],
                                     cwd=SITE, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def __call__(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the driver exited ({self.proc.poll()})"
        return json.loads(line)  # type: ignore[no-any-return]

    def exits(self, op: str, **fields: Any) -> int:
        """Send a line that ends the process (``"die_on_commit"``); its exit code."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.proc.stdin.flush()
        return self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(15)


@dataclass(frozen=True)
class User:
    name: str
    password: str


class Shop:
    def __init__(self, db: PrivateDatabase, redis: RedisServer, env: dict[str, str], base: str,
                 driver: Driver) -> None:
        self.db = db
        self.redis = redis
        self.env = env
        self.base = base
        self.driver = driver

    def client(self) -> Client:
        return Client(self.base)

    def logged_in(self, user: User) -> Client:
        """A client with a session of ``user``, signed in through the shop's login form."""
        client = self.client()
        status, _, _ = client.request("GET", "/accounts/login/")  # sets the CSRF cookie
        assert status == 200
        status, _, _ = client.request("POST", "/accounts/login/",
                                      {"username": user.name, "password": user.password})
        assert status == 302, f"{user.name} could not sign in"
        return client

    def order(self, order_id: int) -> dict[str, Any] | None:
        """The order's row, read by this process's own connection: committed data only."""
        columns = ["status", "emailed", "charged_at", "tracking", "run_id", "reviewed_by"]
        with self.db.connect() as conn:  # type: ignore[attr-defined]
            cursor = conn.execute(f"SELECT {', '.join(columns)} FROM orders_order WHERE id = %s", (order_id,))
            row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip(columns, row, strict=True))

    def manage(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=SITE, env=self.env,
                              capture_output=True, text=True, timeout=timeout)


def _server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        argv = [sys.executable, "-m", "gunicorn", "shop.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--threads", "4", "--access-logfile", "-"]
        return subprocess.Popen(argv, cwd=SITE, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


@pytest.fixture(scope="session")
def shop() -> Iterator[Shop]:
    try:
        db = PrivateDatabase("graflow_shop").create()
    except PostgresUnavailable as exc:
        if in_ci():
            pytest.fail(f"PostgreSQL is needed in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))
    redis = RedisServer().start()
    logs = Path(tempfile.mkdtemp(prefix="graflow-shop-"))
    env = {**os.environ, "DATABASE_URL": db.url, "REDIS_URL": redis.url,
           "DJANGO_SETTINGS_MODULE": "tests.django.settings", "GRAFLOW_TEST_OUTBOX_GRACE": str(OUTBOX_GRACE),
           "PYTHONPATH": os.pathsep.join([str(SITE), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    server: subprocess.Popen[bytes] | None = None
    driver: Driver | None = None
    try:
        migrated = subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=SITE, env=env,
                                  capture_output=True, text=True, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        with started(["shop"], redis.url, logs, env=env, app_module="shop"):
            port = free_port()
            server = _server(env, port, logs / "gunicorn.log")
            base = f"http://127.0.0.1:{port}"

            def answering() -> bool:
                assert server is not None and server.poll() is None, (logs / "gunicorn.log").read_text()
                try:
                    with urllib.request.urlopen(base + "/", timeout=2):
                        return True
                except OSError:
                    return False

            wait_until(answering, 30, "gunicorn to serve the shop")
            driver = Driver(env)
            yield Shop(db, redis, env, base, driver)
    finally:
        if driver is not None:
            driver.stop()
        if server is not None:
            server.terminate()
            server.wait(15)
        redis.stop()
        db.drop()


@pytest.fixture(scope="session")
def manager(shop: Shop) -> User:
    """A user with the permission graflow.answer_feedback, made by the shop's own command."""
    user = User("manager", "manager-pass-1")
    made = shop.manage("create_manager", user.name, "--password", user.password)
    assert made.returncode == 0, made.stderr
    return user


@pytest.fixture(scope="session")
def senior(shop: Shop) -> User:
    """A manager who may approve orders over 1000 EUR too (orders.approve_large_order)."""
    user = User("senior", "senior-pass-1")
    made = shop.manage("create_manager", user.name, "--password", user.password, "--large-orders")
    assert made.returncode == 0, made.stderr
    return user


@pytest.fixture(scope="session")
def support(shop: Shop) -> User:
    """A user in the group "support", which holds no permission."""
    user = User("support", "support-pass-1")
    shop.driver("user", username=user.name, password=user.password, groups=["support"])
    return user


@pytest.fixture(scope="session")
def root(shop: Shop) -> User:
    """A superuser."""
    user = User("root", "root-pass-1")
    shop.driver("user", username=user.name, password=user.password, superuser=True)
    return user


@pytest.fixture(scope="session")
def clerk(shop: Shop) -> User:
    """A user without any permission."""
    user = User("clerk", "clerk-pass-1")
    shop.driver("user", username=user.name, password=user.password)
    return user
