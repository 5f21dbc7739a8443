"""`asim calibrate`: measure this machine with the real servers and ab, then fit the model's costs
jointly against those runs.

The runs (`plan()`). Never the points calibration is judged on (the lab grid sleeps 0.1-0.3 s at
C = 5-40, the hold-out has one, two or four Django workers). Each fitted parameter has a run that
depends on it strongly:
- aiohttp and Django at C = 1, sleep 0 ("warm": back-to-back requests): ab's and the server's
  per-request CPU, and the wake-up latency (at C = 1 every step waits for a wake-up of the other
  side, so a few tens of microseconds weigh against a ~0.3 ms cycle);
- the same at sleeps of 1 ms, 5 ms ("mid", Django) and 50 ms ("cold"): the extra CPU of a burst
  after the machine idled (50 ms: all of it), how fast it grows with the gap (1-5 ms), and the
  sleeps' overshoot, which is ~10 % of a 1 ms run's cycle (at 5-50 ms it is lost in the sleep);
- aiohttp at C = 50, sleep 0 ("saturated"): the loop is the bottleneck and one select() round
  serves many requests, so its RPS separates the per-round from the per-request CPU;
- three Django workers at C = 1 ("herd"): every connection wakes the idle workers;
- three Django workers at C = 10 ("oversubscribed"): more busy threads than cores, the share of
  the cores lost to time-slicing.

The fit. Every run is simulated with the model (`asim.sim.model.simulate` of a Scenario built
from the run) and `scipy.optimize.least_squares` minimises, over the parameters of
`asim.calibration.knobs.KNOBS` (bounded), the runs' relative errors of
- requests per second, each divided by the run's tolerance (`rps_tolerance`): this
  is what the self-check judges, so every run counts by how well it is known;
- CPU per request (model: the CPU its threads were given, `SimRun.server_cpu_s`, `ab_cpu_s`),
  which pins what RPS cannot separate (the cold penalties hardly move a 51 ms cycle; ab's CPU
  against the server's): at sleep 0 the sum of both sides divided by `CPU_TOLERANCE` and ab's
  alone by `AB_CPU_TOLERANCE` (on loopback the kernel's TCP work of one side is often charged to
  the other, docs/notes/measurements.md section 3, so the sum is the robust figure); at sleeps
  above 0 the server's alone. The tolerances are looser than RPS's so that the timing wins when
  the two disagree.
ab's time per request is C / RPS, so it adds nothing to RPS and is not a separate residual.
The fit starts from the built-in costs scaled to the runs' CPU, and once more from the built-in
costs themselves if that leaves a run unreproduced (the simulated residuals jump where the order
of events changes, so a fit can stop in a local minimum).

What the runs identify, and what they do not (docs/notes/measurements.md, "Which parameters the
runs identify"). Over the 19 calibration files recorded in figures/, each fitted with every
parameter free, the median standard error (`Check.uncertainty_pct`) is 4-21 % for the loop's and
the worker's CPU per request, the cold extras, the loop's select() round and ab's per-request
CPU: these are fitted freely, and so is the idle time before the cold extras start to grow
(`cold_onset_s`, which the 1 and 5 ms runs pin against the 50 ms runs, section 44). It is
45-144 % for the cold time constant, ab's poll, the
switching loss, the herd cost, the wake-up latency and the two overshoots: a C = 1 cycle is CPU
plus wake-ups plus the sleep's overshoot, the CPU is known to ~10 %, and these are small
remainders that trade against each other within the runs' noise (three calibrations minutes
apart gave wake-ups of 2-18 us and losses of 13-29 %). Fixing them outright leaves 16 of the 19
files with runs not reproduced (the herd and oversubscribed runs move by 10-30 % between
sessions, and the fixed values cannot follow), so each is held near a prior instead
(`Knob.prior`, its value and source in `asim.calibration.knobs`): one more residual per such
parameter, its relative distance from the prior divided by a width, 25 % at first
(`PRIOR_WIDTH`). While no start's fit reproduces every run, the widths of the priors the runs
pull against (more than half a width off) double, up to `PRIOR_ROUNDS` times; then the fit runs
free from where it stopped. A weak parameter thus moves from its prior only as far as the runs
need, and only where they need it; a run with a wide spread may be left anywhere within it.
`Check.uncertainty_pct` is computed from the runs' residuals alone (the priors are no
information about this machine).
The model simulates a run in milliseconds (fast-forward skips its repeated cycles); a fit takes
a few hundred simulations, up to ~5000 when priors must be widened (the three idle-machine
calibrations of 2026-11-30 23:46-23:51 UTC: 4020, 4120 and 1330 in 24.6, 22.2 and 9.1 s, 6-7 ms
each; `Check.fit_seconds` records the wall time). `asim calibrate` computes them in one process
per core (`asim.calibration.simpool`): the points of one finite-difference Jacobian (and the runs
of one trial point) at once, the same outcomes as one by one, so the same steps and result; and
it fits while it measures the servers' memory (`calibrate`).

Fixed, not fitted (the runs cannot separate them, or they are measured directly; `FIXED` in
`asim.calibration.knobs` names each with its source):
- the per-request CPU of each actor is split into the model's steps by shares measured once with
  per-step thread CPU clocks (`LOOP_SHARES`, `WORKER_SHARES`, `AB_SHARES`; measurements.md,
  "CPU per request"): every calibration run passes through all the steps of a request, so only
  the sum is identified;
- the loop's per-callback overhead (`loop_callback_cpu_s`, 2 us from the traces): a callback runs
  a fixed number of times per request, so it is indistinguishable from the per-request CPU;
- any knob named in `TRACED` (`asim.calibration.knobs`, none now): fixed at its value there
  (``fit(traced=...)`` overrides). Fixing the loop's select() round was tried, since it moves
  with the aiohttp warm run's CPU (docs/notes/measurements.md section 31.3): the other knobs
  then moved more, so it is fitted;
- ab's cold extra CPU (``ab_cold_cpu_s``): the model charges a cold start only for the shorter
  of a thread's own idle time and the machine's, and at C = 1 the server is still closing when
  ab wakes, so no calibration run's model depends on it (ab's modelled CPU at 50 ms sleeps is
  70-80 % below the measured one in every recorded calibration); it is the measured difference
  of ab's CPU between the cold and the warm runs, and ab's CPU is no residual at sleeps above 0;
- the overshoot of time.sleep and of asyncio.sleep (epoll_wait's lateness) when the plan's 1 ms
  runs are absent (older calibration files): then as measured in-process with 10 ms sleeps
  (`asim.lab.measure`); with the 1 ms runs they are fitted, held near priors pooled over the
  files that hold those runs (a 10 ms sleep overshoots more than a 1 ms one);
- ``worker_boot_s`` (replacing a killed worker): no calibration run kills one.

Every ab command is run `ROUNDS` times, interleaved with the other runs of the same server kind
(`asim.lab.measure.measure_rounds`), and the medians are kept; the spread of the rounds' RPS is
recorded and sets that run's tolerance. After the fit every run is simulated once
more and the residuals are recorded (`Check`): a run whose RPS the model misses by more than its
tolerance fails the calibration's self-check, and `asim predict` says so.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.integrate import quad
from scipy.optimize import least_squares
from scipy.stats import norm

from asim.calibration.file import Calibration, Check, RunCheck, now_text, run_record
from asim.calibration.knobs import (
    AIOHTTP,
    DJANGO,
    FIXED,
    KNOBS,
    TRACED,
    Knob,
    Outcome,
    apply,
    knob_values,
    model_outcome,
)
from asim.calibration.simpool import NICE, OutcomePool
from asim.errors import CalibrationError
from asim.lab.facts import machine_facts
from asim.lab.measure import (
    CpuPlan,
    CpuRun,
    asyncio_sleep_overshoot_s,
    measure_rounds,
    time_sleep_overshoot_s,
)
from asim.lab.memory import calibration_runs as memory_calibration_runs
from asim.lab.procs import DeferredStops
from asim.limits import CALIBRATION_ROUNDS
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.memory import fitted_memory

# Requests per ab run (one round's piece of each measurement; about 0.3-1.5 s each). Shorter
# saturated pieces scatter more than the median needs: 2000 requests at C = 50 fell into a
# slow cluster (~70 % of the rate) in 2-3 runs of 12 (docs/notes/measurements.md, section 41).
WARM_N, COLD_N, MID_N, ONE_MS_N, SAT_N, SAT_C = 1000, 30, 150, 200, 5000, 50
HERD_WORKERS, OVER_WORKERS, OVER_C, OVER_N = 3, 3, 10, 2000
COLD_SLEEP_S, MID_SLEEP_S, ONE_MS_SLEEP_S = 0.05, 0.005, 0.001
# Interleaved rounds per server (`measure`); the model takes each run's medians over them.
ROUNDS = CALIBRATION_ROUNDS

# The fit simulates at most this many requests of a run (the self-check then simulates all of
# them): the oversubscribed workers never repeat exactly and are simulated request by request,
# and with 1000 instead of 3000 requests the model's RPS moves by 0.2 % (the saturated loop's
# by 0.3 %, C = 1 runs not at all), far inside the tolerance.
FIT_MAX_REQUESTS = 1000
RPS_TOLERANCE = 0.03  # a run is reproduced within max(3 %, its spread), `rps_tolerance`
CPU_TOLERANCE = 0.10  # weight of the CPU-per-request residuals (see the module docstring)
AB_CPU_TOLERANCE = 0.30
# How far a weakly identified parameter may stray from its prior for the cost of one run off
# by its whole tolerance, at first; doubled for the parameters the runs pull away from their
# priors while a run is not reproduced, and dropped (the parameter is free) beyond the last.
PRIOR_WIDTH, MAX_PRIOR_WIDTH = 0.25, 2.0
PRIOR_ROUNDS = 4  # rounds with priors at most; then the free fit

@dataclass(frozen=True, kw_only=True)
class PlannedRun:
    """One calibration measurement: ``ab -n requests -c concurrency`` against one server."""

    name: str
    server: str
    sleep_s: float
    requests: int
    concurrency: int = 1
    workers: int = 1

    def cpu_plan(self) -> CpuPlan:
        """The run as `asim.lab.measure.measure_rounds` measures it."""
        return CpuPlan(name=self.name, kind=self.server, sleep_s=self.sleep_s,
                       requests=self.requests, concurrency=self.concurrency,
                       workers=self.workers)


def plan() -> tuple[PlannedRun, ...]:
    """The calibration runs (read at call time, so a tool may scale the -n constants)."""
    return (
        PlannedRun(name="aiohttp warm", server=AIOHTTP, sleep_s=0.0, requests=WARM_N),
        PlannedRun(name="aiohttp 1 ms", server=AIOHTTP, sleep_s=ONE_MS_SLEEP_S, requests=ONE_MS_N),
        PlannedRun(name="aiohttp cold", server=AIOHTTP, sleep_s=COLD_SLEEP_S, requests=COLD_N),
        PlannedRun(name="aiohttp saturated", server=AIOHTTP, sleep_s=0.0, requests=SAT_N,
                   concurrency=SAT_C),
        PlannedRun(name="django warm", server=DJANGO, sleep_s=0.0, requests=WARM_N),
        PlannedRun(name="django 1 ms", server=DJANGO, sleep_s=ONE_MS_SLEEP_S, requests=ONE_MS_N),
        PlannedRun(name="django mid", server=DJANGO, sleep_s=MID_SLEEP_S, requests=MID_N),
        PlannedRun(name="django cold", server=DJANGO, sleep_s=COLD_SLEEP_S, requests=COLD_N),
        PlannedRun(name="django herd", server=DJANGO, sleep_s=0.0, requests=WARM_N,
                   workers=HERD_WORKERS),
        PlannedRun(name="django oversubscribed", server=DJANGO, sleep_s=0.0, requests=OVER_N,
                   concurrency=OVER_C, workers=OVER_WORKERS),
    )


# Runs a fit cannot do without (older calibration files hold exactly these; the 1 ms runs are
# used when present).
REQUIRED = ("aiohttp warm", "aiohttp cold", "aiohttp saturated", "django warm", "django cold",
            "django mid", "django herd", "django oversubscribed")


def rps_tolerance(run: CpuRun) -> float:
    """How close the model must come to the run's RPS: max(3 %, the spread of three repeats).

    The spread is the range of the run's repeats (max - min over the median). A range grows with
    the number of draws, so the range of more than three is scaled to what three would show on
    average: by the ratio of the expected ranges of 3 and of n normal draws (`expected_range`;
    6 rounds: 0.67). More rounds thus pin the median closer without loosening the check."""
    spread = (run.rps_spread_pct or 0.0) / 100
    if run.repeats > 3:
        spread *= expected_range(3) / expected_range(run.repeats)
    return max(RPS_TOLERANCE, spread)


@functools.cache
def expected_range(n: int) -> float:
    """The expected range (max - min) of ``n`` independent standard normal draws (the d2
    constant of quality control: 1.128 for 2, 1.693 for 3, 2.534 for 6)."""
    if n < 2:
        return 0.0
    value, _err = quad(lambda x: 1 - norm.cdf(x) ** n - norm.sf(x) ** n, -np.inf, np.inf)
    return float(value)


class _Objective:
    """The residual vector of a parameter vector, simulating only the runs a changed knob can
    move (the finite-difference Jacobian changes one knob at a time): the runs' residuals, then
    one per knob in ``widths``, its relative distance from its prior divided by its width.
    The simulations a point or a Jacobian needs are computed together, in ``pool``."""

    def __init__(self, runs: dict[str, CpuRun], base: Costs, knobs: Sequence[Knob],
                 pool: OutcomePool) -> None:
        self.runs = runs
        self.base = base
        self.knobs = knobs
        self.pool = pool
        self.cache: dict[tuple, Outcome] = {}
        self.simulations = 0
        self.widths: dict[str, float] = {}

    def costs(self, x: np.ndarray) -> Costs:
        return apply(self.base, {k.name: float(v) * k.unit for k, v in zip(self.knobs, x,
                                                                             strict=True)})

    def key(self, name: str, x: np.ndarray) -> tuple:
        """What run ``name``'s outcome at ``x`` depends on: the values of its server's knobs."""
        server = self.runs[name].server
        return (name, *(float(v) for k, v in zip(self.knobs, x, strict=True)
                        if k.servers is None or server in k.servers))

    def prefetch(self, xs: Sequence[np.ndarray]) -> None:
        """Simulate at once every run the points ``xs`` need that is not cached yet (each
        with the first point that needs it, as one-by-one evaluation would)."""
        todo: dict[tuple, tuple[str, np.ndarray]] = {}
        for x in xs:
            for name in self.runs:
                key = self.key(name, x)
                if key not in self.cache and key not in todo:
                    todo[key] = (name, x)
        tasks = [(self.runs[name], self.costs(x), FIT_MAX_REQUESTS) for name, x in todo.values()]
        self.cache.update(zip(todo, self.pool.outcomes(tasks), strict=True))
        self.simulations += len(tasks)

    def evaluate_all(self, f: Callable[[np.ndarray], np.ndarray],
                     xs: Iterable[np.ndarray]) -> list[np.ndarray]:
        """``least_squares``' map for the finite-difference Jacobian: ``f`` (scipy's wrapper of
        this objective) of every point, their simulations computed together first."""
        points = list(xs)
        self.prefetch(points)
        return [f(x) for x in points]

    def outcome(self, name: str, x: np.ndarray) -> Outcome:
        key = self.key(name, x)
        if key not in self.cache:
            self.prefetch([x])
        return self.cache[key]

    def run_residuals(self, x: np.ndarray) -> list[float]:
        self.prefetch([x])
        res: list[float] = []
        for name, run in self.runs.items():
            out = self.outcome(name, x)
            res.append((out.requests_per_second / run.requests_per_second - 1)
                       / rps_tolerance(run))
            if run.sleep_s == 0:
                both = out.server_cpu_s + out.ab_cpu_s
                res.append((both / (run.server_cpu_s + run.ab_cpu_s) - 1) / CPU_TOLERANCE)
                res.append((out.ab_cpu_s / run.ab_cpu_s - 1) / AB_CPU_TOLERANCE)
            else:  # ab's cold CPU is not the model's (see the module docstring)
                res.append((out.server_cpu_s / run.server_cpu_s - 1) / CPU_TOLERANCE)
        return res

    def __call__(self, x: np.ndarray) -> np.ndarray:
        priors = [(float(v) * k.unit / k.prior - 1) / self.widths[k.name]
                  for k, v in zip(self.knobs, x, strict=True) if k.name in self.widths]
        return np.asarray(self.run_residuals(x) + priors)


def _ab_cold_s(runs: dict[str, CpuRun]) -> float:
    """ab's extra CPU per request after 50 ms idle, as measured (cold minus warm runs)."""
    warm = (runs["aiohttp warm"].ab_cpu_s + runs["django warm"].ab_cpu_s) / 2
    cold = (runs["aiohttp cold"].ab_cpu_s + runs["django cold"].ab_cpu_s) / 2
    return max(cold - warm, 0.0)


