"""What the subcommands share: errors with exit statuses, a stderr progress bar."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

__all__ = ["EXIT_ERROR", "EXIT_INCOMPLETE", "EXIT_OK", "EXIT_USAGE", "CliError", "Progress", "human_size"]

EXIT_OK = 0
#: Bad input or nothing could be done (one line on stderr).
EXIT_ERROR = 1
#: Command-line usage error (argparse).
EXIT_USAGE = 2
#: The command ran, but not everything decrypted (inspect: no key opened the frame;
#: decrypt-recording: some frames failed; selftest: a vector failed).
EXIT_INCOMPLETE = 3


class CliError(Exception):
    """An error shown as one line on stderr (no traceback unless --debug)."""

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


class Progress:
    """A one-line progress bar on stderr, redrawn at most 10 times a second.

    Shown when ``enabled`` is True, or when it is None and stderr is a terminal.
    """

    def __init__(
        self, total: int | None, *, enabled: bool | None = None, stream: TextIO | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.total = total if total and total > 0 else None
        self._last = 0.0
        self._shown = False

    def update(self, done: int, frames: int, failed: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        self._draw(done, frames, failed)

    def _draw(self, done: int, frames: int, failed: int) -> None:
        width = 30
        if self.total:
            frac = min(max(done / self.total, 0.0), 1.0)
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            head = f"[{bar}] {frac * 100:5.1f}%"
        else:
            head = f"{human_size(done)} read"
        tail = f" {frames} frames" + (f", {failed} failed" if failed else "")
        self.stream.write("\r" + head + tail + " " * 4)
        self.stream.flush()
        self._shown = True

    def finish(self, done: int, frames: int, failed: int) -> None:
        if not self.enabled:
            return
        self._draw(self.total or done, frames, failed)
        self.stream.write("\n")
        self.stream.flush()


def columns() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100
