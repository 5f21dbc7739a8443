"""Capacity planning: the smallest configuration of a server shape whose predicted ab run meets
targets (`asim size`), found with the model, never by measuring.

The search, per shape that has something to size (gunicorn's workers):

1. MVA brackets: exact MVA (`asim.grid.predict(method="mva")`) is monotone in the workers, and
   its steady-state mean latency is a floor for ab's p99, so a bisection over 1..limit finds the
   fewest workers MVA says could meet the targets. That is where the simulation starts.
2. DES confirms: the simulation of ab's finite run (`method="des"`) decides. It evaluates the MVA
   estimate and the size below it; then it gallops (doubling steps) up from a failing size or
   down from a meeting one until it has a failing size below a meeting one, and bisects between
   them (``width`` sizes per round, so parallel executors shorten the rounds) until they are
   neighbours. The answer and the size below it are therefore always simulated.
3. Bisection assumes more workers never hurt. The simulation need not be monotone: with many
   workers on few cores its p99 grows again (and MVA, steady state, then sees no answer at all),
   so before it says that no size meets, the search also simulates the powers of two below the
   limit and resumes from any that meets; every size simulated is kept, and a larger size that
   failed is reported as a note rather than hidden.

Event-loop shapes have nothing to size: their one loop is simulated once and either meets the
targets or names its bottleneck. Workers are never searched beyond ab's concurrency: with C
clients at most C requests are in the server at once, so more workers cannot serve more.

Pure: scenarios go to an ``evaluate`` function (serial by default; `asim.sweep` in the CLI).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from asim.errors import InputError
from asim.grid import DES, MVA, Prediction, predict
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.shapes import shape
from asim.sim.spec import Scenario
from asim.sim.theory import bounds_point, mva_point, scenario_network
from asim.sweep import Job, Outcome, run_one

WORKERS = "workers"
# What `asim size` can size; threads join when the threaded shapes arrive (a second knob).
KNOBS: tuple[str, ...] = (WORKERS,)
Evaluate = Callable[[Sequence[Scenario]], Sequence[Outcome]]


@dataclass(frozen=True, kw_only=True)
class Targets:
    """What an ab run must show: at least ``rate_rps`` requests per second, a 99th percentile
    of at most ``p99_ms``."""

    rate_rps: float
    p99_ms: float

    def __post_init__(self) -> None:
        for name in ("rate_rps", "p99_ms"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise InputError(f"{name} must be a positive number, got {value}")

    def misses(self, point: Prediction) -> tuple[str, ...]:
        """Which targets ``point`` misses, each in words with both numbers (empty: it meets)."""
        out = []
        rps = point.requests_per_second
        if rps < self.rate_rps:
            out.append(f"RPS {rps:.1f} < {self.rate_rps:g}")
        p99 = point.report.percentiles_ms[99]
        if p99 > self.p99_ms:
            out.append(f"p99 {p99} ms > {self.p99_ms:g} ms")
        return tuple(out)


@dataclass(frozen=True, kw_only=True)
class Trial:
    """One simulated configuration: its DES point (None if the run failed) and what it misses."""

    scenario: Scenario
    point: Prediction | None
    misses: tuple[str, ...]

    @property
    def meets(self) -> bool:
        return not self.misses

    @property
    def workers(self) -> int:
        return self.scenario.workers

    def metrics(self) -> dict[str, float | int] | None:
        """The predicted numbers `asim size` prints, as `asim predict`'s JSON has them."""
        if self.point is None:
            return None
        d = self.point.to_dict()
        return {"requests_per_second": d["requests_per_second"],
                "p50_ms": d["percentiles_ms"]["50"], "p99_ms": d["percentiles_ms"]["99"],
                "server_memory_mb": d.get("server_memory_mb")}


