"""``sandbox`` commands (typer). The hub CLI mounts :data:`sandbox_app` as
``siapp-siasn sandbox``; ``python -m siapp_sandbox`` runs it directly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["sandbox_app"]

sandbox_app = typer.Typer(
    no_args_is_help=True,
    help="Local emulators of SIASN and SIAPP NV with a deterministic synthetic world.",
)


@sandbox_app.callback()
def _root() -> None:
    """Local emulators of SIASN and SIAPP NV with a deterministic synthetic world."""


@sandbox_app.command()
def serve(
    siasn_port: Annotated[int, typer.Option(help="SIASN port (0 = any free port)")] = 8081,
    siapp_port: Annotated[int, typer.Option(help="SIAPP NV port (0 = any free port)")] = 8082,
    employees: Annotated[int, typer.Option(min=1, help="number of employees")] = 3000,
    seed: Annotated[int, typer.Option(help="world seed")] = 1,
    ivb_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of golongan IV/b and above")
    ] = 0.08,
    faults: Annotated[
        str, typer.Option(help="fault profile (none, flaky, slow, drift) or a JSON object")
    ] = "none",
    host: Annotated[str, typer.Option(help="bind address (keep it on loopback)")] = "127.0.0.1",
    static_sso_token: Annotated[
        str | None, typer.Option(help="static SSO token accepted on Auth: bearer ('' = none)")
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="PEM server certificate (chain): serve HTTPS on both ports (needs --tls-key)",
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="PEM private key of --tls-cert (unencrypted)",
        ),
    ] = None,
) -> None:
    """Serve both sandbox APIs in one process until interrupted (HTTP, or HTTPS with
    --tls-cert/--tls-key)."""
    from .common import parse_faults
    from .server import SandboxServeError, run

    try:
        parse_faults(faults)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from exc
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter(
            "give both --tls-cert and --tls-key, or neither", param_hint="--tls-cert/--tls-key"
        )
    try:
        run(
            employees=employees,
            seed=seed,
            ivb_share=ivb_share,
            faults=faults,
            host=host,
            siasn_port=siasn_port,
            siapp_port=siapp_port,
            static_sso_token=static_sso_token,
            tls=(tls_cert, tls_key) if tls_cert is not None and tls_key is not None else None,
        )
    except SandboxServeError as exc:
        typer.echo(f"siapp-sandbox: {exc}", err=True)
        raise typer.Exit(1) from exc


@sandbox_app.command("export-asn")
def export_asn(
    out: Annotated[str, typer.Option(help="folder to write the Export Data ASN CSV into")],
    url: Annotated[
        str, typer.Option(help="base URL of the running SIASN sandbox")
    ] = "http://127.0.0.1:8081",
) -> None:
    """Write today's "Export Data ASN" CSV of a running sandbox (public-API mode's NIP list)."""
    import httpx

    from .siasn_public import write_export

    resp = httpx.get(f"{url.rstrip('/')}/_sandbox/truth/export-asn", timeout=60.0)
    resp.raise_for_status()
    path = write_export(resp.json(), out)
    typer.echo(str(path))
