"""`asim calibrate`: measure this machine's per-request costs with the real servers and ab.

Never on the points it is judged on: the lab grid uses sleeps of 0.1-0.3 s at C = 5-40 and the
hold-out set one, two or four Django workers; the calibration uses C = 1 with sleep 0 (warm:
back-to-back requests), 0.05 s (cold: every process idles between requests) and 5 ms (half-way,
for the cold time constant), one saturated run (aiohttp, sleep 0, C = 50), where one loop
iteration and one poll serve many requests, and three Django workers at sleep 0: at C = 1 (every
connection wakes all idle workers, the thundering herd) and at C = 10 (more busy workers than
cores: the share lost to time-slicing, fitted so the model's RPS matches).

What is measured, and how:
- CPU per request of the server processes: on-CPU nanoseconds from
  /proc/<pid>/task/*/schedstat of every process in the server's group, before and after ab;
- CPU per request of ab: getrusage(RUSAGE_CHILDREN) around the ab run (ab is our child);
- the overshoot of time.sleep and of asyncio.sleep, in this Python, 10 ms sleeps;
- the wake-up latency: the one constant not observable directly, fitted so that the model
  reproduces the cold C = 1 run's time per request (bisection; the model rises with it).
The event loop's and ab's CPU has a per-request part and a per-wake-up part (one select() round,
one apr_pollset_poll call): C = 1 pays a wake-up per step, the saturated run shares one among many
requests. For ab the model counts its wake-ups per request in both runs and two equations give
the two parts; the workers' CPU is split the same way between one Django worker and three at
C = 1 (every idle worker is woken by each connection: the thundering herd); for the loop the
select() round's cost is the one that makes the model's saturated run as fast as the real one,
and the share lost to time-slicing is fitted the same way on its own run. Every ab run is
repeated (`REPEATS`) and the medians are kept. The per-request CPU is split into
the model's steps by fixed shares measured once with per-step thread CPU clocks
(docs/notes/measurements.md, "CPU per request").
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import replace

from asim.calibration.file import Calibration, now_text
from asim.errors import CalibrationError
from asim.lab.facts import machine_facts
from asim.lab.measure import CpuRun, asyncio_sleep_overshoot_s, measure_cpu, time_sleep_overshoot_s
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.model import predict, simulate
from asim.sim.spec import Scenario

AIOHTTP, DJANGO = "aiohttp", "django"  # the shapes whose runs the costs are fitted on

WARM_N, COLD_N, MID_N, SAT_N, SAT_C = 1000, 40, 200, 5000, 50
HERD_WORKERS, OVER_WORKERS, OVER_C, OVER_N = 3, 3, 10, 3000
COLD_SLEEP_S, MID_SLEEP_S = 0.05, 0.005
REPEATS = 3  # ab runs per measurement, back to back on one server; the model takes the medians

PLAN = (  # name, server, sleep, -n, -c, workers
    ("aiohttp warm", AIOHTTP, 0.0, WARM_N, 1, 1),
    ("aiohttp cold", AIOHTTP, COLD_SLEEP_S, COLD_N, 1, 1),
    ("aiohttp saturated", AIOHTTP, 0.0, SAT_N, SAT_C, 1),
    ("django warm", DJANGO, 0.0, WARM_N, 1, 1),
    ("django cold", DJANGO, COLD_SLEEP_S, COLD_N, 1, 1),
    ("django mid", DJANGO, MID_SLEEP_S, MID_N, 1, 1),
    ("django herd", DJANGO, 0.0, WARM_N, 1, HERD_WORKERS),
    ("django oversubscribed", DJANGO, 0.0, OVER_N, OVER_C, OVER_WORKERS),
)
RUN_NAMES = tuple(name for name, *_ in PLAN)  # what `fit` needs, measured or recorded

# Shares of the warm per-request CPU by step (thread-CPU split, docs/notes/measurements.md).
LOOP_SHARES = {"accept": 0.33, "request": 0.40, "response": 0.19, "close": 0.08}
WORKER_SHARES = {"request": 0.69, "response": 0.25, "close": 0.06}
AB_SHARES = {"connect": 0.35, "write": 0.15, "read": 0.25, "close": 0.25}
LOOP_CALLBACKS = 8  # callbacks per request


def fit_wakeup_s(costs: Costs, server: str, observed_ms: float, sleep_s: float) -> float:
    """The wake-up latency that makes the model's C = 1 time per request match the run."""
    sc = Scenario(server=server, sleep_s=sleep_s, concurrency=1, requests=COLD_N)
    return _bisect(
        lambda w: predict(sc, costs=replace(costs, wakeup_s=w)).time_per_request_ms,
        observed_ms, 0.0, 2e-3, increasing=True,
    )


