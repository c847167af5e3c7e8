"""docker-compose.yml and the Dockerfile, checked without Docker (these machines have no engine).

- The compose file, interpolated the way Compose does (``${VAR}``, ``${VAR:-default}``,
  ``${VAR:?error}``, ``$$``), validates against the Compose specification's JSON schema
  (``compose-spec.json``, copied from the compose-spec repository, Apache-2.0), and has what the
  stack needs: healthchecks, ``depends_on`` on healthy services, declared volumes, no install step
  at container start.
- Each service's own command line, read from the file, runs here: redis-server with the file's
  arguments (password, append-only file) on a free port, its healthcheck; a worker with the
  environment the file gives it (the host ``redis`` replaced by 127.0.0.1 and the port), its
  healthcheck; the file's ``docker compose run --rm worker ...`` command; Flower with its basic
  auth, its healthcheck, and its API (answers with the credentials, refuses without); the shop's
  web and worker services, in their working directory, on a database of their own on the
  machine's PostgreSQL - migrated and served by the web command, an order placed and its run
  completed by the worker, both healthchecks passing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis
import yaml

from tests.conftest import in_ci
from tests.support.postgres import PostgresUnavailable, PrivateDatabase
from tests.support.redis_server import free_port
from tests.support.wait import wait_for, wait_until
from tests.support.web_client import Client
from tests.support.workers import ROOT

HERE = Path(__file__).resolve().parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SECRETS = {"REDIS_PASSWORD": "s3cret-Pass_1", "FLOWER_USER": "admin", "FLOWER_PASSWORD": "fl0wer-pass",
           "POSTGRES_PASSWORD": "pg-Pass_2", "DJANGO_SECRET_KEY": "shop-key-3"}
EXAMPLES = ("worker", "flower")  # services running examples/celery_app.py
SHOP = ("web", "shop-worker")  # services running the example shop, examples/django_site

_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
                  r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation, on every string in the loaded file."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        found = env.get(name)
        unset = found is None or (found == "" and op is not None and op.startswith(":"))
        if unset and op is not None and op.endswith("?"):
            raise KeyError(f"{name}: {arg}")
        if unset and op is not None and op.endswith("-"):
            return arg
        return found or ""

    return _VAR.sub(one, value)


def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate(raw(), SECRETS if env is None else env)


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def healthcheck_argv(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return ["sh", "-c", test]
    kind, *rest = test
    assert kind in ("CMD", "CMD-SHELL"), test
    return ["sh", "-c", rest[0]] if kind == "CMD-SHELL" else rest


def local(text: str, redis_port: int) -> str:
    """The compose network's ``redis:6379`` is this machine's private redis-server."""
    return text.replace("@redis:6379/", f"@127.0.0.1:{redis_port}/")


def local_env(service: dict[str, Any], redis_port: int, **extra: str) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)  # `celery`, `python` as in the image
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ["PATH"]]), "PYTHONPATH": str(ROOT)}
    env.update({key: local(str(value), redis_port) for key, value in service.get("environment", {}).items()})
    env.update(extra)
    return env


# -- the file itself ------------------------------------------------------------------------------

def test_compose_file_validates_against_the_compose_specification():
    schema = json.loads((HERE / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(compose())
    jsonschema.Draft7Validator(schema).validate(raw())  # before interpolation too (as `config` does)


def test_compose_file_refuses_to_start_without_its_secrets():
    for missing in SECRETS:
        with pytest.raises(KeyError, match=missing):
            compose({key: value for key, value in SECRETS.items() if key != missing})


def test_compose_stack_has_healthchecks_dependencies_and_volumes():
    doc = compose()
    services = doc["services"]
    assert {"redis", "worker", "flower", "postgres", *SHOP} <= set(services)
    redis_argv = " ".join(as_argv(services["redis"]["command"]))
    assert "--appendonly yes" in redis_argv and "--requirepass" in redis_argv
    assert services["redis"]["environment"]["REDIS_PASSWORD"] == SECRETS["REDIS_PASSWORD"]
    for mount in services["redis"]["volumes"]:
        source, target = mount.split(":")[:2]
        assert target == "/data" and source in doc["volumes"], "redis data on a declared named volume"
    assert services["worker"]["deploy"]["replicas"] == 2
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        argv = " ".join(as_argv(service.get("command", [])))
        assert "pip install" not in argv, f"{name} installs at start; the image should have it"
        if name in EXAMPLES + SHOP:
            assert service["build"] == "." and service["image"], name
        if name in EXAMPLES:
            url = service["environment"]["GRAFLOW_BROKER_URL"]
            assert url == f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/0", name
        if name in SHOP:  # a Redis database of its own, and PostgreSQL with the password
            shop_env = service["environment"]
            assert shop_env["REDIS_URL"] == f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/1", name
            assert shop_env["DATABASE_URL"] == f"postgres://shop:{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/shop"
            assert shop_env["DJANGO_SECRET_KEY"] == SECRETS["DJANGO_SECRET_KEY"]
            assert set(service["depends_on"]) == {"redis", "postgres"}, name
        for needed, how in service.get("depends_on", {}).items():
            assert needed in services, f"{name} depends on unknown {needed}"
            assert how["condition"] == "service_healthy", (name, needed)
            assert "healthcheck" in services[needed]
    assert set(services["worker"]["depends_on"]) == {"redis"}
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"] == "admin:fl0wer-pass"
    assert "--port=5555" in as_argv(services["flower"]["command"])
    assert "5555:5555" in services["flower"]["ports"]
    assert "8000:8000" in services["web"]["ports"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
    for mount in services["postgres"]["volumes"]:
        source, target = mount.split(":")[:2]
        assert target == "/var/lib/postgresql/data" and source in doc["volumes"]


def test_dockerfile_installs_the_project_and_examples_at_build_time_as_non_root():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()
             if line.strip() and not line.strip().startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    runs = [line for line in lines if line.startswith("RUN ")]
    assert any(re.search(r"pip install \.(\s|$)", line) and "flower" in line for line in runs)
    assert any(line.startswith("COPY examples") for line in lines)
    assert any(line.startswith("COPY graflow_celery") for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the containers run as a non-root user"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


# -- the commands, run here ---------------------------------------------------------------------

def run_commands_in_header() -> list[list[str]]:
    """The ``docker compose run --rm SERVICE ...`` lines the file's header tells people to use."""
    found = []
    for line in COMPOSE.read_text().splitlines():
        words = line.lstrip("# ").split()
        if words[:4] == ["docker", "compose", "run", "--rm"]:
            found.append(words[4:])
    return found


