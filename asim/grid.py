"""Grids of scenarios and the records `asim predict` prints (the Python API's result type)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product

from asim.errors import InputError
from asim.sim.costs import Costs
from asim.sim.model import Jitter
from asim.sim.model import predict as simulate_report
from asim.sim.report import AbReport
from asim.sim.spec import DJANGO, SERVER_KINDS, Scenario, machine_cores

METHODS: tuple[str, ...] = ("des",)


@dataclass(frozen=True, kw_only=True)
class Point:
    """One predicted (or observed) grid point: the scenario and what ab prints for it."""

    scenario: Scenario
    report: AbReport
    method: str = "des"

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
        record.update(self.report.to_dict())
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
    costs: Costs | None = None,
    jitter: Jitter | None = None,
    seed: int | None = None,
) -> list[Point]:
    """Predict what ab prints for one scenario or many: one `Point` each, in order."""
    items = [scenario] if isinstance(scenario, Scenario) else list(scenario)
    return [
        Point(scenario=s, report=simulate_report(s, costs=costs, jitter=jitter, seed=seed))
        for s in items
    ]
