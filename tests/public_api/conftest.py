"""Wiring of the public-API mode tests: the flow tests' stores, and SIASN clients in either
mode (``pks``: the ``/apisiasn/1.0/siapp/…`` endpoints; ``public``: published endpoints only,
the NIP list from an "Export Data ASN" file written from the sandbox's world)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siapp_sandbox.siasn_public import write_export
from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.clients.config import SiasnConfig
from siapp_siasn.clients.siasn import SiasnClient
from tests.flows.conftest import client_config, store_factory

__all__ = ["ModeClients", "store_factory"]

MODES = ("pks", "public")


class ModeClients:
    """SIASN clients of one mode on one sandbox; in public mode each :meth:`export` drops a
    fresh export file (the newest wins) into ``export_dir``."""

    def __init__(self, sb: RunningSandbox, mode: str, export_dir: Path) -> None:
        self.sb, self.mode, self.export_dir = sb, mode, export_dir
        self.exports = 0

    def export(self) -> Path | None:
        """Write today's export file (public mode); nothing in PKS mode."""
        if self.mode != "public":
            return None
        self.exports += 1
        return write_export(self.sb.truth("export-asn"), self.export_dir, stamp=self.exports)

    def client(self, **overrides: Any) -> SiasnClient:
        """A fresh client of the mode (through the connection setting once it exists)."""
        extra = {"api_mode": self.mode, "export_dir": str(self.export_dir)}
        if "api_mode" in SiasnConfig.model_fields:
            return SiasnClient.from_config(client_config(self.sb, **extra, **overrides))
        client = SiasnClient.from_config(client_config(self.sb, **overrides))
        client.api_mode, client.export_dir = self.mode, extra["export_dir"]
        return client
