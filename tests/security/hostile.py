"""The hostile input corpus: values a compromised or broken SIASN / SIAPP NV could send.

Each value has a kind (the report counts variants by kind); ``needles(value)`` gives the
substrings that must never surface in an error text, quarantine reason, lineage or log line.
Values are built once per process (the 1 MB string and the 100k-key object are shared).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

ONE_MB = 1024 * 1024


def deep_list(levels: int) -> Any:
    value: Any = "deep"
    for _ in range(levels):
        value = [value]
    return value


def deep_dict(levels: int) -> Any:
    value: Any = "deep"
    for _ in range(levels):
        value = {"k": value}
    return value


@dataclass(frozen=True)
class Hostile:
    kind: str
    label: str
    value: Any


def _strings() -> list[Hostile]:
    s = [
        # oversize
        ("oversize", "1mb-ascii", "Q" * ONE_MB),
        ("oversize", "1mb-multibyte", "ア" * (ONE_MB // 3)),
        ("oversize", "1mb-digits", "7" * ONE_MB),
        ("oversize", "64k-name", "ZORRO " * 11_000),
        # NUL, control characters, lone surrogates, non-characters
        ("nul_surrogate", "nul-inside", "BUDI\x00SANTOSO"),
        ("nul_surrogate", "nul-only", "\x00"),
        ("nul_surrogate", "lone-high", "BUDI\ud800SANTOSO"),
        ("nul_surrogate", "lone-low", "\udfffXSURRO"),
        ("nul_surrogate", "noncharacter", "NONCHAR\uffff"),
        ("nul_surrogate", "escape-seq", "\x1b[31mREDTEXT\x1b[0m"),
        ("nul_surrogate", "c1-control", "CONTROL\x85C1"),
        ("nul_surrogate", "bell-backspace", "BELL\x07\x08ZZ"),
        # bidi and invisible characters (valid text once the invisible marks are removed)
        ("bidi", "rlo", "BUDI \u202eOTNAS"),
        ("bidi", "rli-pdi", "\u2067HIDDEN\u2069 SANTOSO"),
        ("bidi", "zero-width", "BU\u200bDI\u200d SAN\ufeffTOSO"),
        ("bidi", "arabic-mark", "NAMA\u061cARAB"),
        ("bidi", "combining-nfd", "JOSE\u0301 MARI\u0301A"),
        ("bidi", "rlo-only", "\u202e"),
        # SQL
        ("sql", "drop", "'; DROP TABLE asn; --"),
        ("sql", "or-true", "x' OR '1'='1"),
        ("sql", "union", "1 UNION SELECT payload FROM quarantine--"),
        ("sql", "comment", "/*SQLCOMMENT*/ nama"),
        ("sql", "pg-sleep", "1;SELECT pg_sleep(10)"),
        # Jinja / templates
        ("jinja", "expr", "{{ 7*7 }}"),
        ("jinja", "raw", "{% raw %}RAWBLOCK{% endraw %}"),
        ("jinja", "conf", "{{ conf.get('core', 'fernet_key') }}"),
        ("jinja", "macro", "{{ macros.datetime.now() }}"),
        ("jinja", "printf", "%(secret)s %s %n"),
        ("jinja", "fstring", "{__import__('os').system('id')}"),
        # HTML
        ("html", "script", "<script>alert(1)</script>"),
        ("html", "img", '<img src=x onerror="alert(2)">'),
        ("html", "quote-break", '"><svg onload=alert(3)>'),
        ("html", "entity", "&lt;b&gt;ENTITY&amp;"),
        ("html", "js-url", "javascript:alert(4)"),
        # log injection
        ("log_injection", "newline-info", "\n2026-01-01 INFO fake"),
        ("log_injection", "crlf", "NAMA\r\n[2026-01-01 00:00:00] ERROR forged"),
        ("log_injection", "ansi-clear", "\x1b[2J\x1b[HCLEARED"),
        ("log_injection", "unicode-line-sep", "NAMA\u2028INFO forged-ls"),
        ("log_injection", "json-break", '","level":"INFO","msg":"forged'),
        # NIP-like values of the wrong length / shape
        ("nip_like", "17-digits", "19720315199803100"),
        ("nip_like", "19-digits", "1972031519980310021"),
        ("nip_like", "18-letters", "19720315199803100X"),
        ("nip_like", "spaced", "19720315 199803 1 002"),
        ("nip_like", "fullwidth", "１９７２０３１５１９９８０３１００２"),
        ("nip_like", "bad-date", "197213451998031002"),
        ("nip_like", "all-zero", "000000000000000000"),
        ("nip_like", "negative", "-197203151998031002"),
        # impossible dates
        ("date", "31-02", "31-02-2026"),
        ("date", "zeros", "0000-00-00"),
        ("date", "month-13", "01-13-2026"),
        ("date", "year-0", "15-03-0000"),
        ("date", "year-99999", "15-03-99999"),
        ("date", "iso-feb-30", "2026-02-30"),
        ("date", "iso-time-25", "2026-01-05T25:61:61Z"),
        ("date", "words", "tomorrow"),
    ]
    return [Hostile(k, label, v) for k, label, v in s]


def _wrong_types() -> list[Hostile]:
    values: list[tuple[str, Any]] = [
        ("list", ["BUDI", "SANTOSO"]),
        ("empty-list", []),
        ("object", {"nama": "NESTED"}),
        ("empty-object", {}),
        ("true", True),
        ("false", False),
        ("int", 42),
        ("negative-int", -1),
        ("huge-int", 10**40),
        ("float", 4.2),
        ("nan", float("nan")),
        ("inf", float("inf")),
        ("bytes-like", [0, 255, 256]),
    ]
    return [Hostile("wrong_type", label, v) for label, v in values]


def _shapes() -> list[Hostile]:
    return [
        Hostile("deep_nesting", "list-1000", deep_list(1000)),
        Hostile("deep_nesting", "dict-1000", deep_dict(1000)),
        # the deepest document the SIASN client's JSON decoder (orjson) accepts
        Hostile("deep_nesting", "dict-1024", deep_dict(1024)),
        Hostile("wide", "100k-keys", {f"k{i}": i for i in range(100_000)}),
        Hostile("wide", "100k-list", list(range(100_000))),
    ]


#: every hand-written value, built once
VALUES: list[Hostile] = _strings() + _wrong_types() + _shapes()


def _ordinary(text: str) -> bool:
    """A short plain word ("null", "true", "missing"): error codes are made of such words, so
    finding one in an error text proves no echo (hostile values carry more than that)."""
    return text.isascii() and text.isalpha() and len(text) <= 12


def needles(value: Any, depth: int = 0) -> Iterator[str]:
    """Substrings of ``value`` that must not appear in any text the hub writes about it.

    Short strings (under 4 characters) and short plain words are skipped: they occur in
    ordinary words and in the error codes themselves. A long
    string is represented by a prefix of 24 characters, enough to recognise an echo.
    """
    from siapp_siasn.models.errors import known_names

    if depth > 3:
        return
    if isinstance(value, str):
        stripped = value.strip()
        # a field name of the hub's models is not the value's content: errors may name it
        if len(stripped) >= 4 and stripped not in known_names() and not _ordinary(stripped):
            yield stripped[:24]
    elif isinstance(value, dict):
        for k, v in list(value.items())[:5]:
            yield from needles(k, depth + 1)
            yield from needles(v, depth + 1)
    elif isinstance(value, list):
        for v in value[:5]:
            yield from needles(v, depth + 1)


#: decoded JSON values of any shape (what a parser hands the models)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

#: text biased to the characters that break things
hostile_text = st.text(
    alphabet=st.characters(codec=None, blacklist_categories=())
    | st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "\u200b", "\n", "{", "<", "'"]),
    max_size=40,
)
