"""The second stage of `asim calibrate`: the costs of the shapes beyond the lab.

The first stage (`asim.calibration.fit`) fits ab's, aiohttp's and Django's costs and the machine's
(wake-up, cold penalty, sleep overshoots) to aiohttp's and Django's runs. With those fixed, this
stage measures a few runs of the new shapes and fits their own costs
(`asim.sim.costs.UNCALIBRATED`) to them:

- ``executor warm``, ``gthread warm``, ``asgi warm``, ``asgi-sync warm``: aiohttp-executor,
  django-gthread (1 worker, 1 thread), django-asgi and django-asgi-sync (1 worker) at C = 1,
  sleep 0. At C = 1 every step of a request waits for the one before, so each cost lengthens
  the cycle by itself;
- ``asgi-sync cold``: django-asgi-sync at C = 1 with 50 ms sleeps: the sync view's thread wakes
  from its sleep on an idle machine and pays a cold penalty (``asgi_thread_cold_cpu_s``,
  docs/notes/measurements.md section 17).

The server's CPU of these runs counts every thread, the ones that ended during the run too
(`asim.lab.measure.process_cpu_s`: Django under uvicorn makes two threads per request), and the
main threads' CPU is measured beside it. Two costs follow in closed form, each pinned by one
measured figure: ``pool_item_cpu_s`` is the executor run's CPU outside the main thread (its
pool thread's, per request), ``asgi_thread_cpu_s`` the async view's run's CPU outside the main
thread over Django's fifteen round trips through the request's thread (per trip), and
``asgi_view_thread_cpu_s`` what the sync view's run spends there beyond it (its view's own round
trip: the two runs differ by that alone, and it costs less than Django's, docs/notes/
measurements.md section 27.5; with one of the two runs only, every round trip costs alike). The
others (`KNOBS`: the loop's hand-off, gthread's accept, Django's CPU on the loop, the loop's
side of the sync view's round trip, the per-request thread's cold penalty) are fitted like the first
stage: every run is simulated and `scipy.optimize.least_squares` minimises its relative errors of
RPS (over the run's tolerance, `asim.calibration.fit.rps_tolerance`) and of the server's CPU per
request (over `asim.calibration.fit.CPU_TOLERANCE`). A knob is fitted only when a run pins it (the
hand-off only with the executor's run: Django's round trips charge no hand-off of their own, the
loop's CPU of a trip is part of Django's); the others keep their built-in values. The hand-off,
which the executor's run pins only weakly, is held near a prior from traces (`HANDOFF_PRIOR_S`)
by one more residual, as the first stage holds its weak parameters.

The machine's speed between the stages. The second stage's costs are fitted on top of the first
stage's, so a change of the machine's speed between the two stages (this machine's moves by
10-40 % within minutes) would go into them whole: the executor's hand-off came out anywhere from
10 to 276 us in six calibrations of one machine (docs/notes/measurements.md section 52). So the
first stage's two warm runs are measured again in the second stage's rounds (`REFERENCES`), and
the second stage's runs are put back at the first stage's speed before the fit: the part of
each connection's cycle that is not the handler's sleep shrinks by the references' RPS ratio
(first stage over second, the geometric mean of the two), the CPU per request by their CPU ratio
(`speed`, `at_first_speed`).

The runs, the references, the speed ratios, the fitted costs and the fit's figures go to the
calibration file's ``shapes`` section (the runs as measured, before the speed ratios), and the
runs' residuals join the file's self-check (``check``) like the first stage's. A file without the
section follows the built-in costs for these shapes; one without references fits its runs as
measured.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import least_squares

from asim.calibration.file import ROUND_TRIPS, Calibration, RunCheck, read_run, run_record
from asim.calibration.fit import (
    CPU_TOLERANCE,
    MAX_PRIOR_WIDTH,
    PRIOR_WIDTH,
    check,
    rps_tolerance,
)
from asim.calibration.knobs import AIOHTTP, DJANGO, Knob, model_outcome
from asim.errors import CalibrationError, InputError
from asim.lab.measure import CpuPlan, CpuRun, measure_rounds
from asim.lab.procs import DeferredStops
from asim.sim.costs import DEFAULT_COSTS, DJANGO_ASGI_ROUND_TRIPS, UNCALIBRATED, Costs
from asim.sim.shapes import NAMES, shape

EXECUTOR, GTHREAD, ASGI, ASGI_SYNC = ("aiohttp-executor", "django-gthread", "django-asgi",
                                      "django-asgi-sync")
SERVERS = (EXECUTOR, GTHREAD, ASGI, ASGI_SYNC)  # the shapes with costs of their own
FIRST = "first"  # --servers first: the first stage alone (aiohttp's and Django's runs)
ALL = "all"
WARM_N, ASGI_N, COLD_N = 500, 150, 10  # ~0.3-0.6 s per round at C = 1
ROUNDS = 6  # interleaved rounds of the second stage's runs (`asim.lab.measure.measure_rounds`)
COLD_SLEEP_S = 0.05


@dataclass(frozen=True, kw_only=True)
class ShapeRun:
    """One measurement of the second stage: ``ab -n requests -c 1`` against one server."""

    name: str
    server: str
    sleep_s: float
    requests: int


PLAN = (
    ShapeRun(name="executor warm", server=EXECUTOR, sleep_s=0.0, requests=WARM_N),
    ShapeRun(name="gthread warm", server=GTHREAD, sleep_s=0.0, requests=WARM_N),
    ShapeRun(name="asgi warm", server=ASGI, sleep_s=0.0, requests=ASGI_N),
    ShapeRun(name="asgi-sync warm", server=ASGI_SYNC, sleep_s=0.0, requests=ASGI_N),
    ShapeRun(name="asgi-sync cold", server=ASGI_SYNC, sleep_s=COLD_SLEEP_S, requests=COLD_N),
)

# The first stage's warm runs (`asim.calibration.fit.plan`), measured again beside the second
# stage's runs: the machine's speed in the second stage against the first's.
REFERENCES = (
    ShapeRun(name="aiohttp warm", server=AIOHTTP, sleep_s=0.0, requests=WARM_N),
    ShapeRun(name="django warm", server=DJANGO, sleep_s=0.0, requests=WARM_N),
)
REFERENCE_SUFFIX = " again"  # a reference run's name in the second stage: "aiohttp warm again"

_ASGI = frozenset({ASGI, ASGI_SYNC})
# The executor's hand-off is pinned by the executor's warm run alone, and weakly: it came out
# anywhere from 0 to 489 us in eleven calibrations of one day (docs/notes/measurements.md 54.6,
# its standard error up to ±47388 %). So the fit holds it near a prior from traces, as the first
# stage holds its weak parameters (`Knob.prior`, `PRIOR_WIDTH`).
HANDOFF_PRIOR_S = 120e-6
PRIOR_WIDTHS = tuple(PRIOR_WIDTH * 2**i for i in range(8) if PRIOR_WIDTH * 2**i <= MAX_PRIOR_WIDTH)
KNOBS: tuple[Knob, ...] = (
    Knob(name="loop_handoff_cpu_s", unit=1e-6, lo=0.0, hi=2000.0,
         servers=frozenset({EXECUTOR}), needs="executor warm", prior=HANDOFF_PRIOR_S,
         source="the executor's loop thread beyond aiohttp's, CPU per request at sleep 0, "
                "C = 20 (tools/trace/blocks.py back to back: 135 and 100 us; measurements 54.6)"),
    Knob(name="gthread_accept_cpu_s", unit=1e-6, lo=0.0, hi=2000.0,
         servers=frozenset({GTHREAD}), needs="gthread warm"),
    Knob(name="asgi_framework_cpu_s", unit=1e-6, lo=0.0, hi=50000.0, servers=_ASGI),
    # The loop's side of the sync view's round trip: the sync run's main thread beyond the
    # async run's, so it needs both (the async run pins the framework's cost).
    Knob(name="asgi_view_handoff_cpu_s", unit=1e-6, lo=0.0, hi=2000.0,
         servers=frozenset({ASGI_SYNC}), needs="asgi warm"),
    Knob(name="asgi_thread_cold_cpu_s", unit=1e-6, lo=0.0, hi=50000.0, servers=_ASGI,
         needs="asgi-sync cold"),
)
PRIORS = {k.name: k.prior for k in KNOBS if k.prior is not None}


def parse_servers(text: str) -> tuple[str, ...]:
    """``--servers``: ``all`` (every shape with costs of its own), ``first`` (none: aiohttp and
    Django alone), or a comma list of shape names; the new shapes among them, in plan order."""
    text = text.strip()
    if text == ALL:
        return SERVERS
    if text == FIRST:
        return ()
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(f"--servers takes {ALL}, {FIRST} or a comma list of servers "
                         f"({', '.join(NAMES)}), got {text!r}")
    for name in names:
        shape(name)  # an unknown name is an InputError listing the known ones
    return tuple(s for s in SERVERS if s in names)


def plan(servers: Sequence[str]) -> tuple[ShapeRun, ...]:
    return tuple(p for p in PLAN if p.server in servers)


def cpu_plans(servers: Sequence[str]) -> list[CpuPlan]:
    """What the second stage measures for ``servers``: their runs and the first stage's warm runs
    again (`REFERENCES`, named with `REFERENCE_SUFFIX`); nothing when no run is planned."""
    planned = plan(servers)
    if not planned:
        return []
    return [CpuPlan(name=p.name + suffix, kind=p.server, sleep_s=p.sleep_s, requests=p.requests)
            for runs, suffix in ((planned, ""), (REFERENCES, REFERENCE_SUFFIX)) for p in runs]


def measure(servers: Sequence[str], progress: Callable[[str], None],
            stops: DeferredStops | None = None) -> dict[str, CpuRun]:
    """The second stage's real runs for ``servers`` with their references (`cpu_plans`), in
    `ROUNDS` interleaved rounds; its servers start while the first stage's (with its ``stops``)
    shut down."""
    plans = cpu_plans(servers)
    if not plans:
        return {}
    progress(f"{ROUNDS} rounds of: " + "; ".join(
        f"{p.name} (ab -n {p.requests} -c 1, sleep {p.sleep_s:g} s)" for p in plans))
    with contextlib.ExitStack() as own:
        stops = stops or own.enter_context(DeferredStops())
        return measure_rounds(plans, ROUNDS, every_thread=True, stops=stops)


@dataclass(frozen=True, kw_only=True)
class Speed:
    """The first stage's speed over the second's, from the warm runs measured in both: ``rps``
    is the ratio of their requests per second (first over second; `at_first_speed` divides the
    busy part of a second-stage run's cycle by it), ``cpu`` of their CPU per request (it
    multiplies a second-stage run's)."""

    rps: float = 1.0
    cpu: float = 1.0
    references: tuple[str, ...] = ()  # the reference runs it was measured with (none: 1, 1)

    def to_dict(self) -> dict[str, object]:
        return {"rps_ratio": round(self.rps, 4), "cpu_ratio": round(self.cpu, 4),
                "references": list(self.references)}


def speed(first: Mapping[str, CpuRun], again: Mapping[str, CpuRun]) -> Speed:
    """The first stage's speed over the second's, from each reference measured in both stages
    (``first``: the first stage's runs, ``again``: the second's references): the first stage's
    requests per second over the second's, and its server CPU per request over the second's,
    each the geometric mean over the references."""
    pairs = [(first[p.name], again[p.name + REFERENCE_SUFFIX]) for p in REFERENCES
             if p.name in first and p.name + REFERENCE_SUFFIX in again]
    if not pairs:
        return Speed()
    return Speed(
        rps=statistics.geometric_mean(a.requests_per_second / b.requests_per_second
                                      for a, b in pairs),
        cpu=statistics.geometric_mean(a.server_cpu_s / b.server_cpu_s for a, b in pairs),
        references=tuple(b.server for _, b in pairs),
    )


def at_first_speed(run: CpuRun, ratio: Speed) -> CpuRun:
    """A second-stage run as it would have measured at the first stage's speed: its CPU per
    request times ``ratio.cpu``, and each connection's cycle (concurrency over requests per
    second) less the handler's sleep, which no speed moves, divided by ``ratio.rps``."""

    def faster(rps: float) -> float:
        cycle_s = run.concurrency / rps
        busy_s = max(cycle_s - run.sleep_s, 0.0)
        return run.concurrency / (cycle_s - busy_s + busy_s / ratio.rps)

    rps = faster(run.requests_per_second)
    return replace(
        run,
        requests_per_second=rps,
        time_per_request_ms=run.time_per_request_ms * run.requests_per_second / rps,
        every_rps=tuple(faster(v) for v in run.every_rps),
        server_cpu_s=run.server_cpu_s * ratio.cpu,
        main_cpu_s=None if run.main_cpu_s is None else run.main_cpu_s * ratio.cpu,
    )


def split_references(runs: Mapping[str, CpuRun]) -> tuple[dict[str, CpuRun], dict[str, CpuRun]]:
    """The second stage's runs apart from its reference runs: (shape runs, references)."""
    shape_runs = {n: r for n, r in runs.items() if not n.endswith(REFERENCE_SUFFIX)}
    references = {n: r for n, r in runs.items() if n.endswith(REFERENCE_SUFFIX)}
    return shape_runs, references


def _others_s(run: CpuRun) -> float:
    """CPU per request outside the main threads (pool and per-request threads)."""
    if run.main_cpu_s is None:
        raise CalibrationError(f"the {run.server} run has no main-thread CPU to split")
    return max(run.server_cpu_s - run.main_cpu_s, 0.0)


def closed_form(runs: dict[str, CpuRun]) -> dict[str, float]:
    """The costs one measured figure pins: the pool item's and the ASGI round trips' CPU."""
    values = {}
    executor = [r for r in runs.values() if r.server == EXECUTOR and r.sleep_s == 0]
    if executor:
        values["pool_item_cpu_s"] = _others_s(executor[0])
    warm = {r.server: r for r in runs.values() if r.server in _ASGI and r.sleep_s == 0}
    trips = {ASGI: DJANGO_ASGI_ROUND_TRIPS, ASGI_SYNC: DJANGO_ASGI_ROUND_TRIPS + 1}
    if len(warm) == 2:
        # The sync view is the async view plus its own round trip: Django's fifteen cost the
        # async run's others, the view's is what the sync run spends beyond them.
        base = _others_s(warm[ASGI])
        values["asgi_thread_cpu_s"] = base / trips[ASGI]
        values["asgi_view_thread_cpu_s"] = max(_others_s(warm[ASGI_SYNC]) - base, 0.0)
    elif warm:  # one of them: every round trip alike
        ((server, run),) = warm.items()
        values["asgi_thread_cpu_s"] = values["asgi_view_thread_cpu_s"] = (
            _others_s(run) / trips[server])
    return values


def active_knobs(runs: dict[str, CpuRun]) -> tuple[Knob, ...]:
    """The knobs the runs pin: each needs a run of one of its servers (and its named run)."""
    servers = {r.server for r in runs.values()}
    return tuple(k for k in KNOBS if k.servers & servers and (not k.needs or k.needs in runs))


class _Objective:
    """The residual vector of a knob vector: each run's RPS and server CPU errors in their
    tolerances; a run is simulated again only when a knob it depends on changed."""

    def __init__(self, runs: dict[str, CpuRun], base: Costs, knobs: Sequence[Knob]) -> None:
        self.runs = runs
        self.base = base
        self.knobs = knobs
        self.simulations = 0
        self.cache: dict[tuple, np.ndarray] = {}
        self.prior_width: float | None = PRIOR_WIDTH  # None: the priors are off

    def costs(self, x: np.ndarray) -> Costs:
        return replace(self.base, **{k.name: float(v) * k.unit
                                     for k, v in zip(self.knobs, x, strict=True)})

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The runs' residuals (two per run, in ``runs`` order), then one per knob with a prior:
        its relative distance from the prior over ``prior_width``."""
        res = []
        for name, run in self.runs.items():
            key = (name, *(float(v) for k, v in zip(self.knobs, x, strict=True)
                           if run.server in k.servers))
            if key not in self.cache:
                self.simulations += 1
                out = model_outcome(run, self.costs(x))
                self.cache[key] = np.array([
                    (out.requests_per_second / run.requests_per_second - 1)
                    / rps_tolerance(run),
                    (out.server_cpu_s / run.server_cpu_s - 1) / CPU_TOLERANCE,
                ])
            res.append(self.cache[key])
        if self.prior_width is not None:
            res.append(np.array([(float(v) * k.unit / k.prior - 1) / self.prior_width
                                 for k, v in zip(self.knobs, x, strict=True)
                                 if k.prior is not None]))
        return np.concatenate(res)


def _guess(runs: dict[str, CpuRun], knob: Knob) -> float:
    if knob.prior is not None:
        return knob.prior
    cold, warm = runs.get("asgi-sync cold"), runs.get("asgi-sync warm")
    if knob.name == "asgi_thread_cold_cpu_s" and cold and warm:
        return max(cold.server_cpu_s - warm.server_cpu_s, 10e-6)
    return getattr(DEFAULT_COSTS, knob.name)


@dataclass(frozen=True, kw_only=True)
class ShapesFit:
    """The second stage's result: the costs with the new shapes' put in, and the file section."""

    costs: Costs
    section: dict[str, object]
    check_runs: tuple[RunCheck, ...]  # the self-check's rows, one per run


def fit_shapes(runs: dict[str, CpuRun], first: Costs,
               progress: Callable[[str], None] = lambda _msg: None) -> ShapesFit:
    """The new shapes' costs fitted to ``runs`` with the first stage's costs ``first`` fixed."""
    bad = [n for n, r in runs.items() if min(r.requests_per_second, r.server_cpu_s) <= 0]
    if bad:
        raise CalibrationError(f"measured RPS or CPU per request is not positive in "
                               f"{', '.join(bad)}; is /proc readable?")
    t0 = time.perf_counter()
    closed = closed_form(runs)
    base = replace(first, **closed)
    knobs = active_knobs(runs)
    objective = _Objective(runs, base, knobs)
    uncertainty: dict[str, float] = {}
    at_bound: list[str] = []
    costs = base
    rows = None
    if knobs:
        progress(f"fitting {len(knobs)} costs of the new shapes to {len(runs)} runs")
        x0 = np.array([min(max(_guess(runs, k) / k.unit, k.lo), k.hi) for k in knobs])
        # The priors at their width first; while a run is not reproduced, twice as wide, up to
        # the first stage's widest, then off (the free fit).
        widths = (*PRIOR_WIDTHS, None) if any(k.prior is not None for k in knobs) else (None,)
        for width in widths:
            objective.prior_width = width
            result = least_squares(objective, x0, bounds=([k.lo for k in knobs],
                                                          [k.hi for k in knobs]),
                                   x_scale=np.maximum(np.abs(x0), 1.0), diff_step=1e-3,
                                   ftol=1e-4, xtol=1e-3, gtol=1e-8, max_nfev=60)
            costs = objective.costs(result.x)
            rows = check(runs, costs).runs
            if all(r.reproduced for r in rows):
                break
            if width is not None:
                progress("a run is not reproduced: widening the priors")
        # A knob held at a bound says the runs want a value outside the physical range (the
        # first stage's costs already explain the runs, or more): its error bar means nothing.
        at_bound = [k.name for k, v in zip(knobs, result.x, strict=True)
                    if min(v - k.lo, k.hi - v) <= 1e-6 * (k.hi - k.lo)]
        # From the runs' residuals alone (not the priors'): what the runs pin.
        jac = result.jac[:2 * len(runs)]
        cov = np.linalg.pinv(jac.T @ jac)
        uncertainty = {k.name: round(float(np.sqrt(max(cov[i, i], 0.0))
                                           / max(abs(result.x[i]), 1e-9) * 100), 1)
                       for i, k in enumerate(knobs) if k.name not in at_bound}
    if rows is None:
        rows = check(runs, costs).runs
    fitted = tuple(k.name for k in knobs)
    section = {
        "servers": sorted({r.server for r in runs.values()}, key=SERVERS.index),
        "costs": {name: getattr(costs, name) for name in (*closed, *fitted)},
        "closed_form": list(closed),
        "fitted": list(fitted),
        "uncertainty_pct": uncertainty,
        "at_bound": at_bound,
        # How far the priors' knobs could stray (a relative width; None: the fit ended free).
        "prior_width": objective.prior_width if knobs else None,
        ROUND_TRIPS: DJANGO_ASGI_ROUND_TRIPS,
        "fit_seconds": round(time.perf_counter() - t0, 2),
        "simulations": objective.simulations,
        "measured": {name: run_record(run, main_cpu=True) for name, run in runs.items()},
    }
    return ShapesFit(costs=costs, section=section, check_runs=rows)


def recorded_runs(calibration: Calibration) -> dict[str, CpuRun]:
    """The second stage's runs a calibration file recorded, its references among them (none
    without a ``shapes`` section), checked field by field."""
    where = f"{calibration.path or 'the calibration'}: shapes"
    runs = {}
    for key, servers in (("measured", SERVERS), ("references", (AIOHTTP, DJANGO))):
        measured = calibration.shapes.get(key, {})
        if not isinstance(measured, dict):
            raise CalibrationError(f"{where}: {key!r} must be an object")
        for name, r in measured.items():
            if not isinstance(r, dict):
                raise CalibrationError(f"{where}: {key} run {name!r} must be an object")
            runs[name] = read_run(r, f"{where}: {key} run {name!r}", servers=servers,
                                  main_cpu=key == "measured")
    return runs


def _first_stage_runs(calibration: Calibration) -> dict[str, CpuRun]:
    """The first stage's runs ``calibration`` recorded (none if it recorded none readable)."""
    try:
        return calibration.recorded_runs()[0]
    except CalibrationError:
        return {}


