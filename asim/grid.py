"""Grids of scenarios and the records `asim predict` prints (the Python API's result type)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product

from asim.calibration.file import resolve
from asim.errors import InputError
from asim.sim.abreport import AbReport
from asim.sim.costs import Costs
from asim.sim.memory import DEFAULT_MEMORY, MemoryCosts, server_memory_mb
from asim.sim.model import Jitter, SimRun, simulate
from asim.sim.race import condition, other_branches
from asim.sim.shapes import BLOCKING, THREADS, WORKERS, shape, takers
from asim.sim.spec import Scenario, machine_cores
from asim.sim.theory import AbTerms, ab_terms
from asim.sim.usage import CPU_RESOURCES

DES, MVA, BOUNDS = "des", "mva", "bounds"
METHODS: tuple[str, ...] = (DES, MVA, BOUNDS)


@dataclass(frozen=True, kw_only=True)
class Prediction:
    """One grid point: the scenario and what ab prints for it, by one method.

    The simulation (``des``) fills ``report``, everything ab prints; the steady-state theories
    (``mva``, ``bounds``) fill ``terms``: RPS, both time-per-request lines and the time taken.
    ``extrapolated_requests`` counts the simulated requests taken from a measured steady state
    instead of simulated one by one (`asim.sim.fastforward`). ``accept_queue_peak`` (of
    ``accept_queue_capacity``) and ``syns_dropped`` say how close the simulated run came to the
    server's listen backlog, over the requests it simulated: near it, real runs split between
    ones that lose SYNs (and wait a 1 s retransmission) and ones that do not.

    ``bottleneck`` names the busiest resource (`asim.sim.usage.RESOURCES`) and
    ``bottleneck_utilisation`` its busy share of the run (0-1); None where the method cannot
    tell. Near the listen backlog, ``branch`` says which outcome of the race this prediction
    follows and ``alternatives`` holds the others (`asim.sim.race`); far from it they are None
    and empty. ``server_memory_mb`` is the server's predicted peak memory (`asim.sim.memory`).
    ``cpu_utilisation`` is the busy share of the busiest resource that runs CPU (the cores, a
    GIL, an event loop, ab; `asim.sim.usage.CPU_RESOURCES`), which a held worker or pool thread
    can hide as the bottleneck; it decides whether validate counts a point as IO-dominated
    (simulation only; not in the JSON).
    """

    scenario: Scenario
    method: str = DES
    report: AbReport | None = None
    terms: AbTerms | None = None
    extrapolated_requests: int = 0
    accept_queue_peak: int = 0
    accept_queue_capacity: int = 0
    syns_dropped: int = 0
    bottleneck: str | None = None
    bottleneck_utilisation: float | None = None
    alternatives: tuple[Alternative, ...] = ()
    branch: str | None = None
    server_memory_mb: float | None = None
    cpu_utilisation: float | None = None

    def __post_init__(self) -> None:
        if (self.report is None) == (self.terms is None):
            raise ValueError("a Prediction carries either an AbReport or theory terms")
        u = self.bottleneck_utilisation
        if (self.bottleneck is None) != (u is None) or (u is not None and not 0 <= u <= 1):
            raise ValueError(
                f"a bottleneck needs a utilisation between 0 and 1, got {self.bottleneck!r} at {u}"
            )

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
            "threads": s.threads,
            "blocking_s": s.blocking_s,
            "sleep_s": s.sleep_s,
            "concurrency": s.concurrency,
            "requests": s.requests,
            "keepalive": s.keepalive,
            "cores": s.cores,
        }
        if self.server_memory_mb is not None:
            record["server_memory_mb"] = round(self.server_memory_mb, 2)
        if self.report is not None:
            record.update(self.report.to_dict())
            record["extrapolated_requests"] = self.extrapolated_requests
            record["accept_queue_peak"] = self.accept_queue_peak
            record["accept_queue_capacity"] = self.accept_queue_capacity
            record["syns_dropped"] = self.syns_dropped
            return self._add_fields(record)
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
        return self._add_fields(record)

    def _add_fields(self, record: dict[str, object]) -> dict[str, object]:
        """The keys every method carries: the bottleneck and the other outcomes of a race."""
        u = self.bottleneck_utilisation
        record["bottleneck"] = self.bottleneck
        record["bottleneck_utilisation"] = None if u is None else round(u, 4)
        record["branch"] = self.branch
        record["alternatives"] = [a.to_dict() for a in self.alternatives]
        return record


@dataclass(frozen=True, kw_only=True)
class Alternative:
    """Another outcome a real run of the same point may take: near the listen backlog the
    deterministic model follows one branch of a race that real runs take either way.

    ``condition`` says in a few words what happens on this branch (e.g. "first burst
    overflows the listen backlog (30 SYNs retried after 1 s)"), ``label`` in fewer (a table's
    row: "SYNs lost", "one worker takes the burst"); ``prediction`` is the point as predicted on
    it (same scenario and method).
    """

    condition: str
    label: str
    prediction: Prediction

    def to_dict(self) -> dict[str, object]:
        """The prediction's record (without nested alternatives) plus ``condition``."""
        record = self.prediction.to_dict()
        for key in ("branch", "alternatives"):
            record.pop(key, None)
        return {"condition": self.condition, **record}