@dataclass(frozen=True, kw_only=True)
class Sizing:
    """The answer for one shape.

    ``knob`` is what was sized (None for an event loop); ``found`` the smallest configuration
    that meets the targets (None if none up to ``limit`` does) and ``below`` the next smaller one
    (None when ``found`` is the smallest possible); ``closest`` the configuration to show when
    nothing meets (the limit); ``bottleneck`` names what caps the failing configuration;
    ``mva_estimate`` is where MVA put the answer; ``trials`` every simulated configuration, by
    size; ``notes`` what the user should also know (the latency law, non-monotone sizes).
    """

    base: Scenario
    targets: Targets
    knob: str | None
    limit: int
    found: Trial | None
    below: Trial | None
    closest: Trial | None
    bottleneck: str
    mva_estimate: int | None
    trials: tuple[Trial, ...]
    notes: tuple[str, ...] = ()

    @property
    def meets(self) -> bool:
        return self.found is not None

    def to_dict(self) -> dict[str, object]:
        """The JSON record of `asim size --format json` (one per shape)."""
        b = self.base

        def trial(t: Trial | None) -> dict[str, object] | None:
            if t is None:
                return None
            return {WORKERS: t.workers if self.knob else None, "meets": t.meets,
                    "predicted": t.metrics(), "misses": list(t.misses)}

        return {
            "server": b.server,
            "sleep_s": b.sleep_s,
            "concurrency": b.concurrency,
            "requests": b.requests,
            "keepalive": b.keepalive,
            "cores": b.cores,
            "sized": self.knob,
            "meets": self.meets,
            "found": trial(self.found),
            "below": trial(self.below),
            "closest": trial(self.closest),
            "bottleneck": self.bottleneck or None,
            "limit_workers": self.limit if self.knob else None,
            "mva_workers": self.mva_estimate,
            "simulated": [{WORKERS: t.workers, "meets": t.meets} for t in self.trials]
            if self.knob else [],
            "notes": list(self.notes),
        }


def knob_of(server: str) -> str | None:
    """What `asim size` sizes for ``server`` (None: an event loop, nothing to size)."""
    return WORKERS if shape(server).takes(WORKERS) else None  # an unknown name: InputError


def serial_evaluate(costs: Costs = DEFAULT_COSTS, *, exact: bool = False) -> Evaluate:
    """Simulate scenarios one by one in this process."""
    job = Job(methods=(DES,), costs=costs, exact=exact)
    return lambda scenarios: [run_one(job, i, s) for i, s in enumerate(scenarios)]


def size(
    base: Scenario,
    targets: Targets,
    *,
    costs: Costs = DEFAULT_COSTS,
    max_workers: int = 256,
    evaluate: Evaluate | None = None,
    width: int = 1,
) -> Sizing:
    """Size ``base``'s server for ``targets`` (``base.workers`` is ignored); see the module."""
    if not 1 <= max_workers <= 1024:
        raise InputError(f"--max-workers must be between 1 and 1024, got {max_workers}")
    evaluate = evaluate or serial_evaluate(costs)
    knob = knob_of(base.server)
    trials: dict[int, Trial] = {}

    def run(workers: Sequence[int]) -> None:
        todo = sorted({w for w in workers if w not in trials})
        scenarios = [replace(base, workers=w) for w in todo]
        for w, outcome in zip(todo, evaluate(scenarios), strict=True):
            trials[w] = _trial(outcome, targets)

    if knob is None:
        run([1])
        return _answer(base, targets, knob, 1, trials, costs, mva_estimate=None)
    limit = min(max_workers, base.concurrency)
    estimate = mva_workers(base, targets, costs=costs, limit=limit)
    start = limit if estimate is None else estimate
    run([w for w in (start - 1, start) if w >= 1])
    search(run, trials, limit, width)
    # Before saying that no size meets: the simulation is not monotone where many workers
    # share few cores (p99 grows again), so a window of sizes can meet below a failing limit.
    # Powers of two catch any window spanning a factor of two.
    probes = [2**k for k in range(limit.bit_length()) if 2**k not in trials]
    probed = bool(probes) and not any(t.meets for t in trials.values())
    if probed:
        run(probes)
        search(run, trials, limit, width)
    return _answer(base, targets, knob, limit, trials, costs, mva_estimate=estimate,
                   probed=probed)


def search(run: Callable[[Sequence[int]], None], trials: dict[int, Trial], limit: int,
           width: int) -> None:
    """Simulate (``run``) batches of sizes until `_next_batch` has nothing left to try."""
    step = 2
    while (batch := _next_batch(trials, limit, step, max(1, width))) is not None:
        run(batch)
        step *= 2 ** max(1, width)