def _counts(costs: Costs, concurrency: int, requests: int) -> tuple[float, float]:
    """Loop iterations and ab wake-ups per request the model makes for aiohttp at sleep 0."""
    sc = Scenario(server=AIOHTTP, sleep_s=0.0, concurrency=concurrency, requests=requests)
    run = simulate(sc, costs=costs, keep_records=False, fast_forward=False)
    return run.loop_iterations / requests, run.ab_wakes / requests


def _two_parts(one: float, many: float, k_one: float, k_many: float) -> tuple[float, float]:
    """Solve cpu = per_request + k * per_wake from a C = 1 and a saturated run."""
    if k_one - k_many < 0.05:
        return one, 0.0
    per_wake = max((one - many) / (k_one - k_many), 0.0)
    per_request = one - k_one * per_wake
    if per_request < 0.1 * one:  # noisy runs: keep at least a tenth per request
        per_request = 0.1 * one
        per_wake = (one - per_request) / k_one
    return per_request, per_wake


def _bisect(
    f: Callable[[float], float], target: float, lo: float, hi: float, *, increasing: bool
) -> float:
    """The x in [lo, hi] where the monotone ``f`` meets ``target`` (an end if it never does)."""
    def below(x: float) -> bool:
        return (f(x) < target) if increasing else (f(x) > target)

    if not below(lo):
        return lo
    if below(hi):
        return hi
    for _ in range(25):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if below(mid) else (lo, mid)
    return (lo + hi) / 2


def _split(actor: str, cpu_s: float, shares: dict[str, float]) -> dict[str, float]:
    """``cpu_s`` per request split into ``{actor}_{step}_cpu_s`` costs by ``shares``."""
    return {f"{actor}_{step}_cpu_s": cpu_s * share for step, share in shares.items()}


def _with_loop(costs: Costs, c1_cpu_s: float, iterations: float, iteration_s: float) -> Costs:
    """Costs whose loop spends ``iteration_s`` per select() round and the rest of the C = 1
    CPU per request (``iterations`` rounds per request at C = 1)."""
    per_request = max(c1_cpu_s - iterations * iteration_s, 0.1 * c1_cpu_s)
    steps = max(per_request - LOOP_CALLBACKS * costs.loop_callback_cpu_s, 0.1 * per_request)
    return replace(costs, loop_iteration_cpu_s=iteration_s, **_split("loop", steps, LOOP_SHARES))


def _worker_wakes(costs: Costs, run: CpuRun) -> float:
    """Workers woken from select() per request in the model of a Django run."""
    sc = Scenario(server=DJANGO, sleep_s=run.sleep_s, concurrency=run.concurrency,
                  requests=run.requests, workers=run.workers)
    return simulate(sc, costs=costs, keep_records=False, fast_forward=False).worker_wakes / (
        run.requests
    )


