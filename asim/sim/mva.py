"""Exact Mean Value Analysis of a single-class closed queueing network.

A `Network` is a set of stations visited once per request by ``clients`` customers who think
for ``think_time_s`` between requests (ab: zero). Stations are of three kinds:

- delay (infinite server): every customer is served at once, ``R_k = D_k``;
- queue (one server, load independent): ``R_k(n) = D_k (1 + Q_k(n-1))``;
- load dependent: with ``j`` customers present the station works ``alpha(j)`` times faster than
  one server; ``alpha(j) = min(j, m)`` is ``m`` identical servers, and a flow-equivalent server
  uses the throughput of an inner network (`flow_equivalent_station`).

Load-dependent stations use the Reiser–Lavenberg recursion on the marginal probabilities
``p_k(j | n)``, written so that it never subtracts (see `solve_mva`): the textbook form gets
``p_k(0 | n)`` as ``1 - sum_j p_k(j | n)``, which cancels catastrophically once the station
saturates and turns negative within a few hundred customers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from asim.errors import InputError

DELAY = "delay"
QUEUE = "queue"
LOAD_DEPENDENT = "load-dependent"
STATION_KINDS: tuple[str, ...] = (DELAY, QUEUE, LOAD_DEPENDENT)

MAX_CLIENTS = 1_000_000
# A rate multiplier may exceed j * alpha(1) by float noise only (flow-equivalent rates come from
# an MVA solution); a real super-linear speed-up would break the bounds R(n) >= D.
_SPEEDUP_SLACK = 1e-9


@dataclass(frozen=True, kw_only=True)
class Station:
    """One service centre: its name, its service demand per request, and how it serves.

    ``demand_s`` is the total service time one request needs here (visits × service time) when
    the station works at rate 1. ``rates`` are ``alpha(1), alpha(2), ...``; beyond the last one
    the rate stays at the last value. A queue has ``rates == (1.0,)``; a delay station ignores it.
    Build stations with `delay`, `queue`, `multi_server` or `load_dependent`.
    """

    name: str
    demand_s: float
    kind: str = QUEUE
    rates: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if not self.name:
            raise InputError("a station needs a non-empty name")
        if self.kind not in STATION_KINDS:
            raise InputError(
                f"station {self.name!r}: kind must be one of {', '.join(STATION_KINDS)}, "
                f"got {self.kind!r}"
            )
        number = isinstance(self.demand_s, int | float) and not isinstance(self.demand_s, bool)
        if not (number and self.demand_s >= 0 and math.isfinite(self.demand_s)):
            raise InputError(
                f"station {self.name!r}: demand_s must be a finite number >= 0, got {self.demand_s}"
            )
        object.__setattr__(self, "demand_s", float(self.demand_s))  # numpy scalars become floats
        if not self.rates:
            raise InputError(f"station {self.name!r}: rates needs at least alpha(1)")
        for j, a in enumerate(self.rates, start=1):
            if not (a > 0 and math.isfinite(a)):
                raise InputError(
                    f"station {self.name!r}: rate alpha({j}) must be finite and > 0, got {a}"
                )
            if a > j * self.rates[0] * (1 + _SPEEDUP_SLACK):
                raise InputError(
                    f"station {self.name!r}: alpha({j}) = {a:g} exceeds {j} × alpha(1) = "
                    f"{j * self.rates[0]:g}; a station cannot serve faster than j servers"
                )

    @classmethod
    def delay(cls, name: str, demand_s: float) -> Station:
        """An infinite-server station: a pure wait of ``demand_s`` per request."""
        return cls(name=name, demand_s=demand_s, kind=DELAY)

    @classmethod
    def queue(cls, name: str, demand_s: float) -> Station:
        """One server with a queue in front (FCFS or processor sharing)."""
        return cls(name=name, demand_s=demand_s, kind=QUEUE)

    @classmethod
    def multi_server(cls, name: str, demand_s: float, servers: int) -> Station:
        """``servers`` identical servers sharing one queue: ``alpha(j) = min(j, servers)``."""
        if not (isinstance(servers, int) and servers >= 1):
            raise InputError(f"station {name!r}: servers must be an integer >= 1, got {servers!r}")
        if servers == 1:
            return cls.queue(name, demand_s)
        return cls(
            name=name,
            demand_s=demand_s,
            kind=LOAD_DEPENDENT,
            rates=tuple(float(j) for j in range(1, servers + 1)),
        )

    @classmethod
    def load_dependent(cls, name: str, demand_s: float, rates: Sequence[float]) -> Station:
        """A station whose rate with ``j`` customers is ``rates[min(j, len(rates)) - 1]``."""
        rates = tuple(float(a) for a in rates)
        if len(rates) > 1 and all(a == rates[0] for a in rates):
            rates = rates[:1]
        return cls(name=name, demand_s=demand_s, kind=LOAD_DEPENDENT, rates=rates)

    @property
    def is_delay(self) -> bool:
        return self.kind == DELAY

    @property
    def first_visit_s(self) -> float:
        """Time one request spends here when it is alone: ``D / alpha(1)``."""
        return self.demand_s if self.is_delay else self.demand_s / self.rates[0]

    @property
    def capacity_demand_s(self) -> float:
        """Demand per unit of the station's top rate, ``D / max alpha``; 0 for a delay station.

        ``1 / capacity_demand_s`` is the most requests per second the station can complete.
        """
        return 0.0 if self.is_delay else self.demand_s / max(self.rates)

    def rate(self, jobs: int) -> float:
        """``alpha(jobs)`` for ``jobs >= 1``."""
        return self.rates[min(jobs, len(self.rates)) - 1]


@dataclass(frozen=True, kw_only=True)
class Network:
    """Stations visited once per request, plus the clients' think time between requests."""

    stations: tuple[Station, ...]
    think_time_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.stations:
            raise InputError("a network needs at least one station")
        names = [s.name for s in self.stations]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputError(f"station names must be unique; repeated: {', '.join(dupes)}")
        if not (self.think_time_s >= 0 and math.isfinite(self.think_time_s)):
            raise InputError(f"think_time_s must be a finite number >= 0, got {self.think_time_s}")
        if self.think_time_s + sum(s.demand_s for s in self.stations) <= 0:
            raise InputError("a network needs some positive demand or think time")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stations)

    def station(self, name: str) -> Station:
        for s in self.stations:
            if s.name == name:
                return s
        raise InputError(f"no station {name!r}; stations are {', '.join(self.names)}")


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, kw_only=True)
class MvaResult:
    """MVA's answer for every population ``n = 0..clients`` (index ``n``; row 0 is empty).

    ``throughput_rps[n]`` is X(n); ``response_time_s[n]`` the time a request spends at the
    stations, R(n) = n / X(n) − Z; ``station_*[k, n]`` the per-station residence time, mean
    number present (Q) and utilisation (X·D / max alpha: busy fraction of the station's capacity;
    for a delay station X·D, the mean number in service).
    """

    network: Network
    clients: int
    throughput_rps: np.ndarray = field(repr=False)
    response_time_s: np.ndarray = field(repr=False)
    station_response_s: np.ndarray = field(repr=False)
    station_queue: np.ndarray = field(repr=False)
    station_utilisation: np.ndarray = field(repr=False)

    def index(self, name: str) -> int:
        """Row of station ``name`` in the ``station_*`` arrays."""
        try:
            return self.network.names.index(name)
        except ValueError:
            raise InputError(
                f"no station {name!r}; stations are {', '.join(self.network.names)}"
            ) from None

    def bottleneck(self, clients: int | None = None) -> str:
        """The station with the highest utilisation at ``clients`` (default: all of them)."""
        n = self.clients if clients is None else clients
        queueing = [k for k, s in enumerate(self.network.stations) if not s.is_delay]
        if not queueing:
            return self.network.stations[0].name
        k = max(queueing, key=lambda i: self.station_utilisation[i, n])
        return self.network.stations[k].name