@pytest.fixture
def stack_redis() -> Iterator[int]:
    """redis-server with the compose file's own command line, on a free port of 127.0.0.1."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    service = compose()["services"]["redis"]
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="graflow-compose-redis-"))
    argv = as_argv(service["command"])
    assert argv[:2] == ["sh", "-c"]
    script = f"{argv[2]} --port {port} --bind 127.0.0.1 --dir {data} --logfile {data}/redis.log"
    proc = subprocess.Popen(["sh", "-c", script], env=local_env(service, port), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port, password=SECRETS["REDIS_PASSWORD"])

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until(up, 10, "the compose redis command to answer")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)


def redis_healthcheck(port: int, password: str) -> int:
    service = compose()["services"]["redis"]
    argv = healthcheck_argv(service)
    argv[-1] = argv[-1].replace("redis-cli", f"redis-cli -p {port}", 1)
    env = local_env(service, port, REDIS_PASSWORD=password)
    return subprocess.run(argv, env=env, capture_output=True, timeout=10).returncode


def test_redis_command_requires_the_password_and_keeps_an_append_only_file(stack_redis):
    port = stack_redis
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).ping()
    client = redis.Redis(port=port, password=SECRETS["REDIS_PASSWORD"])
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert redis_healthcheck(port, SECRETS["REDIS_PASSWORD"]) == 0
    assert redis_healthcheck(port, "wrong") != 0


class Service:
    """One service's command, run here as a process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path,
                 cwd: Path = ROOT) -> None:
        self.log = log_dir / f"{name}.log"
        self.cwd = cwd
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        except ProcessLookupError:
            pass


