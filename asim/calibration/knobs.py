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
    ``servers`` lists the server kinds whose runs depend on it (None: all).

    ``prior`` (seconds or a fraction) marks a parameter the runs identify only weakly: the fit
    holds it near that value, from traces or pooled over recorded calibrations (``source``
    says which), as tightly as the runs allow (`asim.calibration.fit`); None: the runs identify
    it and it is fitted freely."""

    name: str
    unit: float
    lo: float
    hi: float
    servers: frozenset[str] | None = None
    needs: str = ""  # a run without which the knob is not identified (then fixed as measured)
    prior: float | None = None
    source: str = ""


# "Pooled": the median of the joint fit over the 19 calibration files recorded in figures/
# (calibration-check 1-3, noise-floor 9, holdout 1-5, task10, shapes), each fitted with every
# knob free (docs/notes/measurements.md, "Which parameters the runs identify"). The standard
# errors quoted are the medians over those files of `check.uncertainty_pct`.
_POOLED = "median of the 19 recorded calibrations' free fits"
_LOOP, _WORKER = frozenset({AIOHTTP}), frozenset({DJANGO})
KNOBS: tuple[Knob, ...] = (
    # Identified (standard error 4-21 %): fitted freely.
    Knob(name="ab_cpu_s", unit=1e-6, lo=1.0, hi=2000.0),  # ab's steps, split by AB_SHARES
    Knob(name="loop_cpu_s", unit=1e-6, lo=1.0, hi=5000.0, servers=_LOOP),  # steps, LOOP_SHARES
    Knob(name="loop_iteration_cpu_s", unit=1e-6, lo=0.0, hi=500.0, servers=_LOOP),
    Knob(name="loop_cold_cpu_s", unit=1e-6, lo=0.0, hi=5000.0, servers=_LOOP),
    Knob(name="worker_cpu_s", unit=1e-6, lo=1.0, hi=5000.0, servers=_WORKER),  # WORKER_SHARES
    Knob(name="worker_cold_cpu_s", unit=1e-6, lo=0.0, hi=5000.0, servers=_WORKER),
    # The idle time before the cold extras start to grow: the 1 and 5 ms runs pin it against
    # the 50 ms runs (docs/notes/measurements.md section 44: 3.9-4.4 ms in three calibrations).
    Knob(name="cold_onset_s", unit=1e-3, lo=0.0, hi=20.0),
    # Weakly identified (standard error 45-144 %): held near a prior.
    Knob(name="ab_poll_cpu_s", unit=1e-6, lo=0.0, hi=500.0, prior=33e-6,
         source=f"{_POOLED} (33 us; standard error 60 %)"),
    Knob(name="worker_herd_cpu_s", unit=1e-6, lo=0.0, hi=2000.0, servers=_WORKER, prior=39e-6,
         source=f"{_POOLED} (39 us; standard error 90 %)"),
    # The time constant of the cold extras' growth with the idle gap: only the 1 and 5 ms runs
    # depend on it, and there it trades with the overshoots and the cold extras.
    Knob(name="cold_tau_s", unit=1e-3, lo=0.2, hi=100.0, prior=9.2e-3,
         source=f"{_POOLED} (9.2 ms; standard error 45 %)"),
    Knob(name="switch_loss", unit=1e-2, lo=0.0, hi=60.0, prior=0.11,
         source=f"{_POOLED} (11 %; standard error 79 %)"),
    # A C = 1 cycle is CPU plus two wake-ups, and the CPU is known to ~10 %: the wake-up is the
    # small remainder. Section 10's ping-pong measured 14-48 us round trips between threads on
    # two cores idle 0.1-0.3 ms, which brackets the pooled value.
    Knob(name="wakeup_s", unit=1e-6, lo=0.0, hi=500.0, prior=18e-6,
         source=f"{_POOLED} (18 us; standard error 76 %), within measurements.md section 10's "
                "ping-pong"),
    # A 1 ms sleep makes the overshoot ~10 % of the cycle; at 5-50 ms it is lost in the sleep.
    # The in-process measurement (`asim.lab.measure`, 10 ms sleeps) overshoots more than a 1 ms
    # sleep does (measurements.md section 4: asyncio 120 us at 1 ms, 281 us at 10 ms), so the
    # prior is pooled over the six files that hold the 1 ms runs.
    Knob(name="timer_overshoot_s", unit=1e-6, lo=0.0, hi=2000.0, servers=_LOOP,
         needs="aiohttp 1 ms", prior=103e-6,
         source="median of the six 1 ms-run calibrations' free fits (103 us; standard error "
                "104 %)"),
    Knob(name="time_sleep_overshoot_s", unit=1e-6, lo=0.0, hi=2000.0, servers=_WORKER,
         needs="django 1 ms", prior=75e-6,
         source="median of the six 1 ms-run calibrations' free fits (75 us; standard error "
                "144 %)"),
)
# Never fitted, by name: where the value comes from (asim.calibration.fit's docstring says why).
FIXED = {
    "ab_cold_cpu_s": "ab's measured CPU per request, cold runs minus warm runs",
    "loop_callback_cpu_s": "traces (2 us, the built-in value)",
    "worker_boot_s": "built-in value (no calibration run kills a worker)",
}
# Knobs of `KNOBS` fixed instead of fitted, for a parameter the runs cannot identify apart from
# the machine's noise: name -> (value in seconds or a fraction, its source). None now.
# Tried (docs/notes/measurements.md section 31.3): the loop's select() round. The runs pin it
# through the aiohttp warm run's server CPU above the saturated run's (a request alone takes
# nine rounds, under saturation a round serves many), a difference that moved by 13-77 % within
# the nine groups of three calibrations made minutes apart in figures/, so the fitted round
# moved by 14-122 %. Fixed at the median of the 29 recorded calibrations' free fits, 17 us (at
# section 27.7's self-pipe trace, ~4 us per wake-up, the model's warm aiohttp CPU falls 26-36 %
# short), that noise went into the knobs beside it instead: ab's CPU per request, the loop's
# cold extra, ab's poll and the wake-up spread wider in 8 of the 9 groups, two files stopped
# reproducing a run, and holdout-8's and -9's CPU-dominated median errors rose by 0.8 and 1.0
# points. `fit(traced=...)` and `tools/identify.py` repeat the study.
TRACED: dict[str, tuple[float, str]] = {}
# The overshoots when the plan's 1 ms runs are absent (older calibration files).
UNFITTED_SOURCE = "measured in-process with 10 ms sleeps (asim.lab.measure)"


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