def _check_clients(clients: int) -> None:
    if not (isinstance(clients, int | np.integer) and 1 <= clients <= MAX_CLIENTS):
        raise InputError(f"clients must be an integer in 1..{MAX_CLIENTS}, got {clients!r}")


def solve_mva(network: Network, clients: int) -> MvaResult:
    """Exact MVA for populations 1..clients.

    For a load-dependent station ``k`` with rates saturating at ``alpha(L)``, the residence time
    is written without differences of probabilities:

        R_k(n) = D/alpha(L) · (1 + Q_k(n-1)) + sum_{j<L} j·D·(1/alpha(j) − 1/alpha(L))·p_k(j-1|n-1)

    (exact; with ``alpha`` non-decreasing every term is non-negative), so only ``p_k(j | n)`` for
    ``j < L - 1`` are needed. They follow ``p_k(j|n) = D·X(n)/alpha(j) · p_k(j-1|n-1)`` and
    ``p_k(0|n) = p_k(0|n-1) · X(n) / X_{-k}(n)`` with ``X_{-k}`` the throughput of the network
    without station ``k`` (G_{-k}(n)/G(n) written as a product of throughput ratios). Every step is
    a product of non-negative numbers, so nothing cancels and nothing turns negative. The cost is
    one extra solution per load-dependent station (nested for several such stations).
    """
    _check_clients(clients)
    n_max = int(clients)
    x, r, rk, qk = _solve(network.stations, network.think_time_s, n_max, {})
    demand = np.array([s.demand_s for s in network.stations])
    top_rate = np.array([1.0 if s.is_delay else max(s.rates) for s in network.stations])
    uk = np.outer(demand / top_rate, x)
    return MvaResult(
        network=network,
        clients=n_max,
        throughput_rps=_frozen(x),
        response_time_s=_frozen(r),
        station_response_s=_frozen(rk),
        station_queue=_frozen(qk),
        station_utilisation=_frozen(uk),
    )