def initial_guess(runs: dict[str, CpuRun]) -> dict[str, float]:
    """A start for the fit: the built-in costs scaled to the measured warm CPU of each side, the
    cold extras as measured, the weakly identified parameters at their priors."""
    aw, dw = runs["aiohttp warm"], runs["django warm"]
    ac, dc = runs["aiohttp cold"], runs["django cold"]
    default_aw = model_outcome(aw, DEFAULT_COSTS)
    default_dw = model_outcome(dw, DEFAULT_COSTS)
    d = knob_values(DEFAULT_COSTS)
    ab_scale = (aw.ab_cpu_s + dw.ab_cpu_s) / (default_aw.ab_cpu_s + default_dw.ab_cpu_s)
    loop_scale = aw.server_cpu_s / default_aw.server_cpu_s
    worker_scale = dw.server_cpu_s / default_dw.server_cpu_s
    return {
        "ab_cpu_s": d["ab_cpu_s"] * ab_scale,
        "loop_cpu_s": d["loop_cpu_s"] * loop_scale,
        "loop_iteration_cpu_s": d["loop_iteration_cpu_s"] * loop_scale,
        "loop_cold_cpu_s": max(ac.server_cpu_s - aw.server_cpu_s, 10e-6),
        "worker_cpu_s": d["worker_cpu_s"] * worker_scale,
        "worker_cold_cpu_s": max(dc.server_cpu_s - dw.server_cpu_s, 10e-6),
        "cold_onset_s": 2e-3,  # inside the 1-5 ms runs' gaps, where the runs can move it
        **{k.name: k.prior for k in KNOBS if k.prior is not None},
    }


