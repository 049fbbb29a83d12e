"""The finding: one thing a check observed, in a shape general enough for every check.

A finding names WHERE (system, endpoint template, subject: a field path or a check name) and
WHAT (kind, code, severity, detail: JSON types, status codes, latency, a reference-table code),
never a personal value: no NIP, name, date of birth or free text of a record ever goes in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CODES", "KINDS", "SEVERITIES", "SYSTEMS", "Finding", "describe", "worst"]

#: what produced the finding (the monitor writes drift and outage)
KINDS = ("drift", "outage", "quality", "reconciliation")
#: in increasing order of gravity
SEVERITIES = ("info", "warning", "breaking")
SYSTEMS = ("siasn", "siapp")
#: what was observed
CODES = (
    "new_field",
    "unseen_value",
    "missing_field",
    "retyped_field",
    "broken_envelope",
    "unreachable",
    "http_error",
    "auth_failed",
    "slow",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation of a check (see the module docstring for what it may hold)."""

    kind: str
    severity: str
    system: str
    endpoint: str
    code: str
    subject: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, allowed in (
            ("kind", KINDS),
            ("severity", SEVERITIES),
            ("system", SYSTEMS),
            ("code", CODES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"finding {name} {getattr(self, name)!r}; one of {allowed}")

    @property
    def rank(self) -> int:
        """0 info, 1 warning, 2 breaking."""
        return SEVERITIES.index(self.severity)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "system": self.system,
            "endpoint": self.endpoint,
            "code": self.code,
            "subject": self.subject,
            "detail": dict(self.detail),
        }


def worst(findings: Iterable[Finding]) -> str | None:
    """The gravest severity among ``findings`` (None when there are none)."""
    ranks = [f.rank for f in findings]
    return SEVERITIES[max(ranks)] if ranks else None


def _types(value: Any) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return "|".join(sorted(str(v) for v in value))
    return str(value)


def describe(finding: Finding) -> str:
    """One readable line: ``missing field tglLahir (string)``, ``retyped golRuangAkhirId:
    string → integer``, ``HTTP 503``."""
    d = finding.detail
    code = finding.code
    if code == "missing_field":
        text = f"missing field {finding.subject} ({_types(d.get('expected', '?'))})"
        if d.get("possibly_renamed_to"):
            text += f", possibly renamed to {d['possibly_renamed_to']}"
        return text
    if code == "retyped_field":
        return (
            f"retyped {finding.subject}: {_types(d.get('expected', '?'))} → "
            f"{_types(d.get('actual', '?'))}"
        )
    if code == "new_field":
        return f"new field {finding.subject} ({_types(d.get('actual', '?'))})"
    if code == "unseen_value":
        return f"unseen {d.get('reference', 'code')} value in {finding.subject}"
    if code == "broken_envelope":
        return f"broken envelope: {d.get('problem', 'unexpected body')}"
    if code in ("unreachable", "http_error", "auth_failed"):
        status = d.get("status")
        where = "no response" if status is None else f"HTTP {status}"
        label = {"auth_failed": "authentication failed", "unreachable": "unreachable"}.get(code)
        return f"{label}: {where}" if label else where
    if code == "slow":
        return f"slow: p95 {d.get('p95_ms')} ms (threshold {d.get('threshold_ms')} ms)"
    return code
