"""`simulate` and `ab_report`: one ab run against one server shape on a K-core machine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from asim.errors import InputError, PredictedAbortError
from asim.sim.abclient import AbClient, RequestRecord
from asim.sim.abreport import AbReport
from asim.sim.conn import Backlog
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.fastforward import FastForward
from asim.sim.machine import Clock, Cpu
from asim.sim.spec import Scenario
from asim.sim.usage import AB, CORES, Meter, Usage, busiest, usages


@dataclass(frozen=True, kw_only=True)
class Jitter:
    """Random variation of the handler's sleep: ``sleep * factor`` with mean-1 factors.

    ``kind`` is ``exponential`` (cv 1, ``cv`` ignored), ``lognormal`` or ``uniform`` (with
    coefficient of variation ``cv``).
    """

    kind: str = "lognormal"
    cv: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in ("exponential", "lognormal", "uniform"):
            raise InputError(
                f"jitter kind must be exponential, lognormal or uniform, not {self.kind!r}"
            )
        if not self.cv >= 0:
            raise InputError(f"jitter cv must be >= 0, got {self.cv}")
        if self.kind == "uniform" and self.cv > 3**-0.5:
            raise InputError(f"uniform jitter cv must be at most 1/sqrt(3), got {self.cv}")

    def sampler(self, sleep_s: float, rng: np.random.Generator) -> Callable[[], float]:
        if self.kind == "exponential":
            return lambda: float(rng.exponential(sleep_s))
        if self.kind == "uniform":
            half = self.cv * 3**0.5
            return lambda: sleep_s * float(rng.uniform(1 - half, 1 + half))
        sigma2 = np.log1p(self.cv**2)
        mu, sigma = -sigma2 / 2, float(np.sqrt(sigma2))
        return lambda: sleep_s * float(rng.lognormal(mu, sigma))


@dataclass(frozen=True, kw_only=True)
class SimRun:
    """A simulated ab run: the report ab would print plus the per-request stamps behind it."""

    scenario: Scenario
    report: AbReport
    records: tuple[RequestRecord, ...] = field(repr=False)
    loop_batches: tuple[int, ...] = ()
    loop_iterations: int = 0
    ab_wakes: int = 0
    worker_wakes: int = 0
    accept_queue_peak: int = 0
    accept_queue_capacity: int = 0
    syns_dropped: int = 0
    skipped_requests: int = 0
    extrapolated_requests: int = 0
    stored_requests: int = 0  # samples held in memory; the skipped ones are counted, not held
    # CPU per request, as `asim calibrate` measures it on the real processes (ab's own thread,
    # and every other thread: the server's); skipped and extrapolated requests count what the
    # requests they copy used.
    ab_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    # Of the drops, those of the connections of ab's first burst (`AcceptQueue`), how full
    # those connections found the queue, and how many connections that burst opened.
    first_burst_dropped: int = 0
    first_burst_peak: int = 0
    first_burst_size: int = 0
    # With several workers that keep what they accept (gthread, uvicorn): how many connections
    # of ab's first burst each worker accepted (empty otherwise).
    first_burst_split: tuple[int, ...] = ()
    usage: tuple[Usage, ...] = ()  # each resource's busy share of the run (`asim.sim.usage`)

    @property
    def exact(self) -> bool:
        """True when the report is the full simulation's (nothing was extrapolated)."""
        return self.extrapolated_requests == 0

    @property
    def bottleneck(self) -> Usage | None:
        """The busiest resource of the run."""
        return busiest(self.usage)


def _split(taken: list[int], workers: int) -> tuple[int, ...]:
    """Each worker's share of ab's first burst, for servers whose workers take connections
    from the queue themselves (`AcceptQueue.take`); empty for one worker."""
    if workers < 2 or not taken:
        return ()
    return tuple(taken) + (0,) * (workers - len(taken))