@dataclass(frozen=True, kw_only=True)
class FitResult:
    costs: Costs
    check: Check


def fit(
    runs: dict[str, CpuRun],
    ts_over: float,
    aio_over: float,
    progress: Callable[[str], None] = lambda _msg: None,
    *,
    start: dict[str, float] | None = None,
    pool: OutcomePool | None = None,
    traced: dict[str, float] | None = None,
) -> FitResult:
    """The model's costs fitted jointly to the calibration runs, and how well they reproduce
    each run. ``start`` overrides the initial guess (in seconds or fractions, by knob name);
    ``pool`` computes the simulations (default: in this process, one after another);
    ``traced`` the knobs fixed from traces instead of fitted (default `TRACED`'s values)."""
    missing = [name for name in REQUIRED if name not in runs]
    if missing:
        raise CalibrationError(f"calibration runs missing: {', '.join(missing)}")
    bad = [n for n, r in runs.items()
           if min(r.requests_per_second, r.server_cpu_s, r.ab_cpu_s) <= 0]
    if bad:
        raise CalibrationError(
            f"measured RPS or CPU per request is not positive in {', '.join(bad)}; "
            "is /proc readable?"
        )
    t0 = time.perf_counter()
    traced = {name: value for name, (value, _) in TRACED.items()} if traced is None else traced
    base = apply(replace(DEFAULT_COSTS, time_sleep_overshoot_s=max(ts_over, 0.0),
                         timer_overshoot_s=max(aio_over, 0.0), ab_cold_cpu_s=_ab_cold_s(runs),
                         source="calibrated"), traced)
    knobs = tuple(k for k in KNOBS
                  if (not k.needs or k.needs in runs) and k.name not in traced)
    fixed = (*FIXED, *(k.name for k in KNOBS if k not in knobs))
    pool = pool or OutcomePool(jobs=1)
    objective = _Objective(runs, base, knobs, pool)
    weak = sum(k.prior is not None for k in knobs)
    progress(f"fitting {len(knobs)} parameters ({weak} held near their priors) to {len(runs)} "
             "runs (least squares)")
    # The model is a simulation: its residuals jump where the order of events changes, and the
    # fit can stop in a local minimum. Two starts: the runs' own CPU, and the built-in costs
    # (on two of the 13 calibrations recorded before the priors only the second reproduced
    # every run). While no start's fit reproduces every run, each start goes on from where it
    # stopped with the priors the runs pulled against widened (`_widened`); the last round has
    # no priors (the free fit), and if even that leaves a run unreproduced the closest fit wins.
    guesses = [{**initial_guess(runs), **(start or {})}]
    if start is None:
        guesses.append({**knob_values(DEFAULT_COSTS),
                        **{k.name: k.prior for k in knobs if k.prior is not None}})
    first = {k.name: PRIOR_WIDTH for k in knobs if k.prior is not None}
    states = [(np.array([min(max(g[k.name] / k.unit, k.lo), k.hi) for k in knobs]), first)
              for g in guesses]
    best, best_cost, widths = None, np.inf, first
    for round_ in range(PRIOR_ROUNDS + 1):
        if round_ == PRIOR_ROUNDS:  # the free fit
            states = [(x, {}) for x, _ in states]
        last = all(not w for _, w in states)
        for i, (x0, widths) in enumerate(states):
            objective.widths = widths
            result = least_squares(
                objective, x0,
                bounds=([k.lo for k in knobs], [k.hi for k in knobs]),
                x_scale=np.maximum(np.abs(x0), 1.0),
                # The model's ab reports whole microseconds: a step of 0.1 % keeps the
                # differences far above that rounding.
                diff_step=1e-3,
                ftol=1e-4, xtol=1e-3, gtol=1e-8,
                max_nfev=60,
                workers=objective.evaluate_all,
            )
            cost = float(np.sum(np.square(objective.run_residuals(result.x))))
            if check(runs, objective.costs(result.x), pool=pool).passed:  # all requests
                best, best_cost = result, 0.0
                break
            if cost < best_cost:
                best, best_cost = result, cost
            states[i] = (result.x, _widened(knobs, result.x, widths))
        if last or best_cost == 0:
            break
        progress("a run is not reproduced: widening the priors the runs pull against")
    costs = objective.costs(best.x)
    done = check(runs, costs, pool=pool, fitted=tuple(k.name for k in knobs), fixed=fixed,
                 seconds=time.perf_counter() - t0, simulations=objective.simulations)
    if weak:
        held = ", ".join(f"{name} {w:.0%}" for name, w in widths.items())
        progress(f"priors' widths: {held or 'none (the runs needed every parameter free)'}")
    rows = len(objective.run_residuals(best.x))
    return FitResult(costs=costs, check=replace(done, uncertainty_pct=_uncertainty_pct(
        knobs, best.x, best.jac[:rows])))


