"""What must hold of the Docker Compose deployment (docker-compose.yaml, Dockerfile, deploy/).

No Docker engine exists on the project's machines, so the file is checked by parsing: the
services of Airflow's official CeleryExecutor layout, one image and one env anchor for every
Airflow service, the code baked into that image, secrets required and never inline, the store
connection on the store database (not the metadata one), a scalable worker, a healthcheck
everywhere, deploy/airflow.env as the settings source. Variables are resolved the way Compose
resolves them (``${VAR}``, ``${VAR:-default}``, ``${VAR:?message}``) from .env.example. The
store database's init script runs against a real PostgreSQL server with the store's migrations.
``docker compose config`` runs too where a Docker client with the compose plugin exists (that
test is defined only there).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from siapp_siasn.airflow_env import sandbox_connections
from siapp_siasn.store import Store
from siapp_siasn.store.roles import grant_roles
from siapp_siasn.store.tables import READER_ROLE, VIEWS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
AIRFLOW_ENV = ROOT / "deploy" / "airflow.env"
SANDBOX_ENV = ROOT / "deploy" / "sandbox.env"
ENV_EXAMPLE = ROOT / ".env.example"
INIT_SCRIPT = ROOT / "deploy" / "postgres-init" / "10-store-database.sh"

AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
)
SERVICES = ("postgres", "redis", *AIRFLOW_SERVICES, "sandbox")
SECRETS = {
    "AIRFLOW__CORE__FERNET_KEY": "AIRFLOW_FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET",
}

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}")


class MissingVariable(LookupError):
    """A ``${VAR:?message}`` whose variable is unset or empty."""


def interpolate(value: str, env: dict[str, str]) -> str:
    """Resolve ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` as Compose does."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":  # a literal dollar sign
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = env.get(name, "")
        if op == ":-":
            return current or arg
        if op == ":?" and not current:
            raise MissingVariable(f"{name}: {arg}")
        return current

    return _VAR.sub(one, value)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of an env file (comments and blank lines skipped; quotes removed)."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a KEY=value line: {raw!r}"
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


def resolved_environment(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    """A service's container environment: its env_file(s), then `environment`, interpolated."""
    result: dict[str, str] = {}
    for name in service.get("env_file", []):
        for key, value in read_env_file(ROOT / name).items():
            result[key] = interpolate(value, env)
    for key, value in (service.get("environment") or {}).items():
        result[key] = interpolate(str(value), env)
    return result


def test_services_of_the_official_layout_are_present(services: dict[str, Any]) -> None:
    assert set(SERVICES) <= set(services), sorted(set(SERVICES) - set(services))
    assert services["airflow-worker"]["command"] == "celery worker"
    for name, command in {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }.items():
        assert services[name]["command"] == command


def test_one_image_and_one_env_anchor_for_every_airflow_service(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    anchor = compose["x-airflow-common"]
    assert anchor["build"]["target"] == "runtime"
    assert anchor["env_file"] == ["deploy/airflow.env"]
    for name in AIRFLOW_SERVICES:
        svc = services[name]
        assert svc["image"] == anchor["image"], name
        assert svc["build"] == anchor["build"], name
        assert svc["env_file"] == anchor["env_file"], name
        # a service may add to the anchor's environment, never change it
        assert anchor["environment"].items() <= svc["environment"].items(), name
    images = {services[name]["image"] for name in AIRFLOW_SERVICES}
    assert len(images) == 1


def test_deploy_airflow_env_is_the_settings_source(example_env: dict[str, str]) -> None:
    settings = read_env_file(AIRFLOW_ENV)
    assert all(key.startswith("AIRFLOW__") for key in settings), sorted(settings)
    resolved = {key: interpolate(value, example_env) for key, value in settings.items()}
    assert resolved["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert resolved["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert resolved["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Jakarta"
    # the defaults name the compose services; a native run overrides them by variables
    assert resolved["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert "@postgres:5432/airflow" in resolved["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    # psycopg 3 (a hub dependency, async-capable) in the image and natively alike
    assert resolved["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert resolved["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith("postgresql+psycopg://")
    assert resolved["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg://")
    assert resolved["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://airflow-apiserver:8080/execution/"
    )
    native = interpolate(
        settings["AIRFLOW__CELERY__BROKER_URL"], {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6390"}
    )
    assert native == "redis://127.0.0.1:6390/0"
    # no secret is kept here (they come from .env only)
    for key in (*SECRETS, "AIRFLOW__API__SECRET_KEY"):
        assert key not in settings
    assert not any(key.startswith("AIRFLOW_CONN_") for key in settings)


def dockerfile_stages() -> dict[str, list[str]]:
    """Instruction lines (comments dropped, continuations joined) per named build stage."""
    lines = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    stages: dict[str, list[str]] = {"": []}
    current = ""
    for line in (raw.strip() for raw in lines):
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            current = line.split(" AS ")[-1] if " AS " in line else line
            stages[current] = []
        stages[current].append(line)
    return stages


def test_code_is_baked_into_the_image(example_env: dict[str, str]) -> None:
    stages = dockerfile_stages()
    assert re.fullmatch(r"ARG AIRFLOW_IMAGE=apache/airflow:3\.3\.\d+(-python3\.11)?", stages[""][0])
    runtime = "\n".join(stages["runtime"])
    assert stages["runtime"][0] == "FROM ${AIRFLOW_IMAGE} AS runtime"
    # the runtime wheel only, with uv.lock's versions as constraints; no sandbox, no benches
    assert re.search(r"pip install .*/siapp_siasn-\*\.whl -c /tmp/hub/constraints\.txt", runtime)
    assert "sandbox" not in runtime
    assert "bench" not in runtime
    assert stages["sandbox"][0] == "FROM runtime AS sandbox"
    dags_folder = interpolate(read_env_file(AIRFLOW_ENV)["AIRFLOW__CORE__DAGS_FOLDER"], example_env)
    assert f"COPY --chown=airflow:0 dags/ {dags_folder}/" in stages["runtime"]
    assert "COPY --chown=airflow:0 include/ /opt/airflow/include/" in stages["runtime"]
    # the cluster policy that puts SIASN callers into one pool, where Airflow looks for it
    policy = "deploy/airflow_local_settings.py /opt/airflow/config/airflow_local_settings.py"
    assert f"COPY --chown=airflow:0 {policy}" in stages["runtime"]
    ignore = [
        line
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert ignore[0] == "*", "the build context is an allow-list"
    allowed = {
        "!dags/",
        "!include/",
        "!dist/siapp_siasn-*.whl",
        "!dist/constraints.txt",
        "!deploy/airflow_local_settings.py",
    }
    assert allowed <= set(ignore)
    assert not any(line.startswith("!") and ".env" in line for line in ignore)


def test_secrets_are_required_and_never_inline(
    compose: dict[str, Any], services: dict[str, Any], example_env: dict[str, str]
) -> None:
    env = compose["x-airflow-common"]["environment"]
    for setting, variable in SECRETS.items():
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[setting]), setting
        with pytest.raises(MissingVariable, match=variable):
            interpolate(env[setting], {})
        # .env.example ships a placeholder, not a key
        assert example_env[variable].startswith("<"), variable
    for svc in services.values():
        for key, value in (svc.get("environment") or {}).items():
            if key in SECRETS or key.endswith("PASSWORD"):
                assert str(value).startswith("${"), (key, "inline secret")
    text = COMPOSE.read_text(encoding="utf-8")
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in text


def test_store_connection_points_at_the_store_database(
    compose: dict[str, Any], services: dict[str, Any], example_env: dict[str, str]
) -> None:
    env = resolved_environment(services["airflow-worker"], example_env)
    store = json.loads(env["AIRFLOW_CONN_SIAPP_SIASN_STORE"])
    metadata_url = sa.engine.make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    pg = resolved_environment(services["postgres"], example_env)
    assert store["conn_type"] == "postgres"
    assert store["host"] == metadata_url.host == "postgres"
    assert store["schema"] == pg["STORE_DB_NAME"] == "siapp_siasn"
    # the DAGs log in as the runtime role (DML only); only airflow-init logs in as the owner
    assert store["login"] == pg["STORE_RUNTIME_USER"] == "siapp_siasn_runtime"
    assert store["password"] == example_env["STORE_RUNTIME_PASSWORD"]
    assert store["extra"]["hash_key"] == example_env["SIAPP_SIASN_HASH_KEY"]
    # the DAGs' connection is the anchor's, in every service; airflow-init alone adds the
    # owner's, with the same database and hash key
    owner = json.loads(
        resolved_environment(services["airflow-init"], example_env)[
            "AIRFLOW_CONN_SIAPP_SIASN_STORE_OWNER"
        ]
    )
    assert owner["login"] == pg["STORE_DB_USER"] != store["login"]
    assert owner["password"] == example_env["STORE_DB_PASSWORD"]
    assert {k: v for k, v in owner.items() if k not in ("login", "password")} == {
        k: v for k, v in store.items() if k not in ("login", "password")
    }
    for name in AIRFLOW_SERVICES:
        env_of = resolved_environment(services[name], example_env)
        assert ("AIRFLOW_CONN_SIAPP_SIASN_STORE_OWNER" in env_of) == (name == "airflow-init")
    # not Airflow's metadata database, nor its user
    assert store["schema"] != metadata_url.database == pg["POSTGRES_DB"]
    assert store["login"] != metadata_url.username == pg["POSTGRES_USER"]
    assert (
        "./deploy/postgres-init:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]
    )
    # every connection is JSON (the URI form downgrades https and stringifies extras)
    for key, value in env.items():
        if key.startswith("AIRFLOW_CONN_"):
            assert isinstance(json.loads(value), dict), key


def test_init_migrates_airflow_and_the_store(services: dict[str, Any]) -> None:
    init = services["airflow-init"]
    script = "\n".join(init["command"])
    assert script.index("airflow db migrate") < script.index("siapp-siasn store migrate")
    # after the migrations, as the owner: the runtime role's DML and the readers' views
    assert "siapp-siasn store migrate --conn-id siapp_siasn_store_owner\n" in script
    grant = re.search(
        r"siapp-siasn store grant --conn-id siapp_siasn_store_owner \\\s+"
        r'--runtime-role "\$\{STORE_RUNTIME_USER:-siapp_siasn_runtime\}" --readonly-role (\w+)',
        script,
    )
    assert grant and grant.group(1) == READER_ROLE
    assert script.index("siapp-siasn store migrate") < grant.start()
    # the pool the cluster policy names exists before any task runs
    assert re.search(r"airflow pools set siasn_api \$\{SIASN_POOL_SLOTS:-1\} ", script)
    assert "set -euo pipefail" in script
    for name in AIRFLOW_SERVICES:
        if name != "airflow-init":
            condition = services[name]["depends_on"]["airflow-init"]["condition"]
            assert condition == "service_completed_successfully", name


def test_worker_is_scalable(services: dict[str, Any]) -> None:
    worker = services["airflow-worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "hostname" not in worker
    assert not any("container_name" in svc for svc in services.values())


def test_every_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        check = svc.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name


def test_sandbox_profile_points_the_connections_at_the_emulators(
    services: dict[str, Any], example_env: dict[str, str]
) -> None:
    sandbox = services["sandbox"]
    assert sandbox["profiles"] == ["sandbox"]
    assert sandbox["build"]["target"] == "sandbox"
    assert all("profiles" not in services[name] for name in ("postgres", *AIRFLOW_SERVICES))
    args = " ".join(sandbox["command"])
    assert "serve --host=0.0.0.0 --siasn-port=8081 --siapp-port=8082" in args
    overrides = read_env_file(SANDBOX_ENV)
    expected = sandbox_connections("http://sandbox:8081", "http://sandbox:8082", "unused")
    assert json.loads(overrides["AIRFLOW_CONN_SIASN_API"]) == expected["siasn_api"]
    assert json.loads(overrides["AIRFLOW_CONN_SIAPP_API"]) == expected["siapp_api"]
    # with sandbox.env after .env, the Airflow services get the emulators' connections
    env = resolved_environment(services["airflow-scheduler"], {**example_env, **overrides})
    assert json.loads(env["AIRFLOW_CONN_SIASN_API"])["host"] == "http://sandbox:8081"
    assert json.loads(env["AIRFLOW_CONN_SIAPP_API"])["host"] == "http://sandbox:8082"
    # production connections are required, never defaulted to the sandbox
    conn = services["airflow-scheduler"]["environment"]["AIRFLOW_CONN_SIASN_API"]
    with pytest.raises(MissingVariable):
        interpolate(conn, {})


@pytest.mark.integration
def test_store_database_roles_on_postgres(postgres_server: Any) -> None:
    """The init script, then the store's migrations and grants as the owner: the runtime role
    writes but cannot change the schema, the reader sees the views only."""
    suffix = f"{os.getpid()}"
    names = {
        "STORE_DB_NAME": f"store_{suffix}",
        "STORE_DB_USER": f"owner_{suffix}",
        "STORE_READER_USER": f"nv_{suffix}",
        "STORE_RUNTIME_USER": f"rt_{suffix}",
    }
    metadata_db = f"meta_{suffix}"
    postgres_server.create_database(metadata_db)
    env = {
        **os.environ,
        **names,
        "STORE_DB_PASSWORD": "owner-pw",
        "STORE_READER_PASSWORD": "reader-pw",
        "STORE_RUNTIME_PASSWORD": "runtime-pw",
        "POSTGRES_USER": postgres_server.user,
        "POSTGRES_DB": metadata_db,
        "PGHOST": postgres_server.host,
        "PGPORT": str(postgres_server.port),
    }
    admin = sa.create_engine(postgres_server.url(metadata_db), isolation_level="AUTOCOMMIT")
    try:
        for _ in range(2):  # idempotent: a second run changes nothing and does not fail
            run = subprocess.run(
                ["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, check=False
            )
            assert run.returncode == 0, run.stderr
        server = f"{postgres_server.host}:{postgres_server.port}"

        def url(user: str, db: str) -> str:
            return f"postgresql+psycopg://{user}@{server}/{db}"

        with Store(url(names["STORE_DB_USER"], names["STORE_DB_NAME"])) as store:
            store.migrate()
            grant_roles(store.engine, names["STORE_RUNTIME_USER"], READER_ROLE)
        runtime = sa.create_engine(url(names["STORE_RUNTIME_USER"], names["STORE_DB_NAME"]))
        with runtime.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO sync_state (name, value, updated_at) VALUES ('t', 'v', now())")
            )
            conn.execute(sa.text("CREATE TEMP TABLE staging (i int)"))
        with runtime.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="denied"):
            conn.execute(sa.text("CREATE TABLE intruder (i int)"))
        runtime.dispose()
        reader = sa.create_engine(url(names["STORE_READER_USER"], names["STORE_DB_NAME"]))
        with reader.connect() as conn:
            for view in VIEWS:
                conn.execute(sa.text(f"SELECT count(*) FROM {view}")).scalar_one()
        with reader.connect() as conn, pytest.raises(sa.exc.ProgrammingError):
            conn.execute(sa.text("SELECT count(*) FROM asn_current")).scalar_one()
        reader.dispose()
        # the store's roles stay out of Airflow's metadata database
        for user in (
            names["STORE_DB_USER"],
            names["STORE_READER_USER"],
            names["STORE_RUNTIME_USER"],
        ):
            outsider = sa.create_engine(url(user, metadata_db))
            with pytest.raises(sa.exc.OperationalError, match="permission denied"):
                outsider.connect().close()
            outsider.dispose()
        with admin.connect() as conn:
            member = conn.execute(
                sa.text("SELECT pg_has_role(:u, :r, 'MEMBER')"),
                {"u": names["STORE_READER_USER"], "r": READER_ROLE},
            ).scalar_one()
            owner = conn.execute(
                sa.text("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :d"),
                {"d": names["STORE_DB_NAME"]},
            ).scalar_one()
        assert member is True
        assert owner == names["STORE_DB_USER"]
    finally:
        postgres_server.drop_database(names["STORE_DB_NAME"])
        with admin.connect() as conn:
            for role in (
                names["STORE_DB_USER"],
                names["STORE_READER_USER"],
                names["STORE_RUNTIME_USER"],
            ):
                conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
        postgres_server.drop_database(metadata_db)


def _compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) when this machine has it, else None."""
    if shutil.which("docker") is None:
        return None
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, check=False
    )
    return ["docker", "compose"] if probe.returncode == 0 else None


COMPOSE_CLI = _compose_command()

if COMPOSE_CLI is not None:
    # Defined only where a Docker client with the compose plugin exists (no engine needed):
    # the file must pass Compose's own validation, with and without the sandbox profile.

    @pytest.mark.parametrize(
        "extra",
        [[], ["--env-file", str(SANDBOX_ENV), "--profile", "sandbox"]],
        ids=["default", "sandbox"],
    )
    def test_docker_compose_config(extra: list[str]) -> None:
        cmd = [*COMPOSE_CLI, "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), *extra]
        run = subprocess.run(
            [*cmd, "config", "--quiet"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stderr

    def test_docker_compose_config_requires_the_secrets(tmp_path: Path) -> None:
        empty = tmp_path / "empty.env"
        empty.write_text("", encoding="utf-8")
        run = subprocess.run(
            [*COMPOSE_CLI, "-f", str(COMPOSE), "--env-file", str(empty), "config", "--quiet"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "STORE"))},
        )
        assert run.returncode != 0
        assert "in .env" in run.stderr