def scenarios(
    *,
    servers: Sequence[str] = ("aiohttp", "django"),
    workers: Sequence[int] = (1,),
    sleeps_s: Sequence[float] = (0.1,),
    concurrencies: Sequence[int] = (5, 10, 20, 40),
    requests: int = 100,
    keepalive: bool = False,
    cores: int | None = None,
    threads: Sequence[int | None] = (None,),
    blockings_s: Sequence[float | None] = (None,),
) -> list[Scenario]:
    """Every combination, in the order server, workers, threads, blocking slice, sleep,
    concurrency.

    A shape without worker processes (threads, a blocking slice) takes one value of that
    option, so it appears once per the others; an option that no shape of the grid takes is
    an `InputError`. ``None`` takes the shape's default.
    """
    cores = machine_cores() if cores is None else cores
    shapes = [shape(name) for name in servers]  # every name checked before any work
    for option, values, default in (
        (WORKERS, workers, (1,)), (THREADS, threads, (None,)), (BLOCKING, blockings_s, (None,)),
    ):
        if tuple(values) != default and not any(s.takes(option) for s in shapes):
            raise InputError(
                f"--{option} applies to {', '.join(takers(option))} only, and the grid has none"
            )
    out = []
    for server in shapes:
        ws = workers if server.takes(WORKERS) else (1,)
        ts = threads if server.takes(THREADS) else (None,)
        bs = blockings_s if server.takes(BLOCKING) else (None,)
        for w, t, b, sleep, c in product(ws, ts, bs, sleeps_s, concurrencies):
            out.append(
                Scenario(
                    server=server.name,
                    workers=w,
                    threads=t,
                    blocking_s=b,
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
    calibration: str = "auto",
    jitter: Jitter | None = None,
    seed: int | None = None,
    exact: bool = False,
    memory: MemoryCosts | None = None,
) -> list[Prediction]:
    """Predict what ab prints for one scenario or many.

    The costs are ``costs`` when given, else those of ``calibration``, resolved as `asim
    predict --calibration` resolves it (`asim.calibration.file.resolve`): ``auto`` (the
    default, as on the command line) is this machine's `asim calibrate` file if there is one
    (``$ASIM_CALIBRATION``, else ``~/.cache/asim/calibration.json``) and the built-in costs
    otherwise; ``none`` is the built-in costs; anything else a calibration file's path.

    ``method`` is ``des`` (the simulation of ab and the server), ``mva`` (exact mean value
    analysis, steady state), ``bounds`` (asymptotic bounds), ``all``, or a list of these; the
    result has one `Prediction` per scenario and method, scenario-major. ``exact`` keeps the
    simulation from extrapolating a long run's steady state (see `asim.sim.model.simulate`).
    ``memory``: the servers' memory figures (default: the calibration's when ``costs`` is not
    given, else the built-in ones).
    """
    methods = _methods(method)
    if costs is None:
        chosen = resolve(calibration)
        costs, memory = chosen.costs, memory or chosen.memory
    memory = memory or DEFAULT_MEMORY
    items = [scenario] if isinstance(scenario, Scenario) else list(scenario)
    points = []
    for s in items:
        for m in methods:
            if m == DES:
                run = simulate(
                    s, costs=costs, jitter=jitter, seed=seed, keep_records=False, exact=exact
                )
                others = other_branches(s, run, costs=costs, jitter=jitter, seed=seed,
                                        exact=exact)
                memory_mb = server_memory_mb(s, memory)
                alternatives = tuple(
                    Alternative(condition=b.condition, label=b.label,
                                prediction=simulated(b.run, memory_mb=memory_mb))
                    for b in others
                )
                points.append(simulated(run, alternatives=alternatives,
                                        branch=condition(run) if others else None,
                                        memory_mb=memory_mb))
            else:
                terms = ab_terms(s, costs, method=m)
                points.append(Prediction(
                    scenario=s, method=m, terms=terms, bottleneck=terms.bottleneck,
                    bottleneck_utilisation=terms.bottleneck_utilisation,
                    server_memory_mb=server_memory_mb(s, memory),
                ))
    return points


def simulated(
    run: SimRun, *, alternatives: tuple[Alternative, ...] = (), branch: str | None = None,
    memory_mb: float | None = None,
) -> Prediction:
    """The `Prediction` of a simulated run (method ``des``)."""
    top = run.bottleneck
    return Prediction(
        scenario=run.scenario,
        method=DES,
        report=run.report,
        extrapolated_requests=run.extrapolated_requests,
        accept_queue_peak=run.accept_queue_peak,
        accept_queue_capacity=run.accept_queue_capacity,
        syns_dropped=run.syns_dropped,
        bottleneck=None if top is None else top.resource,
        bottleneck_utilisation=None if top is None else top.utilisation,
        alternatives=alternatives,
        branch=branch,
        server_memory_mb=memory_mb,
        cpu_utilisation=max((u.utilisation for u in run.usage if u.resource in CPU_RESOURCES),
                            default=None),
    )


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
