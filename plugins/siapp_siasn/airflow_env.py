"""A self-contained Airflow environment (SQLite metadata) for the demo, `make ui`, e2e tests and
benchmarks.

Everything Airflow reads from the environment is set here, in one place: AIRFLOW_HOME under a
work directory, the project's dags/ and plugins/ folders, no examples, the hub's connections
as `AIRFLOW_CONN_*` JSON (the URI form would downgrade https and stringify extras), plus the
settings a caller adds (`make ui`: executor, API server, login).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The checkout (dags/, plugins/): the demo, the e2e tests and the benches run from one.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


#: The stores of the local runs, relative to the checkout they run in: where
#: `siapp-siasn store ...` looks when neither --url nor a store connection says otherwise.
LOCAL_STORES: dict[str, Path] = {
    "make demo": Path(".demo") / "store.sqlite",
    "make ui": Path(".airflow") / "store.sqlite",
}
#: The sandbox's credentials (its documented defaults: sandbox/README.md); not secrets.
SANDBOX_CREDENTIALS = {
    "siasn_client": ("siapp-hub", "sandbox-secret"),
    "sso_user": ("siapp", "sandbox-password"),
    "sso_client_id": "siapp-hub",
    "siapp_client": ("siapp-hub", "sandbox-secret"),
}


def airflow_bin() -> str:
    """The `airflow` executable of the running interpreter's environment."""
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


def sandbox_connections(
    siasn_url: str, siapp_url: str, store_url: str, **siasn_extra: Any
) -> dict[str, dict[str, Any]]:
    """Connections pointing the hub at a local sandbox (its default credentials)."""
    creds = SANDBOX_CREDENTIALS
    siasn = {
        "conn_type": "siasn",
        "host": siasn_url,
        "login": creds["siasn_client"][0],
        "password": creds["siasn_client"][1],
        "extra": {
            "gateway_auth_url": f"{siasn_url}/oauth2/token",
            "sso_auth_url": f"{siasn_url}/auth/realms/public-siasn/protocol/openid-connect/token",
            "sso_client_id": creds["sso_client_id"],
            "sso_username": creds["sso_user"][0],
            "sso_password": creds["sso_user"][1],
            **siasn_extra,
        },
    }
    siapp = {
        "conn_type": "siapp",
        "host": siapp_url,
        "login": creds["siapp_client"][0],
        "password": creds["siapp_client"][1],
        "extra": {"auth_url": f"{siapp_url}/oauth/token"},
    }
    # a fixed key: the sandbox world is synthetic (a real store takes its key from a secret)
    store = {
        "conn_type": "generic",
        "extra": {"sqlalchemy_url": store_url, "hash_key": "sandbox-hash-key"},
    }
    return {"siasn_api": siasn, "siapp_api": siapp, "siapp_siasn_store": store}


@dataclass
class AirflowEnv:
    """Environment variables for one isolated Airflow home."""

    home: Path
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: further settings (``AIRFLOW__...`` and others), applied last
    settings: Mapping[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Jakarta",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                # the store connection's hash_key is a secret whose name Airflow does not mask;
                # `nip`: NIPs put in a run's conf by mistake stay out of the audit log
                "AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES": "hash_key,nip",
                "NO_PROXY": "*",
            }
        )
        for conn_id, conn in self.connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
        env.update(self.settings)
        return env

    def spawn(self, *args: str, log_path: Path) -> subprocess.Popen[bytes]:
        """Start an `airflow` CLI command in the background, in its own process group (so that
        it and its children can be stopped together), output to log_path."""
        self.home.mkdir(parents=True, exist_ok=True)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            return subprocess.Popen(  # noqa: S603
                [airflow_bin(), *args],
                env=self.environ(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def run(self, *args: str, log_path: Path | None = None, timeout: float = 1800) -> int:
        """Run an `airflow` CLI command in this environment; output to log_path if given."""
        self.home.mkdir(parents=True, exist_ok=True)
        cmd = [airflow_bin(), *args]
        if log_path is None:
            return subprocess.run(cmd, env=self.environ(), timeout=timeout, check=False).returncode  # noqa: S603
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            return subprocess.run(  # noqa: S603
                cmd,
                env=self.environ(),
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode

    def migrate(self, log_path: Path | None = None) -> None:
        """Create the metadata database once (skipped when it exists)."""
        if (self.home / "airflow.db").exists():
            return
        if self.run("db", "migrate", log_path=log_path) != 0:
            raise RuntimeError(f"airflow db migrate failed; see {log_path}")

    def dags_test(
        self, dag_id: str, conf: dict[str, Any] | None = None, log_path: Path | None = None
    ) -> int:
        """`airflow dags test` (the same code path as `dag.test()`), returning its exit code."""
        args = ["dags", "test", dag_id]
        if conf:
            args += ["--conf", json.dumps(conf)]
        return self.run(*args, log_path=log_path)
