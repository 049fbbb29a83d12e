"""Start and stop the docker-compose topology as local processes (no Docker engine needed).

``distributed_topology()`` brings up, on loopback and in a temporary directory:

* Redis (the Celery broker) and PostgreSQL (Debian packages, installed when missing and run as
  root) with two databases: Airflow's metadata (also Celery's result backend) and the hub's store,
  made with its roles by the compose's own ``deploy/postgres-init/10-store-database.sh`` (owner,
  runtime role, SIAPP NV's reader);
* the sandbox (SIASN + SIAPP NV emulators), the connections pointing at it as ``AIRFLOW_CONN_*``
  JSON, the store's as the runtime role (DML only);
* ``airflow db migrate``, ``siapp-siasn store migrate`` and ``store grant`` as the store's owner
  (connection ``siapp_siasn_store_owner``, given to these steps only) and the ``siasn_api`` pool
  (what the compose's airflow-init does), then the api-server, scheduler, dag-processor,
  triggerer and N Celery workers, each its own process group;
* a sampler of ``pg_stat_activity`` on the store database, so a test can assert which roles the
  services connected as (:meth:`Topology.store_users`).

Airflow's settings come from ``deploy/airflow.env``, the one settings source the compose file
reads too: its ``${VAR}`` references are filled in with what this run allocated (URLs, ports,
secrets), then only what differs between a container and a local process is overridden
(paths, loopback addresses, free ports, per-worker host names). The cluster policy is the
deployment's (``deploy/airflow_local_settings.py``: SIASN callers share one pool) plus, for the
test only, shorter schedules and retry delays, in the run's ``$AIRFLOW_HOME/config``:
configuration, not a change to ``dags/``.

Everything started is stopped on exit, also on failure: SIGTERM to each process group, SIGKILL
after a grace period, then any descendant that left its group.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from siapp_siasn.airflow_env import PROJECT_ROOT, airflow_bin, sandbox_connections

ENV_FILE = PROJECT_ROOT / "deploy" / "airflow.env"
#: the per-worker host name a task instance records (see :func:`worker_hostname`)
WORKER_NAME_VAR = "SIAPP_E2E_WORKER_NAME"
ADMIN_USER = "admin"

_REF = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}")

#: the deployment's cluster policy (SIASN callers share one pool), then this run's additions
POLICY_FILE = PROJECT_ROOT / "deploy" / "airflow_local_settings.py"
#: what airflow-init does, as processes that end when done (not services)
ONE_SHOT = {"store-init", "db-migrate", "store-migrate", "store-grant", "siasn-pool"}
#: the compose's store database script (postgres image's /docker-entrypoint-initdb.d)
STORE_INIT = PROJECT_ROOT / "deploy" / "postgres-init" / "10-store-database.sh"
STORE_DB = "siapp_store"
STORE_OWNER, STORE_RUNTIME, STORE_READER = "siapp_siasn", "siapp_siasn_runtime", "siapp_nv"
#: the reader group role of migration 0002 (tables.READER_ROLE)
READER_GROUP = "siapp_nv_reader"
OWNER_CONN_ID = "siapp_siasn_store_owner"
#: slots of the SIASN pool in this run (airflow-init creates it with SIASN_POOL_SLOTS)
SIASN_POOL_SLOTS = 1

_TEST_POLICY = """

# --- the distributed e2e run (test only): shorter schedules and retry delays
import datetime

from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

SCHEDULES = {schedules!r}
RETRY_DELAY = datetime.timedelta(seconds={retry_delay_s!r})


def dag_policy(dag):
    if dag.dag_id in SCHEDULES:
        dag.timetable = CronTriggerTimetable(SCHEDULES[dag.dag_id], timezone=dag.timezone)


def task_policy(task):
    hub_task_policy(task)
    task.retry_delay = RETRY_DELAY
"""


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the workers: their own name, so that a task instance's
    ``hostname`` tells the two workers of one machine apart."""
    return os.environ.get(WORKER_NAME_VAR) or socket.getfqdn()


