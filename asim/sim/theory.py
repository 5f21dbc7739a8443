"""asim's scenarios as closed queueing networks, solved by MVA or bounded by operational laws.

ab is a closed loop: ``-c N`` slots, each sending its next request the moment the previous one
finishes, so the clients are N customers with zero think time. What a request visits:

- ``aiohttp``: the event loop's CPU (one thread: one server) and ab's CPU (one thread: one
  server), then a pure wait, ``asyncio.sleep`` plus its overshoot and the loopback hops. With one
  core the loop and ab share it, so their CPU becomes one station.
- ``aiohttp-blocking``: ``time.sleep`` holds the loop, so the loop is one server whose demand is
  the sleep plus its CPU.
- ``django`` with W sync workers: a worker is held for its CPU, the sleep and the close, so the
  workers are W servers (``alpha(j) = min(j, W)``). With fewer cores K than workers the CPU part is
  shared: the workers become a flow-equivalent server built from an inner network (K cores, the
  sleep as a delay) solved for 1..W requests.

Every answer is steady state: ab's finite run (its first request alone, a partial last wave) is
the simulator's business; see docs/theory.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from asim.errors import InputError
from asim.sim.bounds import Lockstep, asymptotic_bounds, lockstep
from asim.sim.costs import Costs
from asim.sim.mva import Network, solve_mva
from asim.sim.networks import worker_hold_s
from asim.sim.shapes import WORKERS, shape
from asim.sim.spec import Scenario
from asim.sim.usage import STATION_RESOURCES

MVA = "mva"
BOUNDS = "bounds"
METHODS: tuple[str, ...] = (MVA, BOUNDS)


def scenario_network(scenario: Scenario, costs: Costs) -> Network:
    """The closed network one request of ``scenario`` travels through (think time 0)."""
    network = shape(scenario.server).network
    if network is None:
        raise InputError(f"no queueing model (MVA, bounds) for server {scenario.server!r}")
    return network(scenario, costs)


def workers_lockstep(scenario: Scenario, costs: Costs) -> Lockstep:
    """The deterministic lockstep of a ``django`` scenario: W workers, T = `worker_hold_s`.

    It ignores ab's own CPU and any wait for a core; use it for the shape of the percentiles
    (steps at ⌊N/W⌋·T and ⌈N/W⌉·T), MVA for the means.
    """
    if WORKERS not in shape(scenario.server).options:
        raise InputError(f"lockstep needs worker processes; {scenario.server!r} has none")
    return lockstep(
        clients=scenario.concurrency,
        workers=scenario.workers,
        service_s=worker_hold_s(scenario, costs),
    )


@dataclass(frozen=True, kw_only=True)
class TheoryPoint:
    """MVA's steady state for one scenario at ``clients = concurrency``.

    ``response_time_ms`` is R = N / X (think time 0): the mean of ab's Total column in steady
    state. ``station_utilisation`` is each station's busy share of its capacity (for a delay
    station: mean requests in it); ``station_queue_jobs`` the mean requests present.
    """

    clients: int
    throughput_rps: float
    response_time_ms: float
    bottleneck: str
    bottleneck_utilisation: float
    station_utilisation: Mapping[str, float]
    station_queue_jobs: Mapping[str, float]


@dataclass(frozen=True, kw_only=True)
class BoundsPoint:
    """Asymptotic bounds for one scenario at ``clients = concurrency``.

    ``demand_ms`` is D (one request alone), ``bottleneck_demand_ms`` is max D_k/m_k and
    ``knee_clients`` N* = D / D_max (infinite when nothing queues).
    """

    clients: int
    throughput_upper_rps: float
    response_time_lower_ms: float
    knee_clients: float
    demand_ms: float
    bottleneck_demand_ms: float
    bottleneck: str | None
    max_throughput_rps: float


@dataclass(frozen=True, kw_only=True)
class AbTerms:
    """A theory's answer in the words ab prints.

    ``requests_per_second`` = X, ``time_per_request_ms`` = N / X · 1000 (the response-time law
    with Z = 0), ``time_per_request_all_ms`` = 1000 / X, ``time_taken_s`` = requests / X (steady
    state: ab's own run is longer by its start and drain). With ``is_bound`` the figures are
    limits: RPS at most, both times per request and the time taken at least.

    ``bottleneck`` is the busiest station in the simulation's words (`asim.sim.usage`), None
    where the station has no such name; ``bottleneck_utilisation`` its busy share (MVA), or for
    the bounds the most it can be at the bound's throughput.
    """

    method: str
    concurrency: int
    complete_requests: int
    requests_per_second: float
    time_per_request_ms: float
    time_per_request_all_ms: float
    time_taken_s: float
    is_bound: bool
    bottleneck: str | None = None
    bottleneck_utilisation: float | None = None


def mva_point(scenario: Scenario, costs: Costs) -> TheoryPoint:
    """Exact MVA of ``scenario``'s network at N = concurrency."""
    network = scenario_network(scenario, costs)
    result = solve_mva(network, scenario.concurrency)
    n = scenario.concurrency
    names = network.names
    x = float(result.throughput_rps[n])
    bottleneck = result.bottleneck()
    return TheoryPoint(
        clients=n,
        throughput_rps=x,
        response_time_ms=float(result.response_time_s[n]) * 1000.0,
        bottleneck=bottleneck,
        bottleneck_utilisation=float(result.station_utilisation[result.index(bottleneck), n]),
        station_utilisation=MappingProxyType(
            {name: float(result.station_utilisation[k, n]) for k, name in enumerate(names)}
        ),
        station_queue_jobs=MappingProxyType(
            {name: float(result.station_queue[k, n]) for k, name in enumerate(names)}
        ),
    )


def bounds_point(scenario: Scenario, costs: Costs) -> BoundsPoint:
    """Asymptotic bounds of ``scenario``'s network at N = concurrency."""
    b = asymptotic_bounds(scenario_network(scenario, costs))
    n = scenario.concurrency
    return BoundsPoint(
        clients=n,
        throughput_upper_rps=b.throughput_upper_rps(n),
        response_time_lower_ms=b.response_time_lower_s(n) * 1000.0,
        knee_clients=b.knee_clients,
        demand_ms=b.demand_s * 1000.0,
        bottleneck_demand_ms=b.bottleneck_demand_s * 1000.0,
        bottleneck=b.bottleneck,
        max_throughput_rps=b.max_throughput_rps,
    )


def ab_terms(scenario: Scenario, costs: Costs, *, method: str = MVA) -> AbTerms:
    """What ab would print by ``method`` ("mva" or "bounds") for ``scenario``."""
    if method == MVA:
        point = mva_point(scenario, costs)
        x = point.throughput_rps
        station, busy = point.bottleneck, point.bottleneck_utilisation
    elif method == BOUNDS:
        b = bounds_point(scenario, costs)
        x = b.throughput_upper_rps
        station, busy = b.bottleneck, x * b.bottleneck_demand_ms / 1000.0
    else:
        raise InputError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if not (x > 0 and math.isfinite(x)):
        raise InputError(f"{scenario.label()}: {method} gives no finite throughput ({x})")
    n = scenario.concurrency
    resource = STATION_RESOURCES.get(station) if station is not None else None
    return AbTerms(
        method=method,
        concurrency=n,
        complete_requests=scenario.requests,
        requests_per_second=x,
        time_per_request_ms=n / x * 1000.0,
        time_per_request_all_ms=1000.0 / x,
        time_taken_s=scenario.requests / x,
        is_bound=method == BOUNDS,
        bottleneck=resource,
        bottleneck_utilisation=None if resource is None else min(1.0, max(0.0, busy)),
    )


@dataclass(frozen=True, kw_only=True)
class TheoryCurve:
    """MVA and the bounds over clients 1..max_clients for one scenario's network (for plots)."""

    clients: tuple[int, ...]
    throughput_rps: tuple[float, ...]
    response_time_ms: tuple[float, ...]
    throughput_upper_rps: tuple[float, ...]
    response_time_lower_ms: tuple[float, ...]
    knee_clients: float


def theory_curve(scenario: Scenario, costs: Costs, *, max_clients: int) -> TheoryCurve:
    """X(N), R(N) and their bounds for N = 1..max_clients (the scenario's own N is ignored)."""
    network = scenario_network(scenario, costs)
    result = solve_mva(network, max_clients)
    b = asymptotic_bounds(network)
    ns = tuple(range(1, max_clients + 1))
    return TheoryCurve(
        clients=ns,
        throughput_rps=tuple(float(v) for v in result.throughput_rps[1:]),
        response_time_ms=tuple(float(v) * 1000.0 for v in result.response_time_s[1:]),
        throughput_upper_rps=tuple(b.throughput_upper_rps(n) for n in ns),
        response_time_lower_ms=tuple(b.response_time_lower_s(n) * 1000.0 for n in ns),
        knee_clients=b.knee_clients,
    )
