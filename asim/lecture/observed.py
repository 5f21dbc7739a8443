"""Per-request stamps of a REAL run: the server's trace joined with ab's ``-g`` file.

The servers trace, per request, when it was accepted, when the handler started and ended and
when the connection closed (`asim.servers.trace`, wall-clock µs). ab's ``-g`` file has each
request's Connect and Total to the millisecond but its start only to the second, and no slot.
ab's own moments are therefore rebuilt from how ab works (docs/lecture.md):

- ab starts a connection at three kinds of moments: its start (connection 0), the first
  response (connections 1..C-1, one burst) and each close (the slot reconnects at once);
- the kernel's accept queue is FIFO, so the k-th accepted request was started at the k-th of
  those moments, and the slot it runs on is the slot of the request whose close started it;
- ab's start is the first request's accept (it runs alone on an idle server), its done for a
  request is the server's close; Connect comes from the ``-g`` row of the same rank of Total.

`ObservedRun.total_error_ms` says how well the rebuilt Totals match ab's own (sorted, pairwise).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asim.errors import AbError
from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server
from asim.lecture.timeline import Timeline, build_timeline
from asim.servers.trace import TraceRecord, read_trace
from asim.sim.abtext import GnuplotRow, parse_gnuplot
from asim.sim.shapes import WORKERS, shape
from asim.sim.spec import Scenario

TRACE_WAIT_S = 5.0  # how long the last trace lines may take to appear after ab exits


@dataclass(frozen=True, kw_only=True)
class ObservedRecord:
    """One measured request in seconds from ab's start (the fields `build_timeline` reads)."""

    slot: int
    start: float
    connect: float
    accepted: float
    handler_start: float
    handler_end: float
    done: float
    fin_sent: float
    worker: int | None


@dataclass(frozen=True, kw_only=True)
class ObservedRun:
    """A real run's rebuilt records with ab's own Totals (ms, ascending) to judge them by."""

    scenario: Scenario
    records: tuple[ObservedRecord, ...]
    ab_totals_ms: tuple[int, ...]

    @property
    def total_error_ms(self) -> float:
        """Median |rebuilt Total − ab's Total| over the two sorted lists."""
        rebuilt = sorted((r.done - r.start) * 1000 for r in self.records)
        pairs = zip(rebuilt, self.ab_totals_ms, strict=False)
        return statistics.median(abs(a - b) for a, b in pairs)

    def timeline(self) -> Timeline:
        return build_timeline(self.records, server=self.scenario.server,
                              closes_s=[r.fin_sent for r in self.records])


def _complete(t: TraceRecord) -> bool:
    return None not in (t.accept_us, t.start_us, t.end_us, t.close_us)


def observed_records(
    trace: Sequence[TraceRecord],
    rows: Sequence[GnuplotRow],
    *,
    concurrency: int,
    after_us: int = 0,
) -> tuple[ObservedRecord, ...]:
    """Join a server trace and ab's ``-g`` rows into per-request stamps (module docstring).

    Trace lines of requests accepted before ``after_us`` (the readiness probe) or without a
    handler (a connection that sent nothing) are left out.
    """
    served = sorted((t for t in trace if _complete(t) and t.accept_us >= after_us),
                    key=lambda t: (t.accept_us, t.peer_port or 0))
    if not served:
        raise AbError("the server traced no request of the ab run")
    t0 = served[0].accept_us
    # Moments at which ab opened a connection, in time order: (µs, request whose close it was).
    opens: list[tuple[int, int | None]] = [(t0, None)]
    opens += [(served[0].end_us, None)] * (concurrency - 1)
    opens += sorted((t.close_us, i) for i, t in enumerate(served))
    opens.sort(key=lambda e: e[0])

    totals = sorted((t.close_us - min(at, t.accept_us), i)
                    for i, ((at, _), t) in enumerate(zip(opens, served, strict=False)))
    ctime_us = {i: row.ctime_ms * 1000 for (_, i), row in
                zip(totals, sorted(rows, key=lambda r: r.ttime_ms), strict=False)}

    pids = sorted({t.pid for t in served}, key=lambda p: min(t.accept_us for t in served
                                                              if t.pid == p))
    slots: dict[int, int] = {}
    free_at: dict[int, int] = {}  # slot -> when its last request was done
    next_burst_slot = 1
    records = []
    for i, (t, (at, parent)) in enumerate(zip(served, opens, strict=False)):
        start = min(at, t.accept_us)
        if i == 0:
            slot = 0
        elif parent is None:
            slot, next_burst_slot = next_burst_slot, next_burst_slot + 1
        else:
            slot = slots.get(parent, -1)
        if slot < 0 or free_at.get(slot, start) > start:  # FIFO broken: first free slot
            slot = min((s for s, done in free_at.items() if done <= start),
                       default=max(free_at, default=-1) + 1)
        slots[i] = slot
        free_at[slot] = t.close_us
        connect = min(start + ctime_us.get(i, 0), t.start_us)
        records.append(ObservedRecord(
            slot=slot,
            start=(start - t0) / 1e6,
            connect=(connect - t0) / 1e6,
            accepted=(t.accept_us - t0) / 1e6,
            handler_start=(t.start_us - t0) / 1e6,
            handler_end=(t.end_us - t0) / 1e6,
            done=(t.close_us - t0) / 1e6,
            fin_sent=(t.close_us - t0) / 1e6,
            worker=pids.index(t.pid) if shape(t.server).takes(WORKERS) else None,
        ))
    return tuple(records)


def _traced(path: Path, after_us: int, requests: int) -> list[TraceRecord]:
    """The trace lines of the run, once all ``requests`` are in (or the wait runs out)."""
    deadline = time.monotonic() + TRACE_WAIT_S
    while True:
        lines = list(read_trace(path)) if path.exists() else []
        done = [t for t in lines if _complete(t) and t.accept_us >= after_us]
        if len(done) >= requests or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def observed_run(scenario: Scenario) -> ObservedRun:
    """Start ``scenario``'s real server with tracing, run the real ab against it, join both."""
    spec = ServerSpec(kind=scenario.server, sleep_s=scenario.sleep_s, workers=scenario.workers)
    with tempfile.TemporaryDirectory(prefix="asim-timeline-") as tmp:
        trace_path, g_path = Path(tmp) / "trace.tsv", Path(tmp) / "ab-g.tsv"
        with running_server(spec, trace_file=trace_path) as server:
            after_us = server.ready_wall_ns // 1000
            run_ab(server.url, requests=scenario.requests, concurrency=scenario.concurrency,
                   gnuplot_path=g_path).checked()
            trace = _traced(trace_path, after_us, scenario.requests)
        rows = parse_gnuplot(g_path.read_text())
    records = observed_records(trace, rows, concurrency=scenario.concurrency, after_us=after_us)
    if len(records) != scenario.requests:
        raise AbError(f"the server traced {len(records)} of ab's {scenario.requests} requests")
    return ObservedRun(scenario=scenario, records=records,
                       ab_totals_ms=tuple(sorted(r.ttime_ms for r in rows)))


def observed_timeline(scenario: Scenario) -> Timeline:
    """The timeline of a real run of ``scenario`` (see `observed_run`)."""
    return observed_run(scenario).timeline()
