"""Progress of long work, on a terminal and off it.

On a terminal it is a tqdm bar. Anywhere else -- a log file, a SLURM job's output, ``privsynth
fit ... > log`` -- a bar's carriage returns are useless, so the same calls write a ``logging``
line (logger ``privsynth.progress``, level INFO) every :data:`LOG_EVERY` seconds and one when the
work ends (nothing for work shorter than that). Only DP-safe numbers go in either (steps, the share of the budget spent).

Example:
    >>> with progress(total=3, desc="demo", unit="step", enabled=False) as bar:
    ...     bar.update(3)
    >>> bar.n
    3
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

__all__ = ["progress", "LOG_EVERY"]

log = logging.getLogger("privsynth.progress")
#: Seconds between two progress lines when not on a terminal.
LOG_EVERY = 30.0


class _LogProgress:
    """tqdm's small interface (``update``, ``n`` + ``refresh``, ``set_postfix``, ``close``, a
    context manager) writing a log line now and then instead of a bar."""

    def __init__(self, *, total: int, desc: str, unit: str, initial: int = 0, enabled: bool = True) -> None:
        self.total, self.desc, self.unit, self.n, self.enabled = total, desc, unit, initial, enabled
        self._postfix: dict[str, Any] = {}
        self._start = self._last = time.monotonic()
        self._closed = False
        self._emitted = False  # work shorter than LOG_EVERY writes nothing

    def update(self, k: int = 1) -> None:
        self.n += k
        self.refresh()

    def set_postfix(self, **values: Any) -> None:
        self._postfix = values

    def refresh(self) -> None:
        if self.enabled and time.monotonic() - self._last >= LOG_EVERY:
            self._emit("")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.enabled and (self._emitted or time.monotonic() - self._start >= LOG_EVERY):
                self._emit(" (done)")

    def _emit(self, suffix: str) -> None:
        self._last, self._emitted = time.monotonic(), True
        extra = "".join(f", {k}={v}" for k, v in self._postfix.items())
        log.info("%s: %s/%s %s after %.0f s%s%s", self.desc, self.n, self.total, self.unit, self._last - self._start, extra, suffix)

    def __enter__(self) -> "_LogProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress(*, total: int, desc: str, unit: str, enabled: bool | None = None, initial: int = 0) -> Any:
    """A progress bar on a terminal, log lines elsewhere; ``enabled=False`` shows nothing
    (``None``, the default, and ``True`` show it)."""
    if enabled is False:
        return _LogProgress(total=total, desc=desc, unit=unit, initial=initial, enabled=False)
    if sys.stderr is not None and hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, initial=initial)
    return _LogProgress(total=total, desc=desc, unit=unit, initial=initial)