def _with_workers(costs: Costs, one: CpuRun, herd: CpuRun) -> Costs:
    """Split the workers' CPU per request into a per-request part and a per-wake-up part
    (select() returning and accept() tried): one worker at C = 1 is woken about once per
    request, three idle workers are all woken by every connection (the thundering herd)."""
    for _ in range(3):
        k_one, k_herd = _worker_wakes(costs, one), _worker_wakes(costs, herd)
        # The herd run is the one with more wake-ups per request: it plays the C = 1 role of
        # `_two_parts`, and its per-request part is the single worker's.
        per_request, per_wake = _two_parts(herd.server_cpu_s, one.server_cpu_s, k_herd, k_one)
        costs = replace(
            costs, worker_herd_cpu_s=per_wake, **_split("worker", per_request, WORKER_SHARES)
        )
    return costs


def fit_switch_loss(costs: Costs, run: CpuRun) -> float:
    """The share of the cores lost to time-slicing that makes the model's throughput match an
    oversubscribed run (more busy workers than cores)."""
    sc = Scenario(
        server=DJANGO, sleep_s=run.sleep_s, concurrency=run.concurrency, requests=run.requests,
        workers=run.workers,
    )
    return _bisect(
        lambda loss: predict(sc, costs=replace(costs, switch_loss=loss)).requests_per_second,
        run.requests_per_second, 0.0, 0.6, increasing=False,
    )


def _tau_s(warm: float, mid: float, cold: float, gap_s: float) -> float:
    frac = (mid - warm) / (cold - warm) if cold > warm else 0.0
    if not 0.02 < frac < 0.98:
        return DEFAULT_COSTS.cold_tau_s
    return min(max(-gap_s / math.log(1 - frac), 1e-3), 0.1)


def fit(
    runs: dict[str, CpuRun],
    ts_over: float,
    aio_over: float,
    progress: Callable[[str], None] = lambda _msg: None,
) -> tuple[Costs, list[float]]:
    """The model's costs from the calibration runs (and the wake-up fits, for the record)."""
    aw, ac, asat = runs["aiohttp warm"], runs["aiohttp cold"], runs["aiohttp saturated"]
    dw, dc, dm = runs["django warm"], runs["django cold"], runs["django mid"]
    ab_warm = (aw.ab_cpu_s + dw.ab_cpu_s) / 2
    ab_cold = (ac.ab_cpu_s + dc.ab_cpu_s) / 2
    if min(aw.server_cpu_s, asat.server_cpu_s, dw.server_cpu_s, ab_warm) <= 0:
        raise CalibrationError("measured CPU per request is not positive; is /proc readable?")
    costs = replace(
        DEFAULT_COSTS,
        ab_cold_cpu_s=max(ab_cold - ab_warm, 0.0),
        loop_cold_cpu_s=max(ac.server_cpu_s - aw.server_cpu_s, 0.0),
        worker_cold_cpu_s=max(dc.server_cpu_s - dw.server_cpu_s, 0.0),
        cold_tau_s=_tau_s(dw.server_cpu_s, dm.server_cpu_s, dc.server_cpu_s, MID_SLEEP_S),
        time_sleep_overshoot_s=max(ts_over, 0.0),
        timer_overshoot_s=max(aio_over, 0.0),
        wakeup_s=0.0,
        source="calibrated",
    )
    progress("splitting per-request and per-wake-up CPU")
    costs = _with_workers(costs, dw, runs["django herd"])
    for _ in range(3):
        k1, w1 = _counts(costs, 1, WARM_N)
        k2, w2 = _counts(costs, SAT_C, SAT_N)
        ab_req, ab_poll = _two_parts(ab_warm, asat.ab_cpu_s, w1, w2)
        costs = replace(costs, ab_poll_cpu_s=ab_poll, **_split("ab", ab_req, AB_SHARES))
    # The loop's select() round: the cost that makes the model's saturated run as fast as the
    # real one, the rest of the C = 1 CPU being per request (a dearer round leaves less per
    # request, so the saturated model, which shares rounds, gets faster).
    saturated = Scenario(server=AIOHTTP, sleep_s=0.0, concurrency=SAT_C, requests=SAT_N)
    iteration_s = _bisect(
        lambda i: predict(saturated, costs=_with_loop(costs, aw.server_cpu_s, k1, i))
        .requests_per_second,
        asat.requests_per_second, 0.0, aw.server_cpu_s / k1, increasing=True,
    )
    costs = _with_loop(costs, aw.server_cpu_s, k1, iteration_s)
    progress("fitting the share lost to time-slicing")
    costs = replace(costs, switch_loss=fit_switch_loss(costs, runs["django oversubscribed"]))
    progress("fitting the wake-up latency")
    wakeups = [
        fit_wakeup_s(costs, DJANGO, dc.time_per_request_ms, COLD_SLEEP_S),
        fit_wakeup_s(costs, AIOHTTP, ac.time_per_request_ms, COLD_SLEEP_S),
    ]
    return replace(costs, wakeup_s=statistics.fmean(wakeups)), wakeups