def fit_at_first_speed(
    first_runs: Mapping[str, CpuRun], costs: Costs, runs: Mapping[str, CpuRun],
    progress: Callable[[str], None] = lambda _msg: None,
) -> tuple[ShapesFit, Speed]:
    """The second stage fitted to ``runs`` (with their references, `measure`) on top of the first
    stage's ``costs``, its runs put back at the speed of ``first_runs`` (the first stage's
    runs); the section keeps the runs as measured, the references and the speed ratios."""
    shape_runs, references = split_references(runs)
    ratio = speed(first_runs, references)
    if ratio.references:
        progress(f"the second stage ran at {1 / ratio.rps:.2f} times the first stage's requests "
                 f"per second ({', '.join(ratio.references)} warm measured in both): its runs "
                 "are put back at the first stage's speed before the fit")
    # Costs of the new shapes start from the built-in values, never from an older file's.
    first = replace(costs, **{n: getattr(DEFAULT_COSTS, n) for n in UNCALIBRATED})
    result = fit_shapes({n: at_first_speed(r, ratio) for n, r in shape_runs.items()}, first,
                        progress)
    section = {
        **result.section,
        "measured": {name: run_record(run, main_cpu=True) for name, run in shape_runs.items()},
        "references": {name: run_record(run) for name, run in references.items()},
        "speed": ratio.to_dict(),
    }
    return replace(result, section=section), ratio