def _widened(knobs: Sequence[Knob], x: np.ndarray, widths: dict[str, float]) -> dict[str, float]:
    """``widths`` doubled for the knobs the runs pulled more than half a width from their prior
    (all of them when none was), without the ones that grow beyond `MAX_PRIOR_WIDTH`."""
    off = {k.name: abs(float(v) * k.unit / k.prior - 1)
           for k, v in zip(knobs, x, strict=True) if k.name in widths}
    pulled = {name for name, d in off.items() if d > widths[name] / 2} or set(widths)
    grown = {name: w * 2 if name in pulled else w for name, w in widths.items()}
    return {name: w for name, w in grown.items() if w <= MAX_PRIOR_WIDTH}


def _uncertainty_pct(knobs: Sequence[Knob], x: np.ndarray, jac: np.ndarray) -> dict[str, float]:
    """How well the runs pin each parameter: its standard error, in % of its value, if every
    run's residual were off by its whole tolerance at random (the residuals are in tolerances,
    so the covariance is the inverse of J^T J; ``jac`` holds the runs' rows only, so the priors
    do not count as information). A parameter whose figure is above ~15 % follows the
    machine's noise from one calibration to the next."""
    try:
        cov = np.linalg.pinv(jac.T @ jac)
    except np.linalg.LinAlgError:  # pragma: no cover - pinv of a finite matrix converges
        return {}
    return {k.name: round(float(np.sqrt(max(cov[i, i], 0.0)) / max(abs(x[i]), 1e-9) * 100), 1)
            for i, k in enumerate(knobs)}