def _measured(runs: dict[str, CpuRun], ts_over: float, aio_over: float,
              wakeups: list[float]) -> dict[str, object]:
    measured: dict[str, object] = {
        name: {
            "server": r.server,
            "sleep_s": r.sleep_s,
            "requests": r.requests,
            "server_cpu_us_per_request": round(r.server_cpu_s * 1e6, 1),
            "ab_cpu_us_per_request": round(r.ab_cpu_s * 1e6, 1),
            "time_per_request_ms": r.time_per_request_ms,
            "concurrency": r.concurrency,
            "workers": r.workers,
            "requests_per_second": round(r.requests_per_second, 2),
            "repeats": r.repeats,
            **({} if r.rps_spread_pct is None else {"rps_spread_pct": round(r.rps_spread_pct, 1)}),
        }
        for name, r in runs.items()
    }
    measured["time_sleep_overshoot_us"] = round(ts_over * 1e6, 1)
    measured["asyncio_sleep_overshoot_us"] = round(aio_over * 1e6, 1)
    measured["wakeup_fits_us"] = [round(w * 1e6, 1) for w in wakeups]
    return measured


def calibrate(progress: Callable[[str], None] = lambda _msg: None) -> Calibration:
    """Measure this machine (about 45 s) and fit the model's costs."""
    runs, ts_over, aio_over = measure(progress)
    costs, wakeups = fit(runs, ts_over, aio_over, progress)
    return Calibration(
        costs=costs,
        measured=_measured(runs, ts_over, aio_over, wakeups),
        machine=machine_facts(),
        created=now_text(),
    )


def refit(calibration: Calibration, progress: Callable[[str], None] = lambda _msg: None) -> (
    Calibration
):
    """Fit again the runs a calibration file recorded (after the fitting has changed)."""
    runs, ts_over, aio_over = calibration.recorded_runs()
    missing = [name for name in RUN_NAMES if name not in runs]
    if missing:
        raise CalibrationError(
            f"{calibration.path or 'the calibration'} has no measured run {missing[0]!r} to "
            f"refit (it records {', '.join(runs) or 'none'})"
        )
    costs, wakeups = fit(runs, ts_over, aio_over, progress)
    return Calibration(
        costs=costs,
        measured=_measured(runs, ts_over, aio_over, wakeups),
        machine=calibration.machine,
        created=calibration.created,
    )


def measure(progress: Callable[[str], None]) -> tuple[dict[str, CpuRun], float, float]:
    """The real runs calibration fits on, and the two sleep overshoots."""
    runs: dict[str, CpuRun] = {}
    for name, kind, sleep_s, n, c, w in PLAN:
        workers = f", {w} workers" if w > 1 else ""
        progress(f"{name}: ab -n {n} -c {c}, sleep {sleep_s:g} s{workers}, {REPEATS} runs")
        runs[name] = measure_cpu(kind, sleep_s, n, concurrency=c, workers=w, repeats=REPEATS)
    progress("sleep overshoots")
    return runs, time_sleep_overshoot_s(), asyncio_sleep_overshoot_s()