def mva_workers(base: Scenario, targets: Targets, *, costs: Costs, limit: int) -> int | None:
    """The fewest workers (1..limit) whose MVA steady state meets the RPS target with a mean
    latency within the p99 target; None if even ``limit`` does not. MVA's throughput grows and
    its latency falls with the workers, so a bisection finds it."""

    def meets(w: int) -> bool:
        (p,) = predict(replace(base, workers=w), method=MVA, costs=costs)
        return p.requests_per_second >= targets.rate_rps and \
            p.time_per_request_ms <= targets.p99_ms

    if not meets(limit):
        return None
    lo, hi = 0, limit  # lo fails (0 workers serve nothing), hi meets
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if meets(mid) else (mid, hi)
    return hi


def _trial(outcome: Outcome, targets: Targets) -> Trial:
    if outcome.failed:
        return Trial(scenario=outcome.scenario, point=None, misses=(outcome.error,))
    (point,) = outcome.points
    return Trial(scenario=outcome.scenario, point=point, misses=targets.misses(point))


def _next_batch(trials: dict[int, Trial], limit: int, step: int, width: int) -> list[int] | None:
    """The sizes to simulate next, or None when the search is done: gallop up while nothing
    meets, gallop down while nothing below the smallest meeting size fails, then bisect."""
    meeting = [w for w, t in trials.items() if t.meets]
    if not meeting:
        top = max(trials)
        if top >= limit:
            return None
        return sorted({min(limit, top + step * 2**i) for i in range(width)})
    hi = min(meeting)
    failing = [w for w, t in trials.items() if w < hi and not t.meets]
    if hi == 1 or (failing and max(failing) == hi - 1):
        return None
    if not failing:
        return sorted({max(1, hi - step * 2**i) for i in range(width)})
    lo = max(failing)
    return sorted({lo + (hi - lo) * (i + 1) // (width + 1) for i in range(width)} - {lo, hi})


def _answer(
    base: Scenario,
    targets: Targets,
    knob: str | None,
    limit: int,
    trials: dict[int, Trial],
    costs: Costs,
    *,
    mva_estimate: int | None,
    probed: bool = False,
) -> Sizing:
    meeting = [w for w, t in trials.items() if t.meets]
    found = trials[min(meeting)] if meeting else None
    below = trials.get(found.workers - 1) if found and knob else None
    closest = None if found else trials[max(trials)]
    failing = below or closest
    notes = [n for n in (_latency_note(base, targets, costs),
                         _clients_note(base, targets, costs)) if n]
    if found:
        larger = sorted(w for w, t in trials.items() if w > found.workers and not t.meets)
        if larger:
            notes.append(
                f"{base.server} is not monotone here: {', '.join(map(str, larger))} workers "
                f"failed although {found.workers} meet; the answer is the smallest simulated "
                "size that meets with a failing neighbour below")
    if probed:
        notes.append(f"{base.server}: {_workers(limit)} did not meet the targets, so the powers "
                     f"of two below {limit} were simulated too (the simulation is not monotone "
                     "in the workers)")
    if knob and limit < base.concurrency:
        notes.append(f"searched 1..{limit} workers (--max-workers)")
    elif knob:
        notes.append(f"searched 1..{limit} workers: with ab's {_clients(base.concurrency)} no "
                     "more requests are ever in the server at once")
    return Sizing(
        base=base,
        targets=targets,
        knob=knob,
        limit=limit,
        found=found,
        below=below,
        closest=closest,
        bottleneck=bottleneck(failing.scenario, costs, simulated_rps=failing.point
                              and failing.point.requests_per_second) if failing else "",
        mva_estimate=mva_estimate,
        trials=tuple(trials[w] for w in sorted(trials)),
        notes=tuple(notes),
    )


def bottleneck(scenario: Scenario, costs: Costs, *, simulated_rps: float | None = None) -> str:
    """What caps ``scenario`` in MVA's steady state, in words, with the ceiling it puts on
    requests/s; ``simulated_rps`` (the simulation's) adds a clause where it beats that ceiling."""
    mva = mva_point(scenario, costs)
    station = scenario_network(scenario, costs).station(mva.bottleneck)
    busy = f"{mva.bottleneck_utilisation * 100:.0f} % busy"
    ceiling_rps = 1 / station.capacity_demand_s
    name = mva.bottleneck
    if name == WORKERS and scenario.workers > scenario.cores:
        # Past K workers the station is flow-equivalent: its ceiling is the cores' (MVA).
        cold = scenario.sleep_s > 0  # MVA charges a wake-up after every sleep (theory.py)
        cpu_s = costs.worker_cpu_s + (costs.worker_cold_cpu_s if cold else 0.0)
        cores_busy = mva.throughput_rps * cpu_s / scenario.cores
        if cores_busy >= 0.9:
            ceiling_rps = scenario.cores / cpu_s
            text = (f"the {scenario.cores} CPU cores ({cores_busy * 100:.0f} % busy by MVA, "
                    f"{cpu_s * 1e3:.2f} ms of worker CPU per request"
                    f"{' with a cold-cache wake-up' if cold else ''}: "
                    f"at most {ceiling_rps:.0f} requests/s); more workers only queue for them")
            return text + _beats(ceiling_rps, simulated_rps)
    if name == WORKERS:
        text = (f"the {_workers(scenario.workers)} ({busy}, each held about "
                f"{station.demand_s * 1e3:.1f} ms per request: at most {ceiling_rps:.0f} "
                "requests/s)")
    elif name == "loop" and scenario.server != "aiohttp":
        text = (f"the event loop, held for the whole blocking sleep ({busy}, "
                f"{station.demand_s * 1e3:.1f} ms per request: at most {ceiling_rps:.0f} "
                "requests/s)")
    else:
        words = {"loop": "the event loop's one core",
                 "cpu": "the one core shared by the event loop and ab",
                 "ab": "ab itself (one thread)"}.get(name, name)
        text = (f"{words} ({busy}, {station.demand_s * 1e6:.0f} us of CPU per request: at most "
                f"{ceiling_rps:.0f} requests/s)")
    return text + _beats(ceiling_rps, simulated_rps)


def _beats(ceiling_rps: float, simulated_rps: float | None) -> str:
    if simulated_rps is None or simulated_rps <= ceiling_rps * 1.02:
        return ""
    return (f"; the simulation, whose caches stay warm while the cores are busy, reaches "
            f"{simulated_rps:.0f}")


def _workers(count: int) -> str:
    return f"{count} worker{'' if count == 1 else 's'}"


def _clients(count: int) -> str:
    return f"{count} client{'' if count == 1 else 's'}"


def _clients_note(base: Scenario, targets: Targets, costs: Costs) -> str | None:
    # Each of ab's C clients waits for its own response before it sends the next request, so
    # C clients complete at most C / D requests per second, D one request's time alone.
    alone_ms = bounds_point(replace(base, workers=1), costs).demand_ms
    most_rps = base.concurrency / (alone_ms / 1e3)
    if most_rps >= targets.rate_rps:
        return None
    return (f"{base.server}: each of ab's {_clients(base.concurrency)} waits for its own "
            f"response, {alone_ms:.1f} ms even alone: at most {most_rps:.0f} requests/s "
            f"whatever the server; {targets.rate_rps:g} needs more clients (-c)")


def _latency_note(base: Scenario, targets: Targets, costs: Costs) -> str | None:
    # ab is a closed loop: its C clients are always waiting, so by Little's law the mean
    # latency is C / RPS, and p99 >= mean. A latency target is a throughput target.
    need = base.concurrency / (targets.p99_ms / 1e3)
    floor = bounds_point(replace(base, workers=1), costs).demand_ms
    if floor > targets.p99_ms:
        return (f"one request alone takes at least {floor:.0f} ms (the handler waits "
                f"{base.sleep_s:g} s): no configuration can keep p99 within {targets.p99_ms:g} ms")
    if need <= targets.rate_rps:
        return None
    return (f"ab's {_clients(base.concurrency)} always wait, so mean latency = C / RPS (Little's "
            f"law): p99 <= {targets.p99_ms:g} ms needs more than {need:.0f} requests/s, "
            f"above the {targets.rate_rps:g} asked for")
