"""Deterministic document bytes for the sandbox (SIAPP NV and SIASN documents).

A document is described by a small :class:`DocSpec` (key, size, title); its bytes are generated
on demand from the key, so the sandbox keeps only metadata in memory and every sha256 is stable
for a given seed. The bytes look like a one-page PDF (header, objects, xref, trailer, ``%%EOF``)
whose content stream is padded with seeded filler up to the exact size.

No personal data goes into a document: the visible text names the document kind and its id only.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

PDF_MEDIA_TYPE = "application/pdf"
MIN_SIZE = 1024


@dataclass(frozen=True)
class DocSpec:
    """What is needed to regenerate a document's bytes: a unique key, an exact size, a title."""

    key: str
    size: int
    title: str = "DOKUMEN"
    _digest: list[str] = field(default_factory=list, compare=False, repr=False)

    @property
    def sha256(self) -> str:
        """Hex sha256 of the bytes (computed once, then cached)."""
        if not self._digest:
            self._digest.append(hashlib.sha256(self.bytes()).hexdigest())
        return self._digest[0]

    def bytes(self) -> bytes:
        """The document bytes (generated, never stored)."""
        return pdf_bytes(self.key, self.size, self.title)


def _ascii_title(title: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in " -_/." else "_" for ch in title)
    return safe[:80]


def pdf_bytes(key: str, size: int, title: str = "DOKUMEN") -> bytes:
    """Return ``size`` bytes of a minimal PDF whose filler is derived from ``key``.

    Same (key, size, title) → same bytes, on any machine and Python version (shake_256).
    """
    size = max(int(size), MIN_SIZE)
    text = f"BT /F1 12 Tf 72 760 Td (SANDBOX {_ascii_title(title)}) Tj ET\n".encode("ascii")
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    objs = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>\nendobj\n",
        b"5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n",
    ]

    def build(stream_len: int) -> tuple[bytes, bytes, bytes]:
        filler_len = stream_len - len(text) - 1
        before = b"4 0 obj\n<< /Length " + str(stream_len).encode() + b" >>\nstream\n"
        after = b"\nendstream\nendobj\n"
        offsets = []
        pos = len(head)
        body = bytearray()
        for obj in objs[:3]:
            offsets.append(pos + len(body))
            body += obj
        off4 = pos + len(body)
        prefix = head + bytes(body) + before
        middle_len = len(text) + max(filler_len, 0) + 1
        tail_objs = bytearray()
        off5 = len(prefix) + middle_len + len(after)
        tail_objs += objs[3]
        xref_pos = off5 + len(tail_objs)
        entries = [b"0000000000 65535 f \n"] + [
            f"{o:010d} 00000 n \n".encode() for o in (*offsets, off4, off5)
        ]
        trailer = (
            b"xref\n0 6\n"
            + b"".join(entries)
            + b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n"
            + str(xref_pos).encode()
            + b"\n%%EOF\n"
        )
        return prefix, after + bytes(tail_objs), trailer

    # The /Length and startxref digits depend on the stream length: converge in a few rounds.
    stream_len = size // 2
    for _ in range(6):
        prefix, after, trailer = build(stream_len)
        overhead = len(prefix) + len(after) + len(trailer)
        wanted = size - overhead
        if wanted == stream_len:
            break
        stream_len = max(wanted, len(text) + 1)
    prefix, after, trailer = build(stream_len)
    filler_len = stream_len - len(text) - 1
    filler = hashlib.shake_256(key.encode("utf-8")).digest(max(filler_len, 0))
    data = prefix + text + filler + b"\n" + after + trailer
    return data


def corrupt(data: bytes, rng: random.Random) -> bytes:
    """Return a damaged copy of ``data`` (a few bytes flipped past the header, same length)."""
    if len(data) < 64:
        return bytes(b ^ 0xFF for b in data)
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(32, len(buf))
        buf[pos] ^= 0x5A
    return bytes(buf)


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
