"""Run a grid of predictions in this process, in local worker processes, or on a Dask cluster.

`Sweep` takes `Scenario` records and yields one `Outcome` per scenario, in the grid's order,
each as soon as it and every scenario before it are done: the points are the same whichever
executor ran them (the model is deterministic), and the output reads the same too, because a
grid's order is part of what `asim predict` prints. A task that fails (the model predicts that
ab aborts, a worker process dies, a cluster loses a task) becomes an `Outcome` carrying its
scenario and the error, so the rest of the grid still arrives and the failure is reported.

Executors:
- ``jobs=1``: this process, one scenario after another.
- ``jobs=N`` (N > 1): the first scenarios run here until `SERIAL_BUDGET_S` has passed, the rest
  in N local processes. Starting those processes (each imports numpy and SimPy) costs about as
  much as the whole seed grid, so a small grid never pays for it.
- ``scheduler=ADDRESS``: every scenario is a task on an existing Dask distributed cluster
  (``dask.distributed.Client(ADDRESS)``, or a ``Client``/``LocalCluster`` given directly);
  its workers need asim installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from asim.errors import AsimError, InputError, SweepError
from asim.grid import DES, Prediction, predict
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.memory import DEFAULT_MEMORY, MemoryCosts
from asim.sim.spec import Scenario, machine_cores

# Seconds of simulation this process does itself before it starts local worker processes.
SERIAL_BUDGET_S = 0.5
MAX_JOBS = 256
SCHEDULER_TIMEOUT_S = 10  # to connect to a --scheduler address


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One scenario's points (one per method, in the methods' order) or the error it raised."""

    index: int
    scenario: Scenario
    points: tuple[Prediction, ...] = ()
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True, kw_only=True)
class Job:
    """What every task of a sweep shares: the methods, the costs and ``exact``."""

    methods: tuple[str, ...] = (DES,)
    costs: Costs = DEFAULT_COSTS
    exact: bool = False
    memory: MemoryCosts = DEFAULT_MEMORY


def run_one(job: Job, index: int, scenario: Scenario) -> Outcome:
    """One task: predict ``scenario`` by every method of ``job`` (module level: it is pickled
    by name for worker processes and Dask workers)."""
    try:
        points = predict(scenario, method=job.methods, costs=job.costs, exact=job.exact,
                         memory=job.memory)
    except AsimError as exc:  # e.g. the model predicts that ab aborts: a result, not a crash
        return Outcome(index=index, scenario=scenario, error=str(exc))
    return Outcome(index=index, scenario=scenario, points=tuple(points))


def check_jobs(jobs: int) -> int:
    """``jobs`` itself, or this machine's cores for 0; an InputError outside 0..MAX_JOBS."""
    if not 0 <= jobs <= MAX_JOBS:
        raise InputError(f"--jobs must be between 1 and {MAX_JOBS} (0: this machine's cores), "
                         f"got {jobs}")
    return jobs or machine_cores()


def sweep_points(
    scenarios: Sequence[Scenario],
    job: Job = Job(),
    *,
    jobs: int = 0,
    scheduler: object | None = None,
) -> list[Prediction]:
    """Every point of ``scenarios``, scenario-major as `asim.grid.predict` returns them, from
    whichever executor; a SweepError naming each scenario that failed."""
    with Sweep(jobs=jobs, scheduler=scheduler) as sweep:
        outcomes = list(sweep.run(scenarios, job))
    failed = [f"{o.scenario.label()}: {o.error}" for o in outcomes if o.failed]
    if failed:
        raise SweepError(f"{len(failed)} of {len(outcomes)} scenarios failed: {'; '.join(failed)}")
    return [p for o in outcomes for p in o.points]