def check(runs: dict[str, CpuRun], costs: Costs, *, fitted: tuple[str, ...] = (),
          fixed: tuple[str, ...] = (), seconds: float = 0.0, simulations: int = 0,
          pool: OutcomePool | None = None) -> Check:
    """Every calibration run simulated with ``costs`` (in ``pool``, default this process): the
    residuals the self-check judges."""
    rows = []
    outcomes = (pool or OutcomePool(jobs=1)).outcomes([(run, costs, None)
                                                       for run in runs.values()])
    for (name, run), out in zip(runs.items(), outcomes, strict=True):
        rows.append(RunCheck(
            name=name,
            measured_rps=run.requests_per_second,
            model_rps=out.requests_per_second,
            spread_pct=run.rps_spread_pct,
            tolerance_pct=rps_tolerance(run) * 100,
            server_cpu_error_pct=(out.server_cpu_s / run.server_cpu_s - 1) * 100,
            ab_cpu_error_pct=(out.ab_cpu_s / run.ab_cpu_s - 1) * 100,
        ))
    return Check(runs=tuple(rows), fitted=fitted, fixed=fixed, fit_seconds=seconds,
                 simulations=simulations)


def _measured(runs: dict[str, CpuRun], ts_over: float, aio_over: float) -> dict[str, object]:
    measured: dict[str, object] = {name: run_record(r) for name, r in runs.items()}
    measured["time_sleep_overshoot_us"] = round(ts_over * 1e6, 1)
    measured["asyncio_sleep_overshoot_us"] = round(aio_over * 1e6, 1)
    return measured