def simulate(
    scenario: Scenario,
    *,
    costs: Costs | None = None,
    jitter: Jitter | None = None,
    seed: int | np.random.Generator | None = None,
    keep_records: bool = True,
    fast_forward: bool = True,
    exact: bool = False,
    backlog: Backlog | None = None,
    watch: Callable[[object], None] | None = None,
) -> SimRun:
    """Run the model of ``ab -n N -c C [-k]`` against ``scenario``'s server.

    ``fast_forward`` lets a deterministic run without kept records skip the cycles it repeats
    (`asim.sim.fastforward`); the report is the same as without it. Unless ``exact``, a long
    run that never repeats exactly may instead replicate a measured steady state: the report is
    then an estimate and ``extrapolated_requests`` counts the replicated samples. Without
    ``fast_forward`` every request is simulated. ``backlog`` changes the server's listen
    backlog for the other branch of a race near it (`asim.sim.race`). ``watch`` is called with
    the server model before the run starts (a timeline turns on a thread pool's record of its
    holds).
    """
    costs = costs or DEFAULT_COSTS
    env = Clock()
    cpu = Cpu(env, scenario.cores, switch_loss=costs.switch_loss)
    if jitter is None:
        sleep = scenario.sleep_s
        sleep_s: Callable[[], float] = lambda: sleep  # noqa: E731
    else:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        sleep_s = jitter.sampler(scenario.sleep_s, rng)

    finished = env.event()
    ab = AbClient(
        env,
        cpu,
        costs,
        requests=scenario.requests,
        concurrency=scenario.concurrency,
        keepalive=scenario.keepalive,
        on_finished=lambda: finished.succeed(),
        keep_records=keep_records,
        timeout_s=scenario.ab_timeout_s,
    )
    server = scenario.shape.model(env, cpu, costs, scenario, sleep_s, ab)
    if backlog is not None:
        backlog.apply(server.accept_queue)
    if watch is not None:
        watch(server)
    meters = (Meter(CORES, scenario.cores, lambda: cpu.busy_s),
              Meter(AB, 1, lambda: ab.thread.busy_s))
    server_meters = server.meters()
    ff = None
    if fast_forward and jitter is None and not keep_records:
        ff = FastForward(env, cpu, ab, server, extrapolate=not exact, meters=server_meters)
    ab.begin(server)
    try:
        env.run(until=finished)
    except RuntimeError as exc:  # no event left before ab finished: nothing would ever answer
        raise PredictedAbortError(f"ab would hang, then abort: {exc}") from None

    records = ab.records
    report = AbReport.from_columns(
        ctime_us=np.frombuffer(ab.ctime_us, dtype=np.int64),
        time_us=np.frombuffer(ab.time_us, dtype=np.int64),
        waittime_us=np.frombuffer(ab.waittime_us, dtype=np.int64),
        concurrency=scenario.concurrency,
        time_taken_us=round(ab.last_activity * 1e6),
        failed_requests=ab.length_failures,
        non_2xx_responses=ab.non_2xx,
        keepalive_requests=ab.keepalive_requests if scenario.keepalive else None,
        weights=ab.weights(),
    )
    stats = server.stats()
    skipped, extrapolated = (ff.skipped_requests, ff.extrapolated_requests) if ff else (0, 0)
    # The cores' and ab's counters already hold what a skip added; the server's get it here.
    extra = ff.extra_busy_s if ff else [0.0] * len(server_meters)
    queue = server.accept_queue
    busy_s = (*(m.busy_s() for m in meters),
              *(m.busy_s() + e for m, e in zip(server_meters, extra, strict=True)))
    usage = usages(
        (*meters, *server_meters),
        busy_s,
        run_s=report.time_taken_s,
        accept_queue_peak=queue.peak,
        accept_queue_capacity=queue.capacity,
    )
    return SimRun(
        scenario=scenario,
        report=report,
        records=tuple(records) if keep_records else (),
        loop_batches=stats.batches,
        loop_iterations=stats.iterations,
        ab_wakes=ab.wakes,
        worker_wakes=stats.wakes,
        accept_queue_peak=server.accept_queue.peak,
        accept_queue_capacity=server.accept_queue.capacity,
        syns_dropped=server.accept_queue.dropped,
        skipped_requests=skipped,
        extrapolated_requests=extrapolated,
        stored_requests=len(ab.time_us),
        ab_cpu_s=ab.thread.busy_s / max(ab.done, 1),
        server_cpu_s=(cpu.busy_s - ab.thread.busy_s) / max(ab.done, 1),
        first_burst_dropped=queue.burst_dropped,
        first_burst_peak=queue.burst_peak,
        first_burst_size=queue.burst_size,
        first_burst_split=_split(queue.burst_taken, scenario.workers),
        usage=usage,
    )


def ab_report(
    scenario: Scenario,
    *,
    costs: Costs | None = None,
    jitter: Jitter | None = None,
    seed: int | np.random.Generator | None = None,
    exact: bool = False,
) -> AbReport:
    """What ab would print for ``scenario`` (deterministic unless ``jitter`` is given; see
    `simulate` for ``exact``)."""
    return simulate(
        scenario, costs=costs, jitter=jitter, seed=seed, keep_records=False, exact=exact
    ).report