class Sweep:
    """An executor for many `run_one` tasks; use it as a context manager (it owns a process
    pool or a Dask client).

    ``scheduler`` is a Dask scheduler address, or a ``distributed.Client`` / ``LocalCluster``
    object; it takes precedence over ``jobs``. ``serial_budget_s`` is how many seconds of
    tasks run in this process before local workers start (tests set 0 to force them).
    """

    def __init__(
        self,
        *,
        jobs: int = 0,
        scheduler: object | None = None,
        serial_budget_s: float = SERIAL_BUDGET_S,
    ) -> None:
        self.jobs = check_jobs(jobs)
        self.scheduler = scheduler
        self.serial_budget_s = serial_budget_s
        self._serial_s = 0.0
        self._pool: cf.ProcessPoolExecutor | None = None
        self._client = None
        self._own_client = False

    @property
    def width(self) -> int:
        """How many tasks are worth submitting at once (a search's batch size)."""
        if self._client is not None:
            workers = self._client.scheduler_info().get("workers", {}).values()
            return max(1, sum(w.get("nthreads", 1) for w in workers))
        return self.jobs

    def __enter__(self) -> Sweep:
        if self.scheduler is not None:
            self._client, self._own_client = _dask_client(self.scheduler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None and self._own_client:
            self._client.close()
        self._client = None

    def run(
        self,
        scenarios: Sequence[Scenario],
        job: Job,
        *,
        on_done: Callable[[Outcome], None] | None = None,
    ) -> Iterator[Outcome]:
        """Yield one `Outcome` per scenario, in order, each once it and all before it are done.

        ``on_done`` is called for each outcome as it finishes, in any order (a progress bar).
        """
        done = on_done or (lambda _o: None)
        items = list(enumerate(scenarios))
        if self._client is not None:
            yield from _in_order(self._dask_futures(items, job), len(items), done)
            return
        start = 0
        while start < len(items) and (self.jobs == 1 or self._serial_s < self.serial_budget_s):
            t0 = time.perf_counter()
            outcome = run_one(job, *items[start])
            self._serial_s += time.perf_counter() - t0
            done(outcome)
            yield outcome
            start += 1
        if start < len(items):
            pool = self._local_pool()
            futures = {pool.submit(run_one, job, i, s): (i, s) for i, s in items[start:]}
            yield from _in_order(_local_completions(futures), len(items) - start, done,
                                 first=start)

    def _local_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers fork from a clean server process, not from this one, which
            # may be running a progress bar's thread (fork copies locks held by other threads).
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["asim.sweep"])
            self._pool = cf.ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx)
        return self._pool

    def _dask_futures(self, items, job: Job) -> Iterator[tuple[int, Scenario, object]]:
        # pure=False: two equal scenarios in one grid are two tasks and two rows of output,
        # not one task under one key.
        futures = {self._client.submit(run_one, job, i, s, pure=False): (i, s) for i, s in items}
        from distributed import as_completed  # dask is imported only with --scheduler

        for future in as_completed(futures):
            i, s = futures[future]
            yield i, s, future


def _dask_client(scheduler: object):
    """A ``distributed.Client`` for ``scheduler`` and whether this sweep must close it."""
    # dask is imported here, not at module level: importing distributed takes 0.3-1 s, which
    # every `asim predict` would otherwise pay.
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask's distributed scheduler: "
                         "pip install 'dask[distributed]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s"), True
    except OSError as exc:
        raise InputError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})") \
            from None


def _local_completions(futures: dict) -> Iterator[tuple[int, Scenario, object]]:
    for future in cf.as_completed(futures):
        i, s = futures[future]
        yield i, s, future


def _in_order(
    completions: Iterable[tuple[int, Scenario, object]],
    count: int,
    done: Callable[[Outcome], None],
    *,
    first: int = 0,
) -> Iterator[Outcome]:
    """Outcomes from futures completing in any order, yielded in index order from ``first``."""
    waiting: dict[int, Outcome] = {}
    following = first
    for i, scenario, future in completions:
        outcome = _outcome(i, scenario, future)
        done(outcome)
        waiting[i] = outcome
        while following in waiting:
            yield waiting.pop(following)
            following += 1
    if following != first + count:  # pragma: no cover - every future completes
        raise RuntimeError(f"sweep lost tasks {following}..{first + count - 1}")


def _outcome(index: int, scenario: Scenario, future) -> Outcome:
    """The task's own outcome, or its scenario with the error that kept it from returning
    (a worker process that died, a task the cluster lost or could not run)."""
    try:
        return future.result()
    except Exception as exc:  # any cause: reported with its scenario, never dropped
        return Outcome(index=index, scenario=scenario,
                       error=f"{type(exc).__name__}: {exc}".rstrip(": "))
