"""Grids of scenarios and the records `asim predict` prints (the Python API's result type)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product

from asim.errors import InputError
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.model import Jitter, simulate
from asim.sim.report import AbReport
from asim.sim.spec import DJANGO, SERVER_KINDS, Scenario, machine_cores
from asim.sim.theory import AbTerms, ab_terms

DES, MVA, BOUNDS = "des", "mva", "bounds"
METHODS: tuple[str, ...] = (DES, MVA, BOUNDS)


@dataclass(frozen=True, kw_only=True)
class Point:
    """One grid point: the scenario and what ab prints for it, by one method.

    The simulation (``des``) fills ``report``, everything ab prints; the steady-state theories
    (``mva``, ``bounds``) fill ``terms``: RPS, both time-per-request lines and the time taken.
    ``extrapolated_requests`` counts the simulated requests taken from a measured steady state
    instead of simulated one by one (`asim.sim.fastforward`). ``accept_queue_peak`` (of
    ``accept_queue_capacity``) and ``syns_dropped`` say how close the simulated run came to the
    server's listen backlog, over the requests it simulated: near it, real runs split between
    ones that lose SYNs (and wait a 1 s retransmission) and ones that do not.
    """

    scenario: Scenario
    method: str = DES
    report: AbReport | None = None
    terms: AbTerms | None = None
    extrapolated_requests: int = 0
    accept_queue_peak: int = 0
    accept_queue_capacity: int = 0
    syns_dropped: int = 0

    def __post_init__(self) -> None:
        if (self.report is None) == (self.terms is None):
            raise ValueError("a Point carries either an AbReport or theory terms")

    @property
    def requests_per_second(self) -> float:
        return (self.report or self.terms).requests_per_second

    @property
    def time_per_request_ms(self) -> float:
        return (self.report or self.terms).time_per_request_ms

    @property
    def time_per_request_all_ms(self) -> float:
        return (self.report or self.terms).time_per_request_all_ms

    @property
    def time_taken_s(self) -> float:
        return (self.report or self.terms).time_taken_s

    def to_dict(self) -> dict[str, object]:
        s = self.scenario
        record: dict[str, object] = {
            "method": self.method,
            "server": s.server,
            "workers": s.workers,
            "sleep_s": s.sleep_s,
            "concurrency": s.concurrency,
            "requests": s.requests,
            "keepalive": s.keepalive,
            "cores": s.cores,
        }
        if self.report is not None:
            record.update(self.report.to_dict())
            record["extrapolated_requests"] = self.extrapolated_requests
            record["accept_queue_peak"] = self.accept_queue_peak
            record["accept_queue_capacity"] = self.accept_queue_capacity
            record["syns_dropped"] = self.syns_dropped
            return record
        t = self.terms
        record.update(
            {
                "time_taken_s": round(t.time_taken_s, 6),
                "requests_per_second": round(t.requests_per_second, 3),
                "time_per_request_ms": round(t.time_per_request_ms, 3),
                "time_per_request_all_ms": round(t.time_per_request_all_ms, 3),
                "connect_ms": None,
                "processing_ms": None,
                "waiting_ms": None,
                "total_ms": None,
                "percentiles_ms": None,
                "is_bound": t.is_bound,
                "extrapolated_requests": None,
                "accept_queue_peak": None,
                "accept_queue_capacity": None,
                "syns_dropped": None,
            }
        )
        return record


def scenarios(
    *,
    servers: Sequence[str] = ("aiohttp", "django"),
    workers: Sequence[int] = (1,),
    sleeps_s: Sequence[float] = (0.1,),
    concurrencies: Sequence[int] = (5, 10, 20, 40),
    requests: int = 100,
    keepalive: bool = False,
    cores: int | None = None,
) -> list[Scenario]:
    """Every combination, in the order server, workers, sleep, concurrency.

    Event-loop servers ignore ``workers``, so they appear once per sleep and concurrency.
    """
    cores = machine_cores() if cores is None else cores
    for name in servers:
        if name not in SERVER_KINDS:
            raise InputError(f"unknown server {name!r}; choose from {', '.join(SERVER_KINDS)}")
    out = []
    for server in servers:
        ws = workers if server == DJANGO else (1,)
        for w, sleep, c in product(ws, sleeps_s, concurrencies):
            out.append(
                Scenario(
                    server=server,
                    workers=w,
                    sleep_s=sleep,
                    concurrency=c,
                    requests=requests,
                    keepalive=keepalive,
                    cores=cores,
                )
            )
    return out


def predict(
    scenario: Scenario | Iterable[Scenario],
    *,
    method: str | Sequence[str] = DES,
    costs: Costs | None = None,
    jitter: Jitter | None = None,
    seed: int | None = None,
    exact: bool = False,
) -> list[Point]:
    """Predict what ab prints for one scenario or many.

    ``method`` is ``des`` (the simulation of ab and the server), ``mva`` (exact mean value
    analysis, steady state), ``bounds`` (asymptotic bounds), ``all``, or a list of these; the
    result has one `Point` per scenario and method, scenario-major. ``exact`` keeps the
    simulation from extrapolating a long run's steady state (see `asim.sim.model.simulate`).
    """
    methods = _methods(method)
    costs = costs or DEFAULT_COSTS
    items = [scenario] if isinstance(scenario, Scenario) else list(scenario)
    points = []
    for s in items:
        for m in methods:
            if m == DES:
                run = simulate(
                    s, costs=costs, jitter=jitter, seed=seed, keep_records=False, exact=exact
                )
                points.append(
                    Point(
                        scenario=s,
                        method=m,
                        report=run.report,
                        extrapolated_requests=run.extrapolated_requests,
                        accept_queue_peak=run.accept_queue_peak,
                        accept_queue_capacity=run.accept_queue_capacity,
                        syns_dropped=run.syns_dropped,
                    )
                )
            else:
                points.append(Point(scenario=s, method=m, terms=ab_terms(s, costs, method=m)))
    return points


def _methods(method: str | Sequence[str]) -> tuple[str, ...]:
    names = [method] if isinstance(method, str) else list(method)
    if names == ["all"]:
        return METHODS
    for name in names:
        if name not in METHODS:
            raise InputError(f"unknown method {name!r}; choose from des, mva, bounds or all")
    return tuple(names)


def method_names(method: str | Sequence[str]) -> tuple[str, ...]:
    """The methods ``method`` names (``all``: every one); an InputError for an unknown one."""
    return _methods(method)
