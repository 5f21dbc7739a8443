"""What the calibration fit moves: the fitted parameters (`KNOBS`), how their values go into
`Costs`, and what the model says for one calibration run (`model_outcome`).

Why these parameters are fitted and the others fixed is in `asim.calibration.fit`'s docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from asim.lab.measure import CpuRun
from asim.sim.costs import Costs
from asim.sim.model import simulate
from asim.sim.spec import Scenario

AIOHTTP, DJANGO = "aiohttp", "django"  # the shapes whose runs calibration measures

# Shares of the warm per-request CPU by step (thread-CPU split, docs/notes/measurements.md).
LOOP_SHARES = {"accept": 0.33, "request": 0.40, "response": 0.19, "close": 0.08}
WORKER_SHARES = {"request": 0.69, "response": 0.25, "close": 0.06}
AB_SHARES = {"connect": 0.35, "write": 0.15, "read": 0.25, "close": 0.25}


@dataclass(frozen=True, kw_only=True)
class Knob:
    """One fitted parameter as the optimiser sees it: in units of ``unit`` (1e-6: microseconds,
    1e-3: milliseconds, 1e-2: percent), bounded by ``lo`` and ``hi`` in those units, so that
    typical values lie between 1 and 1000 and a relative finite-difference step suits them all;
    ``servers`` lists the server kinds whose runs depend on it (None: all)."""

    name: str
    unit: float
    lo: float
    hi: float
    servers: frozenset[str] | None = None
    needs: str = ""  # a run without which the knob is not identified (then fixed as measured)


_LOOP, _WORKER = frozenset({AIOHTTP}), frozenset({DJANGO})
KNOBS: tuple[Knob, ...] = (
    Knob(name="ab_cpu_s", unit=1e-6, lo=1.0, hi=2000.0),  # ab's steps, split by AB_SHARES
    Knob(name="ab_poll_cpu_s", unit=1e-6, lo=0.0, hi=500.0),
    Knob(name="loop_cpu_s", unit=1e-6, lo=1.0, hi=5000.0, servers=_LOOP),  # steps, LOOP_SHARES
    Knob(name="loop_iteration_cpu_s", unit=1e-6, lo=0.0, hi=500.0, servers=_LOOP),
    Knob(name="loop_cold_cpu_s", unit=1e-6, lo=0.0, hi=5000.0, servers=_LOOP),
    Knob(name="worker_cpu_s", unit=1e-6, lo=1.0, hi=5000.0, servers=_WORKER),  # WORKER_SHARES
    Knob(name="worker_herd_cpu_s", unit=1e-6, lo=0.0, hi=2000.0, servers=_WORKER),
    Knob(name="worker_cold_cpu_s", unit=1e-6, lo=0.0, hi=5000.0, servers=_WORKER),
    Knob(name="cold_tau_s", unit=1e-3, lo=0.2, hi=100.0),
    Knob(name="switch_loss", unit=1e-2, lo=0.0, hi=60.0),
    Knob(name="wakeup_s", unit=1e-6, lo=0.0, hi=500.0),
    # A 1 ms sleep makes the overshoot ~10 % of the cycle; at 5-50 ms it is lost in the sleep.
    Knob(name="timer_overshoot_s", unit=1e-6, lo=0.0, hi=2000.0, servers=_LOOP,
         needs="aiohttp 1 ms"),
    Knob(name="time_sleep_overshoot_s", unit=1e-6, lo=0.0, hi=2000.0, servers=_WORKER,
         needs="django 1 ms"),
)
FIXED = ("ab_cold_cpu_s", "loop_callback_cpu_s", "worker_boot_s")


def _split(actor: str, cpu_s: float, shares: dict[str, float]) -> dict[str, float]:
    """``cpu_s`` per request split into ``{actor}_{step}_cpu_s`` costs by ``shares``."""
    return {f"{actor}_{step}_cpu_s": cpu_s * share for step, share in shares.items()}


def apply(base: Costs, values: dict[str, float]) -> Costs:
    """``base`` with the knobs' values (in seconds or fractions) put in."""
    fields: dict[str, float] = {}
    for name, value in values.items():
        if name == "ab_cpu_s":
            fields.update(_split("ab", value, AB_SHARES))
        elif name == "loop_cpu_s":
            fields.update(_split("loop", value, LOOP_SHARES))
        elif name == "worker_cpu_s":
            fields.update(_split("worker", value, WORKER_SHARES))
        else:
            fields[name] = value
    return replace(base, **fields)


def knob_values(costs: Costs) -> dict[str, float]:
    """The knobs' values in ``costs`` (the inverse of `apply` for costs split by the shares)."""
    sums = {
        "ab_cpu_s": sum(getattr(costs, f"ab_{s}_cpu_s") for s in AB_SHARES),
        "loop_cpu_s": sum(getattr(costs, f"loop_{s}_cpu_s") for s in LOOP_SHARES),
        "worker_cpu_s": sum(getattr(costs, f"worker_{s}_cpu_s") for s in WORKER_SHARES),
    }
    return {k.name: sums.get(k.name, getattr(costs, k.name, 0.0)) for k in KNOBS}


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What the model says for one calibration run."""

    requests_per_second: float
    server_cpu_s: float
    ab_cpu_s: float


def scenario(run: CpuRun, max_requests: int | None = None) -> Scenario:
    n = run.requests if max_requests is None else min(run.requests, max_requests)
    return Scenario(server=run.server, sleep_s=run.sleep_s, concurrency=run.concurrency,
                    requests=max(n, run.concurrency), workers=run.workers)


def model_outcome(run: CpuRun, costs: Costs, max_requests: int | None = None) -> Outcome:
    """The model's RPS and CPU per request of both sides for ``run`` (all its requests unless
    ``max_requests``)."""
    sim = simulate(scenario(run, max_requests), costs=costs, keep_records=False)
    return Outcome(requests_per_second=sim.report.requests_per_second,
                   server_cpu_s=sim.server_cpu_s, ab_cpu_s=sim.ab_cpu_s)
