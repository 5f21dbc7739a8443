"""Closed forms next to MVA: asymptotic bounds and the deterministic lockstep of W workers.

Asymptotic bounds hold for any closed network in steady state whatever the service-time
distributions (operational laws only):

    X(N) <= min( N / (D + Z), 1 / D_max )        R(N) >= max( D, N · D_max − Z )

with ``D`` the time one request spends at the stations when alone (``sum D_k / alpha_k(1)``)
and ``D_max`` the largest demand per unit of capacity (``D_k / m_k`` for ``m_k`` servers). The
two throughput lines cross at the knee ``N* = (D + Z) / D_max``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from asim.errors import InputError
from asim.sim.mva import Network


@dataclass(frozen=True, kw_only=True)
class AsymptoticBounds:
    """The two lines that bound X(N) and R(N) of one network."""

    demand_s: float
    think_time_s: float
    bottleneck_demand_s: float
    bottleneck: str | None

    @property
    def max_throughput_rps(self) -> float:
        """``1 / D_max``: the bottleneck's capacity (infinite with delay stations only)."""
        return math.inf if self.bottleneck_demand_s == 0 else 1.0 / self.bottleneck_demand_s

    @property
    def knee_clients(self) -> float:
        """``N* = (D + Z) / D_max``, where the light-load and heavy-load lines cross."""
        if self.bottleneck_demand_s == 0:
            return math.inf
        return (self.demand_s + self.think_time_s) / self.bottleneck_demand_s

    def throughput_upper_rps(self, clients: float) -> float:
        """Upper bound on X(N)."""
        _check_positive(clients)
        light = clients / (self.demand_s + self.think_time_s)
        return min(light, self.max_throughput_rps)

    def response_time_lower_s(self, clients: float) -> float:
        """Lower bound on R(N) (time at the stations, think time excluded)."""
        _check_positive(clients)
        return max(self.demand_s, clients * self.bottleneck_demand_s - self.think_time_s)


def _check_positive(clients: float) -> None:
    if not clients >= 1:
        raise InputError(f"clients must be >= 1, got {clients}")


def asymptotic_bounds(network: Network) -> AsymptoticBounds:
    """The asymptotic bounds of ``network``; multi-server stations count as ``D_k / m_k``."""
    queueing = [s for s in network.stations if not s.is_delay and s.demand_s > 0]
    if queueing:
        top = max(queueing, key=lambda s: s.capacity_demand_s)
        bottleneck, d_max = top.name, top.capacity_demand_s
    else:
        bottleneck, d_max = None, 0.0
    return AsymptoticBounds(
        demand_s=sum(s.first_visit_s for s in network.stations),
        think_time_s=network.think_time_s,
        bottleneck_demand_s=d_max,
        bottleneck=bottleneck,
    )


@dataclass(frozen=True, kw_only=True)
class Lockstep:
    """Steady state of N clients, W workers and a deterministic service time T, FIFO, Z = 0.

    Requests move in waves of W: with N = q·W + r (0 <= r < W) a fraction r/W of the responses
    take ⌈N/W⌉·T and the rest ⌊N/W⌋·T, so the mean is N·T/W and the throughput W/T. With
    N <= W nobody waits: every response takes T and the throughput is N/T.
    """

    clients: int
    workers: int
    service_s: float

    def __post_init__(self) -> None:
        if not (isinstance(self.clients, int) and self.clients >= 1):
            raise InputError(f"clients must be an integer >= 1, got {self.clients!r}")
        if not (isinstance(self.workers, int) and self.workers >= 1):
            raise InputError(f"workers must be an integer >= 1, got {self.workers!r}")
        if not (self.service_s > 0 and math.isfinite(self.service_s)):
            raise InputError(f"service_s must be a finite number > 0, got {self.service_s}")

    @property
    def short_response_s(self) -> float:
        """⌊N/W⌋·T (T when N < W)."""
        return max(1, self.clients // self.workers) * self.service_s

    @property
    def long_response_s(self) -> float:
        """⌈N/W⌉·T."""
        return -(-self.clients // self.workers) * self.service_s

    @property
    def long_fraction(self) -> float:
        """Share of responses that take ``long_response_s`` (``r / W``; 0 when N <= W)."""
        if self.clients <= self.workers:
            return 0.0
        return (self.clients % self.workers) / self.workers

    @property
    def mean_response_s(self) -> float:
        """N·T/W when N >= W, T otherwise (the response-time law R = N / X)."""
        return self.clients / self.throughput_rps

    @property
    def throughput_rps(self) -> float:
        """min(N, W) / T."""
        return min(self.clients, self.workers) / self.service_s

    def quantile_s(self, q: float) -> float:
        """The response time below which a fraction ``q`` of responses fall (a step function)."""
        if not 0 <= q <= 1:
            raise InputError(f"a quantile must be in [0, 1], got {q}")
        return self.short_response_s if q < 1 - self.long_fraction else self.long_response_s


def lockstep(*, clients: int, workers: int, service_s: float) -> Lockstep:
    """The deterministic lockstep of ``workers`` workers under ``clients`` closed-loop clients."""
    return Lockstep(clients=clients, workers=workers, service_s=service_s)
