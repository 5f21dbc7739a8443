"""The race at the listen backlog: a run near it may take either branch, the model takes one.

ab opens C - 1 connections in one burst when the first response arrives (`asim.sim.abclient`).
On Linux each handshake completes in the kernel and waits in the listening socket's accept
queue; a SYN that finds the queue full is dropped, and the client retransmits it after 1 s (then
2 s, 4 s, ...). Whether the burst overflows the queue depends on how fast the server accepts
while the burst arrives, which real runs decide either way: aiohttp (backlog 128) at C = 300
kept up with the burst in one run (docs/notes/measurements.md, section 5) and lost SYNs to it in
another (issue 11: 286 RPS where the run without drops predicts 387). The deterministic model
follows one branch; `other_branches` simulates the other one:

- the run dropped SYNs, all of them among the connections of ab's first burst (and their
  retransmissions): the other branch admits those connections' first SYNs, as a server that
  keeps up with the burst does (`asim.sim.conn.Backlog.admit_first_burst`);
- the run dropped none, but ab's first burst holds more connections than the queue: the other
  branch is the server that accepts none of the burst while it arrives, so that the burst alone
  overflows the queue by its excess (simulated with the burst's first SYNs held to a queue that
  much below the peak the model's burst reached; its retransmissions and later connections see
  the whole queue). Measured (docs/notes/measurements.md section 31.1): aiohttp at C = 160,
  200 and 250 (bursts of 1.2-1.9 times its queue of 129) lost SYNs in 2, 2 and 4 of 6 runs,
  each time as many as the burst's excess over the queue or fewer, while the model, which
  accepts in parallel with the burst, peaked at 56-129 of 129 across recorded calibrations of
  one machine; at C = 130 one run of 6 lost one SYN, at C = 100 none;
- the run dropped none but filled the queue to `asim.sim.conn.BACKLOG_EDGE` of its capacity
  with a burst no larger than the queue: the other branch overflows, simulated with a backlog
  that much smaller (and below the peak of the first burst, or of the run when a later burst
  came nearer, so that the same burst must lose SYNs there);
- a run that drops SYNs outside its first burst overflows in its steady state, whatever the
  timing of one burst: that is no race, and no other branch is given. Neither is one for a run
  nowhere near the backlog.

The second race is between workers that keep the connections they accept (gthread's and uvicorn's
processes; a sync worker takes one connection at a time and has no such race). ab's first burst goes
to whichever worker is on a core while it arrives: the worker already running keeps accepting, while
a worker woken by the first SYN waits for a core, since ab is not preempted by it
(docs/notes/measurements.md section 39). Real runs split the burst anywhere from evenly to all to
one worker, and the split sets the run: gthread with 2 workers of 8 threads at C = 300, 50 ms,
measured 281.0, 256.5 and 234.5 requests/s with splits of 137 / 162, 179 / 120 and 60 / 239, and the
model given near splits (151 / 150, 181 / 120, 241 / 60) 299.2, 272.0 and 230.0. The model's run
shares the burst as its own scheduling does (usually near evenly, sometimes all to one); the other
branch is the other extreme: where the run's split lies nearer an even share, the worker that took
most of it takes all of it (`asim.sim.conn.Backlog.first_burst_worker`); where it lies nearer all to
one, the workers share it evenly (`first_burst_shared`). It is given when it moves the rate by
`SPLIT_EDGE` or more, or the slowest request's time by `TAIL_EDGE` or more. A measured point
between the two extremes lies on neither branch.

The tail. A gthread worker that holds more connections than it has threads leaves one request
waiting for a thread for a whole sleep: 2 workers of 8 threads at C = 10, 50 ms, measured a slowest
request of 60-110 ms in three folders (figures/shapes-12 to -14), with 9 or 10 of the 10 connections
on one worker at times (docs/notes/measurements.md section 46), where the even split's slowest is
53 ms. All of ab's first burst to one worker is such a run: its rate is 1.5 % lower (one request in
600 waits 50 ms more), its slowest request 103 ms. The real workers' split wanders during the run as
well (runs of up to 15 accepts by one worker, section 46), which a deterministic model does not do
(section 49): the branch stands for both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from asim.errors import PredictedAbortError
from asim.sim.abreport import AbReport
from asim.sim.conn import BACKLOG_EDGE, Backlog, near_backlog
from asim.sim.costs import Costs
from asim.sim.model import Jitter, SimRun, simulate
from asim.sim.spec import Scenario

# A worker split whose other extreme moves the rate by less than this, and the slowest request's
# time by less than TAIL_EDGE, is no race worth a branch.
SPLIT_EDGE = 0.03
TAIL_EDGE = 0.25


@dataclass(frozen=True, kw_only=True)
class Branch:
    """One outcome of the race: what happens on it, in a few words, in fewer (``label``, for a
    table's row), and the run that takes it."""

    condition: str
    label: str
    run: SimRun


def near_race(run: SimRun) -> bool:
    """True when ``run`` may have taken the other branch of the race (see the module)."""
    if run.syns_dropped:
        return run.first_burst_dropped == run.syns_dropped
    return _burst_excess(run) > 0 or near_backlog(run.accept_queue_peak,
                                                  run.accept_queue_capacity)


def condition(run: SimRun) -> str:
    """The branch ``run`` took, in a few words: at the listen backlog, and between the workers
    where there are several."""
    split = run.first_burst_split
    if len(split) < 2:
        return _backlog_condition(run)
    size = sum(split)
    share = (f"one worker accepts all of ab's first {size} connections" if max(split) == size
             else f"the workers accept ab's first {size} connections as "
             + " / ".join(str(n) for n in split))
    return f"{share}; {_backlog_condition(run)}"


def _backlog_condition(run: SimRun) -> str:
    dropped, burst = run.syns_dropped, run.first_burst_dropped
    retried = f"{dropped} SYN{'s' if dropped > 1 else ''} retried after 1 s"
    if dropped and burst == dropped:
        return f"the first burst overflows the listen backlog ({retried})"
    if dropped:
        return f"ab's connections overflow the listen backlog ({retried})"
    if run.accept_queue_peak > run.accept_queue_capacity:  # the burst was let in beyond it
        return "the server keeps up with ab's first burst: no SYN dropped"
    if _burst_excess(run):
        return (f"no SYN dropped: the server accepts part of ab's first burst of "
                f"{run.first_burst_size - 1} connections while it arrives (the accept queue "
                f"peaks at {run.accept_queue_peak} of {run.accept_queue_capacity})")
    return (f"no SYN dropped (the accept queue peaks at {run.accept_queue_peak} of "
            f"{run.accept_queue_capacity})")


def other_branches(
    scenario: Scenario,
    run: SimRun,
    *,
    costs: Costs | None = None,
    jitter: Jitter | None = None,
    seed: int | None = None,
    exact: bool = False,
) -> tuple[Branch, ...]:
    """The outcomes ``run`` (the model's run of ``scenario``) did not take: at the listen
    backlog when it is `near_race`, and between the workers when ab's first burst was shared
    among several (`worker_race`). Arguments as for `asim.sim.model.simulate`, which makes the
    other runs."""

    def what_if(backlog: Backlog | None, of: Scenario = scenario) -> SimRun | None:
        if backlog is None:
            return None
        try:
            return simulate(of, costs=costs, jitter=jitter, seed=seed, keep_records=False,
                            exact=exact, backlog=backlog)
        except PredictedAbortError:
            return None  # a smaller backlog that ab would not survive is no outcome of this race

    branches = []
    if near_race(run):
        if run.syns_dropped:
            other = what_if(Backlog(admit_first_burst=True))
        elif _burst_excess(run) > 0:
            # The burst is over long before ab has started 2C requests: the search simulates
            # that much of the run, the branch all of it.
            first = replace(scenario, requests=min(scenario.requests, 2 * scenario.concurrency))
            other = what_if(_burst_unaccepted(run, lambda backlog: what_if(backlog, first)))
        else:
            # Below the peak of the first burst when that burst came near, so that it
            # overflows.
            cap = run.accept_queue_capacity
            peak = run.first_burst_peak if near_backlog(run.first_burst_peak, cap) else (
                run.accept_queue_peak)
            other = what_if(Backlog(capacity=max(1, min(int(BACKLOG_EDGE * cap), peak - 1))))
        # A what-if that changed nothing: the run is not on a knife's edge after all.
        if other is not None and other.syns_dropped != run.syns_dropped:
            branches.append(Branch(condition=condition(other),
                                   label="SYNs lost" if other.syns_dropped else "no SYN lost",
                                   run=other))
    if worker_race(run):
        split = run.first_burst_split
        busiest = max(split) / sum(split)
        if busiest < (1 + 1 / len(split)) / 2:
            # nearer an even share: the other extreme is all of it to the busiest worker
            other = what_if(Backlog(first_burst_worker=split.index(max(split))))
            label = "one worker takes the burst"
        else:  # nearer all to one: the other extreme is an even share
            other = what_if(Backlog(first_burst_shared=len(split)))
            label = "workers share the burst"
        if other is not None and _moves(run.report, other.report):
            branches.append(Branch(condition=condition(other), label=label, run=other))
    return tuple(branches)


def _moves(run: AbReport, other: AbReport) -> bool:
    """True when a worker split's other extreme moves the rate by `SPLIT_EDGE` or more, or the
    slowest request's time by `TAIL_EDGE` or more."""
    rate, slowest = run.requests_per_second, run.percentiles_ms[100]
    return (abs(other.requests_per_second - rate) >= SPLIT_EDGE * rate
            or abs(other.percentiles_ms[100] - slowest) >= TAIL_EDGE * slowest)


def worker_race(run: SimRun) -> bool:
    """True when several workers that keep what they accept met ab's first burst in ``run``:
    real runs split it any way between them, from evenly to all to one (see the module)."""
    return len(run.first_burst_split) > 1


def _burst_unaccepted(run: SimRun, probe: Callable[[Backlog], SimRun | None]) -> (
    Backlog | None
):
    """The backlog of the branch in which the server accepts none of ab's first burst while it
    arrives: the burst loses as many SYNs as it holds connections beyond the queue, or fewer
    (measured runs lost up to that many, docs/notes/measurements.md sections 31.1 and 45). The
    model's server drains the queue while the burst arrives, so the burst's first SYNs are held
    to a smaller queue, the largest below the burst's peak at which the model's burst loses at
    least that many (bisection over ``probe``'s runs: fewer drops the larger the queue); where
    even the smallest queue probed loses fewer, as a fast server's burst does, the queue at
    which it loses the most, if it loses any."""
    excess = _burst_excess(run)
    lo, hi = 1, max(1, run.first_burst_peak - 1)
    found = None
    most: tuple[int, Backlog | None] = (0, None)
    while lo <= hi:
        mid = (lo + hi) // 2
        other = probe(Backlog(burst_capacity=mid))
        if other is not None and other.first_burst_dropped > most[0]:
            most = (other.first_burst_dropped, Backlog(burst_capacity=mid))
        if other is not None and other.first_burst_dropped >= excess:
            found, lo = Backlog(burst_capacity=mid), mid + 1
        else:
            hi = mid - 1
    return found if found is not None else most[1]


def _burst_excess(run: SimRun) -> int:
    """How many connections of ab's first burst a queue that drained none of them could not
    hold. Connection 0 counts among the burst's (`asim.sim.conn.AcceptQueue`) but was accepted
    before the others opened, at its response."""
    if run.accept_queue_capacity < 1:
        return 0
    return max(0, run.first_burst_size - 1 - run.accept_queue_capacity)
