"""Progress of an apply, drawn for whoever watches it.

On a terminal, one live line that redraws itself (``\\r``): actions and tenants done, the
rate and the time left. In a CI log, where ``\\r`` would pile up into one endless line, a
line per finished tenant with its counts, and every ``interval`` seconds a line of totals
with the time left, so a 40-minute apply shows it is alive and how far it got.

No library: the two forms are a few lines each, and rich or tqdm would add start-up time to
every command for one status line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from t4o_reconcile.engine.apply import ApplyEvent
from t4o_reconcile.render.escape import terminal


def duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h07m``: short enough for a status line."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class _Tally:
    """Totals and the time left, from the events seen so far."""

    def __init__(self, tenants: int, clock: Callable[[], float]) -> None:
        self.tenants = tenants
        self.tenants_done = 0
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.total = 0
        self.per_tenant: dict[str, dict[str, int]] = {}

    def update(self, event: ApplyEvent) -> dict[str, int] | None:
        """Count one event; for a finished tenant, its counts (forgotten here: 10,000
        tenants need not be held)."""
        self.done, self.total = event.done, event.total
        if event.kind == "action_done" and event.tenant is not None and event.outcome:
            counts = self.per_tenant.setdefault(
                event.tenant, {"applied": 0, "failed": 0, "skipped": 0}
            )
            counts[event.outcome] += 1
        elif event.kind == "tenant_finished" and event.tenant is not None:
            self.tenants_done += 1
            return self.per_tenant.pop(event.tenant, {"applied": 0, "failed": 0, "skipped": 0})
        return None

    def line(self) -> str:
        elapsed = self.clock() - self.started
        text = f"{self.done}/{self.total} actions, {self.tenants_done}/{self.tenants} tenants"
        if self.done and elapsed > 0:
            rate = self.done / elapsed
            left = (self.total - self.done) / rate
            text += f", {rate:.1f} actions/s, {duration(elapsed)} elapsed"
            if self.done < self.total:
                text += f", about {duration(left)} left"
        return text


class TerminalProgress:
    """One status line, redrawn in place on a terminal."""

    def __init__(
        self, stream: TextIO, *, tenants: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream
        self.tally = _Tally(tenants, clock)
        self.drawn = False

    def update(self, event: ApplyEvent) -> None:
        self.tally.update(event)
        where = f" {terminal(event.tenant)}" if event.tenant else ""
        self.stream.write(f"\r[{self.tally.line()}]{where}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """End the status line, so what is printed next starts on a line of its own."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class LogProgress:
    """Plain lines for a log: one per finished tenant, totals every ``interval`` seconds."""

    def __init__(
        self,
        stream: TextIO,
        *,
        tenants: int,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.tally = _Tally(tenants, clock)
        self.interval = interval
        self.last_report = self.tally.started

    def update(self, event: ApplyEvent) -> None:
        tally = self.tally
        counts = tally.update(event)
        if counts is not None:
            width = len(str(tally.tenants))
            self._write(
                f"[{tally.tenants_done:>{width}}/{tally.tenants}] {terminal(event.tenant)}:"
                f" {counts['applied']} applied, {counts['failed']} failed,"
                f" {counts['skipped']} skipped"
            )
        now = tally.clock()
        if now - self.last_report >= self.interval and event.done < event.total:
            self.last_report = now
            self._write(f"progress: {tally.line()}")

    def close(self) -> None:
        """Nothing to end: every line was whole."""

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