def _throughput_only(
    stations: tuple[Station, ...], think_s: float, n_max: int, memo: dict
) -> np.ndarray:
    key = tuple(id(s) for s in stations)
    if key not in memo:
        if think_s + sum(s.demand_s for s in stations) <= 0:
            x = np.full(n_max + 1, np.inf)
            x[0] = 0.0
        else:
            x = _solve(stations, think_s, n_max, memo)[0]
        memo[key] = x
    return memo[key]


def _solve(
    stations: tuple[Station, ...], think_s: float, n_max: int, memo: dict
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    count = len(stations)
    x = np.zeros(n_max + 1)
    r = np.zeros(n_max + 1)
    rk = np.zeros((count, n_max + 1))
    qk = np.zeros((count, n_max + 1))

    # Per load-dependent station: log p(0..P-1 | n-1), the residence-time weights, the logs of
    # the p-update factors D/alpha(j), and the complement network's throughput. Logs, because
    # p(j | n) is a product of up to j factors D·X/alpha that can be far above one, applied to a
    # p(0 | n - j) far below the smallest double (a busy 1000-server station has p(0) ~ 1e-400).
    ld: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    for k, s in enumerate(stations):
        if s.is_delay or len(s.rates) == 1:
            continue
        top = s.rates[-1]
        size = min(len(s.rates) - 1, n_max)
        j = np.arange(1, size + 1, dtype=float)
        alpha = np.array(s.rates[:size])
        weights = j * s.demand_s * (1.0 / alpha - 1.0 / top)
        with np.errstate(divide="ignore"):
            log_step = np.log(s.demand_s / alpha)
        log_p = np.full(size, -np.inf)
        log_p[0] = 0.0
        others = stations[:k] + stations[k + 1 :]
        x_without = _throughput_only(others, think_s, n_max, memo)
        ld[k] = (log_p, weights, log_step, x_without)

    q_prev = np.zeros(count)
    res = np.zeros(count)
    for n in range(1, n_max + 1):
        for k, s in enumerate(stations):
            if s.is_delay:
                res[k] = s.demand_s
            elif k in ld:
                log_p, weights, _, _ = ld[k]
                res[k] = s.demand_s / s.rates[-1] * (1.0 + q_prev[k]) + float(
                    weights @ np.exp(log_p)
                )
            else:
                res[k] = s.demand_s / s.rates[0] * (1.0 + q_prev[k])
        total = float(res.sum())
        xn = n / (think_s + total)
        x[n] = xn
        r[n] = total
        rk[:, n] = res
        q_prev = xn * res
        qk[:, n] = q_prev
        log_x = math.log(xn)
        for log_p, _, log_step, x_without in ld.values():
            if math.isfinite(x_without[n]):
                log_p0 = log_p[0] + log_x - math.log(x_without[n])
            else:
                log_p0 = -math.inf  # nothing else can hold a customer: the station never empties
            log_p[1:] = log_step[:-1] + log_x + log_p[:-1]  # the right side is copied first
            log_p[0] = log_p0
    return x, r, rk, qk


def flow_equivalent_station(name: str, inner: Network, max_jobs: int) -> Station:
    """A load-dependent station that behaves like ``inner`` holding up to ``max_jobs`` requests.

    Solves ``inner`` (closed, no think time) for n = 1..max_jobs and returns the station whose
    rate with ``j`` requests present is ``X_inner(min(j, max_jobs))``: a request that finds all
    ``max_jobs`` places taken waits in the station's queue. This is exact for product-form
    networks (Chandy–Herzog–Woo) and the usual approximation otherwise.
    """
    if inner.think_time_s != 0:
        raise InputError("the inner network of a flow-equivalent station must have no think time")
    _check_clients(max_jobs)
    x = solve_mva(inner, int(max_jobs)).throughput_rps[1:]
    # Throughput grows with population in exact arithmetic; keep float noise from breaking that.
    x = np.maximum.accumulate(x)
    return Station.load_dependent(name, 1.0 / float(x[0]), (x / x[0]).tolist())