def calibrate(progress: Callable[[str], None] = lambda _msg: None,
              servers: Sequence[str] | None = None, *, jobs: int | None = None,
              rounds: int = ROUNDS) -> Calibration:
    """Measure this machine and fit the model's costs: aiohttp's and Django's, then those of
    ``servers`` among the new shapes (`asim.calibration.shapes_fit`; default all of them, ()
    none); the servers' memory too. ``rounds``: the first stage's interleaved rounds (`measure`).

    The fits measure nothing, and the memory runs measure memory, not time: the fits run in a
    background thread, their simulations in ``jobs`` processes (default one per core,
    `asim.calibration.simpool`, at a lower priority), while the memory runs go on. Every CPU
    run is measured before, on a machine that runs nothing else of asim's. The workers start
    from multiprocessing's forkserver, which imports the ``__main__`` module: a script that
    calls this needs the ``if __name__ == "__main__":`` guard (or ``jobs=1``)."""
    from asim.calibration import shapes_fit  # it builds on this module

    with DeferredStops() as stops:
        runs, ts_over, aio_over = measure(progress, stops, rounds=rounds)
        shape_runs = shapes_fit.measure(shapes_fit.SERVERS if servers is None else servers,
                                        progress, stops)
    machine = machine_facts()

    def fitted() -> Calibration:
        result = fit(runs, ts_over, aio_over, progress, pool=pool)
        return shapes_fit.extend(Calibration(
            costs=result.costs,
            measured=_measured(runs, ts_over, aio_over),
            machine=machine,
            check=result.check,
        ), shape_runs, progress)

    # Leaving the block for an error or Ctrl-C stops the pool: the fit's next batch raises and
    # its (daemon) thread ends.
    with OutcomePool(jobs, nice=NICE) as pool:
        fitting = _in_background(fitted)
        memory_runs = tuple(r.to_dict() for r in memory_calibration_runs(progress))
        calibration = fitting.result()
    return replace(calibration, created=now_text(),
                   memory=fitted_memory(memory_runs, source="asim calibrate"),
                   memory_runs=memory_runs)