def flower_get(url: str, auth: tuple[str, str] | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_services_commands_run_the_examples_and_flower_api_needs_auth(stack_redis, tmp_path):
    port = stack_redis
    services = compose()["services"]
    hostname = socket.gethostname()  # a worker is celery@<container hostname> in the stack

    worker_service = services["worker"]
    worker_env = local_env(worker_service, port, HOSTNAME=hostname)
    worker = Service("worker", as_argv(worker_service["command"]), worker_env, tmp_path)

    flower_service = services["flower"]
    flower_port = free_port()
    flower_argv = [arg.replace("--port=5555", f"--port={flower_port}")
                   for arg in as_argv(flower_service["command"])] + ["--address=127.0.0.1"]
    flower = Service("flower", flower_argv, local_env(flower_service, port), tmp_path)
    try:
        wait_until(lambda: worker.proc.poll() is not None or b"ready." in worker.log.read_bytes(), 60,
                   "the worker to start")
        assert worker.proc.poll() is None, worker.tail()

        health = subprocess.run(healthcheck_argv(worker_service), env=worker_env, capture_output=True,
                                text=True, timeout=30, cwd=ROOT)
        assert health.returncode == 0, health.stdout + health.stderr

        runs = run_commands_in_header()
        assert runs, "the file's header shows no `docker compose run --rm worker ...` command"
        for service_name, *argv in runs:
            env = local_env(services[service_name], port)
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
            assert done.returncode == 0, done.stderr + worker.tail()
            assert "etl: 2 of 3 passed: ada, grace" in done.stdout
            assert "diamond: stats=" in done.stdout

        flower_check = healthcheck_argv(flower_service)
        flower_check = [arg.replace(":5555/", f":{flower_port}/") for arg in flower_check]

        def flower_healthy() -> bool:
            assert flower.proc.poll() is None, flower.tail()
            return subprocess.run(flower_check, env=local_env(flower_service, port), capture_output=True,
                                  timeout=15).returncode == 0

        wait_until(flower_healthy, 60, "flower's healthcheck to pass")
        base = f"http://127.0.0.1:{flower_port}"
        auth = (SECRETS["FLOWER_USER"], SECRETS["FLOWER_PASSWORD"])
        status, _ = flower_get(f"{base}/api/workers", None)
        assert status == 401
        status, _ = flower_get(f"{base}/api/workers", (auth[0], "wrong"))
        assert status == 401
        status, body = flower_get(f"{base}/api/workers?refresh=1", auth)
        assert status == 200, body
        assert f"celery@{hostname}" in json.loads(body)
        status, body = flower_get(f"{base}/", None)
        assert status == 401
    finally:
        flower.stop()
        worker.stop()


def test_healthcheck_timeouts_fit_their_intervals():
    for service in compose()["services"].values():
        check = service["healthcheck"]

        def seconds(text: str) -> float:
            return float(text.rstrip("s"))

        assert seconds(check["timeout"]) <= seconds(check["interval"])


def test_shop_services_commands_migrate_serve_and_run_an_order(stack_redis, tmp_path):
    try:
        db = PrivateDatabase("graflow_compose").create()
    except PostgresUnavailable as exc:
        if in_ci():
            pytest.fail(f"PostgreSQL is needed in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))
    port = stack_redis
    services = compose()["services"]
    hostname = socket.gethostname()
    web_port = free_port()
    started: list[Service] = []

    def run(name: str, **extra: str) -> tuple[Service, dict[str, str]]:
        service = services[name]
        env = local_env(service, port, DATABASE_URL=db.url, **extra)  # its own database, user postgres
        argv = [arg.replace("0.0.0.0:8000", f"127.0.0.1:{web_port}") for arg in as_argv(service["command"])]
        cwd = ROOT / service["working_dir"].removeprefix("/app/")
        started.append(Service(name, argv, env, tmp_path, cwd=cwd))
        return started[-1], env

    try:
        worker, worker_env = run("shop-worker", HOSTNAME=hostname)
        web, web_env = run("web")
        wait_until(lambda: worker.proc.poll() is not None or b"ready." in worker.log.read_bytes(), 60,
                   "the shop's worker to start")
        assert worker.proc.poll() is None, worker.tail()
        check = healthcheck_argv(services["shop-worker"])
        health = subprocess.run(check, env=worker_env, capture_output=True, text=True, timeout=30,
                                cwd=worker.cwd)
        assert health.returncode == 0, health.stdout + health.stderr

        web_check = [arg.replace(":8000/", f":{web_port}/") for arg in healthcheck_argv(services["web"])]

        def web_healthy() -> bool:
            assert web.proc.poll() is None, web.tail()
            return subprocess.run(web_check, env=web_env, capture_output=True, timeout=15).returncode == 0

        wait_until(web_healthy, 60, "the web service's healthcheck to pass")  # migrated, then serving
        client = Client(f"http://127.0.0.1:{web_port}")
        status, headers, _ = client.request("POST", "/", {"item": "lamp", "quantity": "1"})
        assert status == 302, web.tail()
        run_page = headers["Location"]
        api = run_page.replace("/workflows/runs/", "/workflows/api/runs/")
        report = wait_for("the order's run to finish",
                          lambda: (r := client.json(api)[1])["finished"] and r, 30)
        assert report["status"] == "completed", report
        assert client.request("GET", run_page)[0] == 200
    finally:
        for service in started:
            service.stop()
        db.drop()
