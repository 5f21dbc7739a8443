"""The numbers behind each lecture figure, computed from the simulator and the queueing theory.

Every function here is deterministic (no jitter, fixed costs) and returns a frozen record that a
plot function in `asim.lecture.figures` draws and a caption in `asim.lecture.captions` quotes.
Simulated runs (DES) stay at n <= 2000 requests except where the figure is about n itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from asim.sim.costs import Costs
from asim.sim.model import SimRun, simulate
from asim.sim.spec import Scenario
from asim.sim.theory import theory_curve


def _scenario(server: str, *, workers: int, sleep_s: float, clients: int, requests: int,
              cores: int) -> Scenario:
    return Scenario(server=server, workers=workers, sleep_s=sleep_s, concurrency=clients,
                    requests=max(requests, clients), cores=cores)


@dataclass(frozen=True, kw_only=True)
class CapacityCurve:
    """Throughput against clients for one server: MVA, the asymptotic bound and DES points.

    ``knee_clients`` is N* = D / D_max and ``max_rps`` = 1 / D_max, the bottleneck's capacity.
    """

    name: str
    clients: tuple[int, ...]
    mva_rps: tuple[float, ...]
    upper_rps: tuple[float, ...]
    knee_clients: float
    max_rps: float
    des_clients: tuple[int, ...]
    des_rps: tuple[float, ...]
    des_requests: int


def capacity_curve(
    name: str,
    server: str,
    *,
    workers: int = 1,
    sleep_s: float,
    costs: Costs,
    cores: int,
    max_clients: int,
    des_clients: Sequence[int],
    des_requests: int,
) -> CapacityCurve:
    """MVA and bounds for 1..max_clients and simulated ``ab -n des_requests -c C`` points."""
    base = _scenario(server, workers=workers, sleep_s=sleep_s, clients=1, requests=1, cores=cores)
    curve = theory_curve(base, costs, max_clients=max_clients)
    des = [
        simulate(_scenario(server, workers=workers, sleep_s=sleep_s, clients=c,
                           requests=des_requests, cores=cores),
                 costs=costs, keep_records=False).report.requests_per_second
        for c in des_clients
    ]
    return CapacityCurve(
        name=name,
        clients=curve.clients,
        mva_rps=curve.throughput_rps,
        upper_rps=curve.throughput_upper_rps,
        knee_clients=curve.knee_clients,
        max_rps=max(curve.throughput_upper_rps),
        des_clients=tuple(des_clients),
        des_rps=tuple(des),
        des_requests=des_requests,
    )


@dataclass(frozen=True, kw_only=True)
class LittleCheck:
    """Little's law L = X·R on one simulated run, for the whole request and for its wait.

    ``times_s`` with ``in_system`` / ``waiting`` are step functions (value from each time to the
    next): requests between ab's start and done, and those not yet in the handler. The means are
    time averages over [0, ``end_s``]; X = requests / end_s; R and W are per-request means.
    ``ab_rps`` and ``ab_mean_total_ms`` are what ab prints for the same run.
    """

    label: str
    concurrency: int
    requests: int
    times_s: tuple[float, ...]
    in_system: tuple[int, ...]
    waiting: tuple[int, ...]
    end_s: float
    mean_in_system: float
    mean_waiting: float
    throughput_rps: float
    mean_response_s: float
    mean_wait_s: float
    ab_rps: float
    ab_mean_total_ms: float


def _occupancy(intervals: Sequence[tuple[float, float]], times: np.ndarray) -> np.ndarray:
    starts = np.sort(np.array([a for a, _ in intervals]))
    ends = np.sort(np.array([b for _, b in intervals]))
    return (np.searchsorted(starts, times, side="right")
            - np.searchsorted(ends, times, side="right"))


def little_check(run: SimRun) -> LittleCheck:
    """Measure L, X and R on ``run``'s records (they must be kept)."""
    records = run.records
    if not records:
        raise ValueError("little_check needs a run simulated with keep_records=True")
    whole = [(r.start, r.done) for r in records]
    wait = [(r.start, r.handler_start) for r in records]
    end_s = max(r.done for r in records)
    times = np.unique(np.array([0.0] + [t for pair in whole + wait for t in pair]))
    in_system = _occupancy(whole, times)
    waiting = _occupancy(wait, times)
    widths = np.diff(np.append(times, end_s))
    n = len(records)
    return LittleCheck(
        label=run.scenario.label(),
        concurrency=run.scenario.concurrency,
        requests=n,
        times_s=tuple(float(t) for t in times),
        in_system=tuple(int(v) for v in in_system),
        waiting=tuple(int(v) for v in waiting),
        end_s=end_s,
        mean_in_system=float(np.sum(in_system * widths) / end_s),
        mean_waiting=float(np.sum(waiting * widths) / end_s),
        throughput_rps=n / end_s,
        mean_response_s=float(np.mean([b - a for a, b in whole])),
        mean_wait_s=float(np.mean([b - a for a, b in wait])),
        ab_rps=run.report.requests_per_second,
        ab_mean_total_ms=run.report.total.mean_ms,
    )


