"""Progress of an apply: a live line on a terminal, plain lines with an ETA in a CI log."""

from __future__ import annotations

import io

from t4o_reconcile.engine.apply import ApplyEvent
from t4o_reconcile.render.progress import LogProgress, TerminalProgress, duration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def events_of_two_tenants() -> list[ApplyEvent]:
    return [
        ApplyEvent("tenant_started", "ok-skogen", 0, 4),
        ApplyEvent("action_done", "ok-skogen", 1, 4, address="a", outcome="applied"),
        ApplyEvent("action_done", "ok-skogen", 2, 4, address="b", outcome="applied"),
        ApplyEvent("tenant_finished", "ok-skogen", 2, 4, outcome="applied"),
        ApplyEvent("tenant_started", "il-fjellrev", 2, 4),
        ApplyEvent("action_done", "il-fjellrev", 3, 4, address="c", outcome="failed"),
        ApplyEvent("action_done", "il-fjellrev", 4, 4, address="d", outcome="skipped"),
        ApplyEvent("tenant_finished", "il-fjellrev", 4, 4, outcome="failed"),
    ]


def test_a_log_gets_a_line_per_finished_tenant_with_its_counts() -> None:
    out = io.StringIO()
    progress = LogProgress(out, tenants=2, clock=Clock())
    for event in events_of_two_tenants():
        progress.update(event)
    assert out.getvalue().splitlines() == [
        "[1/2] ok-skogen: 2 applied, 0 failed, 0 skipped",
        "[2/2] il-fjellrev: 0 applied, 1 failed, 1 skipped",
    ]
    assert "\r" not in out.getvalue()  # a CI log is not a terminal


def test_a_log_gets_totals_and_the_time_left_every_interval() -> None:
    out = io.StringIO()
    clock = Clock()
    progress = LogProgress(out, tenants=2, interval=10, clock=clock)
    events = events_of_two_tenants()
    progress.update(events[0])
    clock.now = 12.0
    progress.update(events[1])  # 1 of 4 actions in 12 s: 36 s to go
    clock.now = 15.0
    progress.update(events[2])  # not yet 10 s since the last totals
    assert out.getvalue().splitlines() == [
        "progress: 1/4 actions, 0/2 tenants, 0.1 actions/s, 12s elapsed, about 36s left"
    ]


def test_a_terminal_gets_one_line_redrawn_in_place() -> None:
    out = io.StringIO()
    clock = Clock()
    progress = TerminalProgress(out, tenants=2, clock=clock)
    for event in events_of_two_tenants():
        clock.now += 1
        progress.update(event)
    progress.close()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # a newline only at the end
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("[4/4 actions, 2/2 tenants, 0.5 actions/s, 8s elapsed]")


def test_durations_read_at_a_glance() -> None:
    assert [duration(s) for s in (0, 45, 185, 7620)] == ["0s", "45s", "3m05s", "2h07m"]