def _in_background(work: Callable[[], Calibration]) -> cf.Future[Calibration]:
    """``work()`` in a daemon thread; the future holds what it returned or raised."""
    future: cf.Future[Calibration] = cf.Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="asim-fit", daemon=True).start()
    return future


def refit(calibration: Calibration, progress: Callable[[str], None] = lambda _msg: None, *,
          jobs: int | None = 1) -> Calibration:
    """Fit again the runs a calibration file recorded (after the fitting has changed), the
    simulations in ``jobs`` processes (None: one per core; the result is the same)."""
    runs, ts_over, aio_over = calibration.recorded_runs()
    missing = [name for name in REQUIRED if name not in runs]
    if missing:
        raise CalibrationError(
            f"{calibration.path or 'the calibration'} has no measured run {missing[0]!r} to "
            f"refit (it records {', '.join(runs) or 'none'})"
        )
    with OutcomePool(jobs) as pool:
        result = fit(runs, ts_over, aio_over, progress, pool=pool)
    from asim.calibration import shapes_fit  # it builds on this module

    return shapes_fit.refit(calibration, Calibration(
        costs=result.costs,
        measured=_measured(runs, ts_over, aio_over),
        machine=calibration.machine,
        created=calibration.created,
        check=result.check,
        memory=calibration.memory,
        memory_runs=calibration.memory_runs,
    ), progress)