def read_env_file(path: Path, variables: dict[str, str]) -> dict[str, str]:
    """Parse ``KEY=value`` lines (compose ``env_file`` syntax) and substitute ``${VAR}``,
    ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?message}`` and ``$$`` from ``variables``.

    A reference to a variable that is neither given nor defaulted raises ``KeyError`` naming it,
    so a setting the native run does not provide is never silently empty."""
    out: dict[str, str] = {}

    def substitute(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.groups()
        value = variables.get(name)
        if value is not None and not (op in (":-", ":?") and value == ""):
            return value
        if op in (":-", "-"):
            return arg or ""
        raise KeyError(f"{path.name}: ${{{name}}} is not set by the native run ({arg or ''})")

    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: not a KEY=value line")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = _REF.sub(substitute, value)
    return out


def free_port() -> int:
    """A free TCP port on loopback (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_packages() -> None:
    """Install Debian's redis-server and postgresql when missing (as root, like ``make test``)."""
    from tests.fixtures.postgres import PostgresUnavailable, find_pg_ctl

    missing = [] if shutil.which("redis-server") else ["redis-server"]
    try:
        find_pg_ctl()
    except PostgresUnavailable:
        missing.append("postgresql")
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(f"missing {missing}: install them with `apt-get install -y {missing}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
    )
    # the packages may start system services; this run starts its own servers
    for service in ("redis-server", "postgresql"):
        subprocess.run(["service", service, "stop"], capture_output=True, check=False)


@dataclass
class Proc:
    """One started process (its own process group) and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _stop(proc: Proc, grace_s: float = 15.0) -> None:
    """SIGTERM the process group, SIGKILL after ``grace_s``; then kill escaped descendants."""
    import psutil

    pid = proc.popen.pid
    try:
        family = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        family = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(10)
    for child in family:
        with contextlib.suppress(psutil.Error):
            child.kill()


class Api:
    """Airflow's REST API (``/api/v2``) with a JWT from the simple auth manager
    (``POST /auth/token`` with the user's name and password)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self._login = {"username": username, "password": password}
        self.http = httpx.Client(base_url=base_url, timeout=60.0)
        self._token: str | None = None

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            r = self.http.post("/auth/token", json=self._login)
            r.raise_for_status()
            self._token = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def request(self, method: str, path: str, **kw: Any) -> Any:
        """One call; raises on an error status; returns the JSON body (None when empty)."""
        r = self.http.request(method, f"/api/v2/{path.lstrip('/')}", headers=self._headers(), **kw)
        if r.status_code == 401:  # expired token: log in again once
            self._token = None
            r = self.http.request(
                method, f"/api/v2/{path.lstrip('/')}", headers=self._headers(), **kw
            )
        if r.is_error:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r.json() if r.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def close(self) -> None:
        self.http.close()


@dataclass
class Topology:
    """The running topology: REST API, sandbox, store URL and the processes by name."""

    api: Api
    sandbox: Any  # siapp_sandbox.testing.RunningSandbox
    #: the store as the DAGs' runtime role (what the services' connection holds)
    store_url: str
    workdir: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    #: the hostname a task instance records -> the name of its worker process
    workers: dict[str, str] = field(default_factory=dict)
    #: the store as its owner (the migrate and grant steps only) and as the server's superuser
    owner_url: str = ""
    admin_url: str = ""
    sessions: SessionSampler | None = None

    def store_users(self) -> dict[str, int]:
        """Role -> how many samples of ``pg_stat_activity`` (every 0.2 s since the services
        started) saw it connected to the store database; the sampler's own session excluded."""
        assert self.sessions is not None
        return self.sessions.users()

    def kill(self, name: str) -> None:
        """SIGKILL a process and its whole group at once (a worker dying with its tasks)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].popen.pid, signal.SIGKILL)
        self.procs[name].popen.wait(30)

    def logs(self, lines: int = 30) -> str:
        """The tail of every process's log (for assertion messages)."""
        return "\n".join(f"--- {p.name} ---\n{p.tail(lines)}" for p in self.procs.values())


def wait_for(what: str, check: Callable[[], Any], timeout_s: float, every_s: float = 2.0) -> Any:
    """Poll ``check`` until it returns something truthy; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # not up yet: keep polling
            last = exc
        time.sleep(every_s)
    raise TimeoutError(f"{what}: not within {timeout_s:.0f}s (last error: {last!r})")


@contextlib.contextmanager
def distributed_topology(
    *,
    sandbox: dict[str, Any],
    schedules: dict[str, str],
    retry_delay_s: float = 5.0,
    workers: tuple[str, ...] = ("worker-a", "worker-b"),
    concurrency: int = 2,
    siasn_extra: dict[str, Any] | None = None,
    env_file: Path = ENV_FILE,
) -> Iterator[Topology]:
    """Start everything (see the module docstring); stop everything on exit.

    The run's directory (Airflow home, logs) is removed on success and kept on failure."""
    from siapp_sandbox.testing import run_sandbox
    from tests.fixtures.postgres import PostgresServer

    ensure_packages()
    if not env_file.exists():
        raise FileNotFoundError(f"{env_file}: the settings source of the compose file is missing")
    workdir = Path(tempfile.mkdtemp(prefix="siapp-distributed-"))
    home = workdir / "airflow"
    (home / "config").mkdir(parents=True)
    procs: dict[str, Proc] = {}
    failed = True

    def spawn(name: str, cmd: list[str], env: dict[str, str]) -> Proc:
        log = workdir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                cmd,
                env=env,
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs[name] = Proc(name, popen, log)
        return procs[name]

    with contextlib.ExitStack() as stack:
        stack.callback(_remove_workdir, workdir, lambda: failed)
        pg = stack.enter_context(PostgresServer())
        airflow_db = pg.create_database("airflow")
        # the store database and its roles, by the compose's init script (as the superuser)
        passwords = {role: secrets.token_hex(12) for role in (STORE_OWNER, STORE_RUNTIME)}
        init = subprocess.run(
            ["bash", str(STORE_INIT)],
            env={
                **os.environ,
                "POSTGRES_USER": pg.user,
                "POSTGRES_DB": airflow_db.rsplit("/", 1)[1],
                "PGHOST": pg.host,
                "PGPORT": str(pg.port),
                "STORE_DB_NAME": STORE_DB,
                "STORE_DB_USER": STORE_OWNER,
                "STORE_DB_PASSWORD": passwords[STORE_OWNER],
                "STORE_RUNTIME_USER": STORE_RUNTIME,
                "STORE_RUNTIME_PASSWORD": passwords[STORE_RUNTIME],
                "STORE_READER_USER": STORE_READER,
                "STORE_READER_PASSWORD": secrets.token_hex(12),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if init.returncode != 0:
            raise RuntimeError(f"store-init failed ({init.returncode}):\n{init.stderr}")

        def store_as(role: str) -> str:
            return f"postgresql+psycopg://{role}:{passwords[role]}@{pg.host}:{pg.port}/{STORE_DB}"

        store_url, owner_url = store_as(STORE_RUNTIME), store_as(STORE_OWNER)
        sb = stack.enter_context(run_sandbox(**sandbox))
        # the Airflow processes stop before the servers they talk to (exit order is LIFO)
        stack.callback(_stop_all, procs)
        redis_port = free_port()
        redis = spawn(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            dict(os.environ),
        )

        # --- settings: the env file with this run's values, then the native overrides
        api_port = free_port()
        password = secrets.token_urlsafe(16)
        (home / "passwords.json").write_text(json.dumps({ADMIN_USER: password}))
        (home / "config" / "airflow_local_settings.py").write_text(
            POLICY_FILE.read_text()
            + _TEST_POLICY.format(schedules=schedules, retry_delay_s=float(retry_delay_s))
        )
        # the variables deploy/airflow.env refers to, as this run allocated them
        variables = {
            "AIRFLOW_DB_USER": pg.user,
            "AIRFLOW_DB_PASSWORD": "",  # trust authentication on loopback
            "AIRFLOW_DB_HOST": pg.host,
            "AIRFLOW_DB_PORT": str(pg.port),
            "AIRFLOW_DB_NAME": airflow_db.rsplit("/", 1)[1],
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis_port),
            "AIRFLOW_API_HOST": "127.0.0.1",
            "AIRFLOW_API_PORT": str(api_port),
            "AIRFLOW_DAGS_DIR": str(PROJECT_ROOT / "dags"),
            "AIRFLOW_PLUGINS_DIR": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW_WORKER_CONCURRENCY": str(concurrency),
            # a killed worker's task is noticed within seconds, not the default 5 minutes
            "AIRFLOW_TASK_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW_SCHEDULER_HEALTH_PORT": str(free_port()),
            # a task a killed worker had taken but not started is queued again within a minute
            "AIRFLOW_TASK_QUEUED_TIMEOUT": "60",
        }
        settings = read_env_file(env_file, variables)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(settings)
        # what the compose file takes from .env: secrets and the connections
        connections = sandbox_connections(
            sb.siasn_url, sb.siapp_url, store_url, **(siasn_extra or {})
        )
        env.update({f"AIRFLOW_CONN_{k.upper()}": json.dumps(v) for k, v in connections.items()})
        env["AIRFLOW__CORE__FERNET_KEY"] = _fernet_key()
        env["AIRFLOW__API_AUTH__JWT_SECRET"] = secrets.token_urlsafe(32)
        # what differs between a container and local processes sharing one machine
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
                ),
                "NO_PROXY": "*",
                "no_proxy": "*",
            }
        )
        wait_for("redis", lambda: _redis_ping(redis_port) if redis.alive() else None, 30, 0.5)

        # --- what the compose's airflow-init does; it alone has the owner's connection
        owner_conn = connections["siapp_siasn_store"]
        owner_conn = {**owner_conn, "extra": {**owner_conn["extra"], "sqlalchemy_url": owner_url}}
        init_env = {**env, f"AIRFLOW_CONN_{OWNER_CONN_ID.upper()}": json.dumps(owner_conn)}
        hub = _script("siapp-siasn")
        for name, cmd in (
            ("db-migrate", [airflow_bin(), "db", "migrate"]),
            ("store-migrate", [hub, "store", "migrate", "--conn-id", OWNER_CONN_ID]),
            ("store-grant", [hub, "store", "grant", "--conn-id", OWNER_CONN_ID,
                             "--runtime-role", STORE_RUNTIME, "--readonly-role", READER_GROUP]),
            (
                "siasn-pool",
                [airflow_bin(), "pools", "set", "siasn_api", str(SIASN_POOL_SLOTS), "SIASN"],
            ),
        ):  # fmt: skip
            code = spawn(name, cmd, init_env).popen.wait(600)
            if code != 0:
                raise RuntimeError(f"{name} failed ({code}):\n{procs[name].tail()}")

        # --- the services; from here on every session on the store database is sampled
        sessions = SessionSampler(pg.url(STORE_DB))
        sessions.start()
        stack.callback(sessions.stop)
        spawn("api-server", [airflow_bin(), "api-server", "--host", "127.0.0.1", "--port",
                             str(api_port), "--workers", "1"], env)  # fmt: skip
        spawn("scheduler", [airflow_bin(), "scheduler"], env)
        spawn("dag-processor", [airflow_bin(), "dag-processor"], env)
        spawn("triggerer", [airflow_bin(), "triggerer"], env)
        topo = Topology(
            api=Api(f"http://127.0.0.1:{api_port}", ADMIN_USER, password),
            sandbox=sb,
            store_url=store_url,
            workdir=workdir,
            procs=procs,
            owner_url=owner_url,
            admin_url=pg.url(STORE_DB),
            sessions=sessions,
        )
        stack.callback(topo.api.close)
        for name in workers:
            worker_env = {
                **env,
                WORKER_NAME_VAR: name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            }
            spawn(
                name,
                [airflow_bin(), "celery", "worker", "--celery-hostname", f"{name}@%h"],
                worker_env,
            )  # fmt: skip
            topo.workers[name] = name

        try:
            wait_for("services healthy", lambda: _healthy(topo), 300)
            wait_for(
                "celery workers",
                lambda: _celery_workers(settings, env) >= set(workers),
                180,
            )
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{topo.logs()}") from None
        yield topo
        failed = False


