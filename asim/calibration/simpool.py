"""The calibration fits' simulations, in worker processes.

A fit (`asim.calibration.fit`, `asim.calibration.shapes_fit`) simulates every calibration run at
each trial point and, for the finite-difference Jacobian, once more per parameter: hundreds to a
few thousand independent simulations of 3-8 ms each, nothing measured meanwhile. `OutcomePool`
computes a batch of them in ``jobs`` processes (one per core). The model is deterministic, so each
outcome is the one this process would compute, and a fit makes the same steps to the same result
whichever pool computed its simulations (tests/test_calibration_pool.py).

`asim calibrate` fits while it measures the servers' memory (`asim.calibration.fit.calibrate`), with
the workers at a lower priority (``nice=NICE``) so that those servers, ab and the memory sampler
come first (a refit alone runs them at the normal priority: a niced fit on a busy machine waits).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Sequence

from asim.calibration.knobs import Outcome, model_outcome
from asim.lab.measure import CpuRun
from asim.sim.costs import Costs
from asim.sim.spec import machine_cores

# One simulation to do: the run, the costs, at most this many of its requests (None: all).
Task = tuple[CpuRun, Costs, int | None]
NICE = 10  # the workers' niceness: CFS gives a nice-0 task ~9 times their share of a core
CHUNKS_PER_JOB = 2  # a batch goes out in this many pieces per worker (fewer messages)


def _outcomes(tasks: Sequence[Task]) -> list[Outcome]:
    return [model_outcome(run, costs, max_requests) for run, costs, max_requests in tasks]


def _worker_start(nice: int) -> None:
    if nice:
        os.nice(nice)


class OutcomePool:
    """Simulate batches of calibration runs in ``jobs`` processes (default: one per core);
    ``jobs=1`` simulates in this process; ``nice`` lowers the workers' priority. Use as a
    context manager: leaving it stops the workers without waiting for simulations nobody will
    read."""

    def __init__(self, jobs: int | None = None, *, nice: int = 0) -> None:
        self.jobs = max(1, machine_cores() if jobs is None else jobs)
        self.nice = nice
        self._executor: cf.ProcessPoolExecutor | None = None

    def __enter__(self) -> OutcomePool:
        if self.jobs > 1:
            # forkserver: the workers fork from a clean server process, not from this one,
            # whose other threads (the memory runs) may hold locks that fork would copy.
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["asim.calibration.simpool"])
            self._executor = cf.ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx,
                                                    initializer=_worker_start,
                                                    initargs=(self.nice,))
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers; a batch asked for afterwards raises RuntimeError."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def outcomes(self, tasks: Sequence[Task]) -> list[Outcome]:
        """The model's outcome of every task, in order."""
        if self._executor is None or len(tasks) < 2:
            return _outcomes(tasks)
        pieces = min(len(tasks), self.jobs * CHUNKS_PER_JOB)
        chunks = [tasks[i::pieces] for i in range(pieces)]  # interleaved: long runs spread
        done = list(self._executor.map(_outcomes, chunks))
        results: list[Outcome | None] = [None] * len(tasks)
        for i, chunk in enumerate(done):
            results[i::pieces] = chunk
        return results  # type: ignore[return-value]