@dataclass(frozen=True, kw_only=True)
class FiniteRunCurve:
    """RPS against clients: steady state (MVA) and ab's finite runs of two lengths (DES)."""

    name: str
    clients: tuple[int, ...]
    mva_rps: tuple[float, ...]
    short_requests: int
    short_rps: tuple[float, ...]
    long_requests: int
    long_rps: tuple[float, ...]


def finite_run_curve(
    name: str,
    server: str,
    *,
    workers: int = 1,
    sleep_s: float,
    costs: Costs,
    cores: int,
    clients: Sequence[int],
    short_requests: int,
    long_requests: int,
) -> FiniteRunCurve:
    """ab's RPS for ``-n short_requests`` and ``-n long_requests`` at each C, and MVA's X(C)."""
    base = _scenario(server, workers=workers, sleep_s=sleep_s, clients=1, requests=1, cores=cores)
    curve = theory_curve(base, costs, max_clients=max(clients))

    def rps(c: int, n: int) -> float:
        sc = _scenario(server, workers=workers, sleep_s=sleep_s, clients=c, requests=n,
                       cores=cores)
        return simulate(sc, costs=costs, keep_records=False).report.requests_per_second

    return FiniteRunCurve(
        name=name,
        clients=tuple(clients),
        mva_rps=tuple(curve.throughput_rps[c - 1] for c in clients),
        short_requests=short_requests,
        short_rps=tuple(rps(c, short_requests) for c in clients),
        long_requests=long_requests,
        long_rps=tuple(rps(c, long_requests) for c in clients),
    )


@dataclass(frozen=True, kw_only=True)
class WorkersCurve:
    """Django's RPS against its number of sync workers at one sleep and one ab -c (MVA, DES)."""

    sleep_s: float
    concurrency: int
    workers: tuple[int, ...]
    mva_rps: tuple[float, ...]
    des_workers: tuple[int, ...]
    des_rps: tuple[float, ...]
    des_requests: int

    def workers_needed(self, target_rps: float) -> int | None:
        """The fewest workers whose MVA throughput reaches ``target_rps`` (None: none shown)."""
        for w, x in zip(self.workers, self.mva_rps, strict=True):
            if x >= target_rps:
                return w
        return None


def workers_curve(
    *,
    sleep_s: float,
    costs: Costs,
    cores: int,
    concurrency: int,
    max_workers: int,
    des_workers: Sequence[int] = (),
    des_requests: int = 2000,
) -> WorkersCurve:
    """X(W) for W = 1..max_workers with ``concurrency`` ab clients, by MVA and by DES points."""
    workers = tuple(range(1, max_workers + 1))
    mva = []
    for w in workers:
        sc = _scenario("django", workers=w, sleep_s=sleep_s, clients=1, requests=1, cores=cores)
        mva.append(theory_curve(sc, costs, max_clients=concurrency).throughput_rps[-1])
    des = [
        simulate(_scenario("django", workers=w, sleep_s=sleep_s, clients=concurrency,
                           requests=des_requests, cores=cores),
                 costs=costs, keep_records=False).report.requests_per_second
        for w in des_workers
    ]
    return WorkersCurve(
        sleep_s=sleep_s, concurrency=concurrency, workers=workers, mva_rps=tuple(mva),
        des_workers=tuple(des_workers), des_rps=tuple(des), des_requests=des_requests,
    )


@dataclass(frozen=True, kw_only=True)
class PercentileCurve:
    """ab's Total percentiles (p50, p90, p100 in ms) against clients for one server (DES)."""

    name: str
    requests: int
    clients: tuple[int, ...]
    p50_ms: tuple[int, ...]
    p90_ms: tuple[int, ...]
    p100_ms: tuple[int, ...]


def percentile_curve(
    name: str,
    server: str,
    *,
    workers: int = 1,
    sleep_s: float,
    costs: Costs,
    cores: int,
    clients: Sequence[int],
    requests: int,
) -> PercentileCurve:
    """The percentile table ab prints for ``-n requests -c C`` at each C."""
    tables = [
        simulate(_scenario(server, workers=workers, sleep_s=sleep_s, clients=c,
                           requests=requests, cores=cores),
                 costs=costs, keep_records=False).report.percentiles_ms
        for c in clients
    ]
    return PercentileCurve(
        name=name, requests=requests, clients=tuple(clients),
        p50_ms=tuple(t[50] for t in tables), p90_ms=tuple(t[90] for t in tables),
        p100_ms=tuple(t[100] for t in tables),
    )