class SessionSampler:
    """Samples, every ``every_s``, which roles have a session on one database (as the
    superuser, on its own connection, excluded from what it sees)."""

    def __init__(self, admin_url: str, every_s: float = 0.2) -> None:
        self._url = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._every = every_s
        self._seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-sessions", daemon=True)
        self.samples = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def users(self) -> dict[str, int]:
        return dict(self._seen)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self._url, autocommit=True) as conn:
            while not self._stop.wait(self._every):
                rows = conn.execute(
                    "SELECT DISTINCT usename FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND usename IS NOT NULL"
                ).fetchall()
                self.samples += 1
                for (user,) in rows:
                    self._seen[user] = self._seen.get(user, 0) + 1


def _stop_all(procs: dict[str, Proc]) -> None:
    # workers first (they hold tasks), the servers they talk to last
    for proc in sorted(procs.values(), key=lambda p: p.name in ("redis", "api-server")):
        _stop(proc)


def _remove_workdir(workdir: Path, failed: Callable[[], bool]) -> None:
    if failed():
        print(f"distributed run failed: logs kept in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def _script(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def _healthy(topo: Topology) -> bool:
    dead = [p.name for p in topo.procs.values() if not p.alive() and p.name not in ONE_SHOT]
    if dead:
        raise RuntimeError(f"exited: {dead}\n{topo.logs()}")
    r = httpx.get(f"{topo.api.base_url}/api/v2/monitor/health", timeout=10)
    body = r.json()
    return all(
        body.get(part, {}).get("status") == "healthy"
        for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
    )


def _celery_workers(settings: dict[str, str], env: dict[str, str]) -> set[str]:
    """Names (before the ``@``) of the Celery workers answering a ping on the broker."""
    from celery import Celery

    broker = env.get("AIRFLOW__CELERY__BROKER_URL") or settings["AIRFLOW__CELERY__BROKER_URL"]
    app = Celery(broker=broker)
    try:
        replies = app.control.ping(timeout=2.0) or []
    finally:
        app.close()
    return {name.split("@", 1)[0] for reply in replies for name in reply}
