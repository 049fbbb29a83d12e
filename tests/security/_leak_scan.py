"""The leak audit's scanner: look for known personal values and secrets in collected texts and
name only where and what kind, never the value.

A needle is a lower-cased value with a label (``nipBaru``, ``anak.nama``, ``secret:hash_key``,
``token:gateway``...). Texts are lower-cased once. Digit-only needles (NIP, NIK, phone) are
matched against the text's digit runs (a NIP inside a URL path or after ``nip=`` is a run of its
own; a 16- or 18-digit needle is also found inside a longer run; a mobile number in its +62
form too); dates in either spelling against the text's
``yyyy-mm-dd`` / ``dd-mm-yyyy`` substrings; the rest (names, addresses, e-mails, secrets) as
plain substrings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_DIGITS = re.compile(r"\d+")
_DATES = re.compile(r"(?=(\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4}))")
_LETTERS = re.compile(r"[a-z]+")
_IS_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4})$")


@dataclass(frozen=True)
class Item:
    """One collected text: its source (``task_logs``, ``xcom``...), where it came from (a file
    name, a table and row), and the text."""

    source: str
    where: str
    text: str


@dataclass(frozen=True)
class Finding:
    """A leak: the source, where in it, and the label of the value found (never the value)."""

    source: str
    where: str
    label: str


@dataclass
class Needles:
    """Values to look for, split by how they are matched."""

    digits: dict[str, str] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)
    plain: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Mapping[str, str]) -> Needles:
        """``value -> label``; values are lower-cased and stripped, empty ones dropped."""
        n = cls()
        for raw, label in values.items():
            v = raw.strip().lower()
            if not v:
                continue
            if v.isdigit():
                n.digits[v] = label
                if v.startswith("08"):  # a mobile number, also as +62 8...
                    n.digits[f"62{v[1:]}"] = label
            elif _IS_DATE.match(v):
                # both spellings: ISO, and dd-mm-yyyy as SIASN serves dates
                a, b, c = v.split("-")
                n.dates[v] = n.dates[f"{c}-{b}-{a}"] = label
            else:
                n.plain[v] = label
        return n

    def without_dates(self) -> Needles:
        """The same needles but the dates."""
        return Needles(dict(self.digits), {}, dict(self.plain))

    def without_labels(self, prefix: str) -> Needles:
        """The same needles but those whose label starts with ``prefix``."""

        def keep(d: dict[str, str]) -> dict[str, str]:
            return {v: label for v, label in d.items() if not label.startswith(prefix)}

        return Needles(keep(self.digits), keep(self.dates), keep(self.plain))

    def __len__(self) -> int:
        return len(self.digits) + len(self.dates) + len(self.plain)

    def matches(self, text: str) -> dict[str, str]:
        """The needles found in ``text``: value -> label."""
        low = text.lower()
        found: dict[str, str] = {}
        for run in set(_DIGITS.findall(low)):
            candidates = [run]
            if len(run) > 16:  # a NIK or NIP glued to other digits
                candidates += [run[i : i + n] for n in (16, 18) for i in range(len(run) - n + 1)]
            found.update((c, self.digits[c]) for c in candidates if c in self.digits)
        if self.dates:
            found.update((d, self.dates[d]) for d in set(_DATES.findall(low)) if d in self.dates)
        # a needle is in the text only if its longest letter run is: one test per distinct
        # run (names and addresses share words) before the needles themselves
        gates: dict[str, list[str]] = {}
        for v in self.plain:
            gates.setdefault(max(_LETTERS.findall(v) or [v], key=len), []).append(v)
        for gate, values in gates.items():
            if gate in low:
                found.update((v, self.plain[v]) for v in values if v in low)
        return found

    def find(self, text: str) -> set[str]:
        """Labels of the needles found in ``text``."""
        return set(self.matches(text).values())


def scan(items: Iterable[Item], needles: Needles) -> list[Finding]:
    """Every (source, where, label) found, sorted."""
    items = list(items)
    # one pass over all the texts at once (thousands of rows, thousands of needles); the items
    # are then looked at one by one for the needles found only
    hits = needles.matches("\n".join(i.text for i in items))
    if not hits:
        return []
    few = Needles.of(hits)
    out = {Finding(i.source, i.where, label) for i in items for label in few.find(i.text)}
    return sorted(out, key=lambda f: (f.source, f.where, f.label))