def extend(calibration: Calibration, runs: dict[str, CpuRun],
           progress: Callable[[str], None] = lambda _msg: None) -> Calibration:
    """``calibration`` (the first stage's) with the second stage fitted to ``runs`` (with their
    references) on top (`fit_at_first_speed`): its costs, its ``shapes`` section, and its runs
    in the self-check. No runs: unchanged."""
    if not split_references(runs)[0]:
        return calibration
    result, _ = fit_at_first_speed(_first_stage_runs(calibration), calibration.costs, runs,
                                   progress)
    check_block = calibration.check
    if check_block is not None:
        check_block = replace(check_block, runs=check_block.runs + result.check_runs)
    return replace(calibration, costs=result.costs, shapes=result.section, check=check_block)


def refit(calibration: Calibration, refitted: Calibration,
          progress: Callable[[str], None] = lambda _msg: None) -> Calibration:
    """``refitted`` (the first stage fitted again to ``calibration``'s runs) with the second
    stage fitted again to the runs ``calibration`` recorded, if it recorded any."""
    return extend(refitted, recorded_runs(calibration), progress)


def summary_lines(calibration: Calibration) -> list[str]:
    """What `asim calibrate` prints about the second stage (nothing when it did not run)."""
    section = calibration.shapes
    if not section:
        return ["  the new shapes' costs: built-in (no runs of theirs measured; see --servers)"]
    costs = section.get("costs", {})
    uncertainty = section.get("uncertainty_pct", {})
    parts = []
    for name, value in costs.items():
        err = uncertainty.get(name)
        if name in section.get("closed_form", ()):
            how = "closed form"
        elif name in section.get("at_bound", ()):
            how = "fitted, held at its bound: the runs want it outside its range"
        elif name in PRIORS and section.get("prior_width") is not None:
            how = (f"held near its prior of {PRIORS[name] * 1e6:.0f} us "
                   f"(±{section['prior_width'] * 100:.0f} %)"
                   + (f", the runs pin it to ±{err:.0f} %" if err is not None else ""))
        else:
            how = f"fitted, ±{err:.0f} %" if err is not None else "fitted"
        parts.append(f"{name} {value * 1e6:.0f} us ({how})")
    servers = ", ".join(section.get("servers", []))
    lines = [f"  the new shapes' costs ({servers}; {section.get('simulations', 0)} simulations, "
             f"{section.get('fit_seconds', 0):.1f} s):"]
    lines += [f"    {part}" for part in parts]
    ratio = section.get("speed")
    if isinstance(ratio, dict) and ratio.get("references"):
        rps = ratio.get("rps_ratio", 1.0)
        lines.append(f"    fitted at the first stage's speed: its warm runs measured again beside "
                     f"these ran at {1 / rps:.2f} times its requests per second, so the busy "
                     f"part of these runs' cycles was divided by {rps:.3f} and their CPU per "
                     f"request multiplied by {ratio.get('cpu_ratio', 1.0):.3f}")
    return lines