def measure(progress: Callable[[str], None], stops: DeferredStops | None = None, *,
            rounds: int = ROUNDS) -> tuple[dict[str, CpuRun], float, float]:
    """The real runs calibration fits on, and the two sleep overshoots (first, while no server
    runs). aiohttp's runs, then Django's, each in ``rounds`` interleaved rounds
    (`asim.lab.measure.measure_rounds`); Django's servers start while aiohttp's shut down, and
    ``stops`` (default: its own) holds Django's, so that the next stage's first server can start
    meanwhile."""
    progress("sleep overshoots")
    ts_over, aio_over = time_sleep_overshoot_s(), asyncio_sleep_overshoot_s()
    runs: dict[str, CpuRun] = {}
    with contextlib.ExitStack() as own:
        stops = stops or own.enter_context(DeferredStops())
        for server in (AIOHTTP, DJANGO):
            plans = [p.cpu_plan() for p in plan() if p.server == server]
            progress(f"{server}, {rounds} rounds of: " + "; ".join(
                f"{p.name} (ab -n {p.requests} -c {p.concurrency})" for p in plans))
            runs.update(measure_rounds(plans, rounds, stops=stops))
    return runs, ts_over, aio_over


def check_lines(check: Check) -> list[str]:
    """The self-check as text: one row per calibration run, then the verdict in plain words."""
    lines = [
        f"  {'calibration run':24} {'measured RPS':>12} {'spread':>7} {'model RPS':>10} "
        f"{'error':>7} {'within':>7}  {'CPU error server / ab':>22}",
    ]
    for r in check.runs:
        spread = "-" if r.spread_pct is None else f"{r.spread_pct:.1f} %"
        verdict = "yes" if r.reproduced else "NO"
        lines.append(
            f"  {r.name:24} {r.measured_rps:12.1f} {spread:>7} {r.model_rps:10.1f} "
            f"{r.error_pct:+6.1f}% {r.tolerance_pct:4.1f} % {verdict:>3}  "
            f"{r.server_cpu_error_pct:+9.1f}% / {r.ab_cpu_error_pct:+6.1f}%"
        )
    if check.passed:
        lines.append(f"  self-check passed: the model reproduces every calibration run within "
                     f"max({RPS_TOLERANCE * 100:.0f} %, its spread over three repeats).")
    else:
        lines.append(f"  SELF-CHECK FAILED: {check.summary()}. Predictions of CPU-dominated "
                     "points inherit these errors; the machine may have changed speed during "
                     "calibration (run `asim calibrate` again), or the model lacks what these "
                     "runs show.")
    weak = {k.name for k in KNOBS if k.prior is not None}
    pinned = ", ".join(f"{name} {pct:.0f} %" for name, pct in check.uncertainty_pct.items()
                       if name not in weak)
    held = ", ".join(f"{name} {pct:.0f} %" for name, pct in check.uncertainty_pct.items()
                     if name in weak)
    lines.append(f"  fitted ({check.simulations} simulations, {check.fit_seconds:.1f} s), each "
                 f"with its standard error if every run were off by its tolerance: {pinned}")
    if held:
        lines.append(f"  held near priors from traces and earlier calibrations (the runs pin "
                     f"them weakly): {held}")
    lines.append(f"  fixed (measured directly, or no run depends on them): "
                 f"{', '.join(check.fixed)}")
    return lines
