"""Report files appear complete or not at all: each is written under a ``.part`` name and
renamed into place only after every file of the report was written (a full disk, a size limit
or a killed task leaves no truncated CSV or HTML under the final name)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["staged"]


class _Staging:
    def __init__(self) -> None:
        self.parts: list[tuple[Path, Path]] = []

    def part(self, final: Path) -> Path:
        """The ``.part`` path to write ``final`` under."""
        tmp = final.with_name(final.name + ".part")
        self.parts.append((tmp, final))
        return tmp


@contextlib.contextmanager
def staged() -> Iterator[_Staging]:
    """Collect ``.part`` files; on success rename each into place (in the order staged, so
    the file named last, the HTML page, shows up last); on any error remove them all."""
    staging = _Staging()
    try:
        yield staging
        for tmp, final in staging.parts:
            os.replace(tmp, final)
    except BaseException as exc:
        for tmp, _ in staging.parts:
            with contextlib.suppress(OSError):
                tmp.unlink()
        if isinstance(exc, OSError) and staging.parts:
            # a write error names no file ("[Errno 28] No space left on device"): say which
            # report failed, in one line, and that nothing half-written was left behind
            folder = staging.parts[0][1].parent
            reason = exc.strerror or type(exc).__name__
            raise OSError(
                exc.errno, f"report not written ({reason}); no partial file left", str(folder)
            ) from exc
        raise
