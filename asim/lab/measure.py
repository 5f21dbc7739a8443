"""Measuring the real servers for calibration: CPU per request of both sides and sleep overshoots.

- CPU per request of the server processes: on-CPU nanoseconds from /proc/<pid>/task/*/schedstat
  of every process in the server's group, before and after ab;
- CPU per request of ab: getrusage(RUSAGE_CHILDREN) around the ab run (ab is our child);
- the overshoot of time.sleep and of asyncio.sleep, in this Python, 10 ms sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asim.errors import InputError
from asim.lab.abrun import run_ab
from asim.lab.procs import (
    DeferredStops,
    RunningServer,
    ServerSpec,
    raise_pending_interrupt,
    running_server,
)

WARMUP_N, WARMUP_C = 50, 10  # the burst every calibration server serves before it is measured


@dataclass(frozen=True, kw_only=True)
class CpuRun:
    """One calibration measurement: the medians of its repeated ab runs, with the CPU both
    sides used per request."""

    server: str
    sleep_s: float
    requests: int
    concurrency: int
    workers: int
    requests_per_second: float
    server_cpu_s: float
    ab_cpu_s: float
    time_per_request_ms: float
    repeats: int = 1
    rps_spread_pct: float | None = None  # (max - min) / median of the repeats' RPS
    every_rps: tuple[float, ...] = ()  # each repeat's RPS, in the order they ran
    # CPU per request of the server processes' main threads (None: not measured); with it,
    # server_cpu_s counts every thread, the ended ones too (`process_cpu_s`).
    main_cpu_s: float | None = None


def group_cpu_s(server: RunningServer) -> float:
    total_ns = 0
    for pid in server.pids():
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                total_ns += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that ended between listing and reading
    return total_ns / 1e9


def process_cpu_s(server: RunningServer) -> float:
    """CPU seconds the server's processes have used so far, every thread counted, the ended ones
    too: each process's CPU-time clock (clock_getcpuclockid), nanoseconds from the scheduler.
    A server that makes a thread per request (Django under uvicorn, asgiref) loses most of its
    threads before the second reading of `group_cpu_s` (docs/notes/measurements.md, 13.4)."""
    total = 0.0
    for pid in server.pids():
        try:
            total += time.clock_gettime(_process_clock(pid))
        except OSError:
            continue  # a process that ended between listing and reading
    return total


def main_threads_cpu_s(server: RunningServer) -> float:
    """CPU seconds of the server processes' main threads (the event loops, gunicorn's worker or
    accept loops): the others are thread pools and per-request threads."""
    total_ns = 0
    for pid in server.pids():
        try:
            total_ns += int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total_ns / 1e9


def _process_clock(pid: int) -> int:
    # glibc's clock_getcpuclockid: MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED).
    return ((~pid) << 3) | 2


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


@dataclass(frozen=True, kw_only=True)
class CpuPlan:
    """One measurement of `measure_rounds`: ``ab -n requests -c concurrency`` against a server
    of ``kind`` whose handler sleeps ``sleep_s``."""

    name: str
    kind: str
    sleep_s: float
    requests: int
    concurrency: int = 1
    workers: int = 1
    threads: int | None = None

    @property
    def server(self) -> ServerSpec:
        return ServerSpec(kind=self.kind, sleep_s=self.sleep_s, workers=self.workers,
                          threads=self.threads)


# One ab run of a `measure_rounds` piece: RPS, CPU per request of the server, of ab and of the
# server's main threads, time per request (ms).
@dataclass(frozen=True)
class _Piece:
    rps: float
    server_cpu_s: float
    ab_cpu_s: float
    main_cpu_s: float
    time_per_request_ms: float
    requests: int


def measure_rounds(
    plans: Sequence[CpuPlan],
    rounds: int,
    *,
    every_thread: bool = False,
    stops: DeferredStops | None = None,
) -> dict[str, CpuRun]:
    """Measure every plan ``rounds`` times, interleaved: each round runs one ab of every plan in
    order, and each plan's result holds the medians of its rounds (throughput, CPU per request
    of both sides) with their spread.

    One ab run of a second or less moves by 10-30 % from the next on this machine, mostly
    independently of it (docs/notes/measurements.md, section 41): the median of several keeps
    one slow or fast run from becoming the model's constant. Interleaving puts the pieces of
    every plan in the same minute, so that a slower stretch of the machine falls on all of them
    alike and does not become the difference between two of them (a warm run's CPU above the
    saturated run's is what pins the loop's select() round, a cold run's above the warm one's
    the cold extras).

    Plans that need the same server share it: each distinct server starts once, then each first
    serves a short concurrent burst (`WARMUP_N` requests at `WARMUP_C`): a fresh aiohttp process
    that has only seen one request at a time takes two page faults per request (glibc serves
    asyncio's 256 KiB recv buffer with mmap until a burst raises its dynamic mmap threshold) and
    runs ~5-7 % slower than the same process after any burst, which is the state every measured
    run after the first of a validate series is in (docs/notes/measurements.md, section 12).
    The servers that are not measured wait idle.

    ``every_thread`` (the shapes with thread pools or per-request threads): the server's CPU is
    read from the processes' CPU-time clocks, which count the threads that ended during the run,
    and the main threads' CPU is measured too (``main_cpu_s``).

    ``stops``: the servers of the measurements before, told to stop: these start while they
    shut down, and they are gone before the first warm-up; these are left to ``stops`` in
    turn."""
    if rounds < 1:
        raise InputError(f"rounds must be >= 1, got {rounds}")
    server_cpu = process_cpu_s if every_thread else group_cpu_s
    pieces: dict[str, list[_Piece]] = {p.name: [] for p in plans}
    with contextlib.ExitStack() as stack:
        servers: dict[ServerSpec, RunningServer] = {}
        for plan in plans:
            if plan.server not in servers:
                servers[plan.server] = stack.enter_context(
                    running_server(plan.server, stops=stops))
        if stops is not None:
            stops.wait()
        for srv in servers.values():
            run_ab(srv.url, requests=WARMUP_N, concurrency=WARMUP_C).checked()
        for _ in range(rounds):
            for plan in plans:
                raise_pending_interrupt()
                srv = servers[plan.server]
                main_before = main_threads_cpu_s(srv)
                srv_before, ab_before = server_cpu(srv), children_cpu_s()
                report = run_ab(srv.url, requests=plan.requests,
                                concurrency=plan.concurrency).checked()
                srv_after, ab_after = server_cpu(srv), children_cpu_s()
                main_after = main_threads_cpu_s(srv)
                done = report.complete_requests
                pieces[plan.name].append(_Piece(
                    rps=report.requests_per_second,
                    server_cpu_s=(srv_after - srv_before) / done,
                    ab_cpu_s=(ab_after - ab_before) / done,
                    main_cpu_s=(main_after - main_before) / done,
                    time_per_request_ms=report.time_per_request_ms,
                    requests=done,
                ))
    return {p.name: _cpu_run(p, pieces[p.name], every_thread=every_thread) for p in plans}


def _cpu_run(plan: CpuPlan, pieces: Sequence[_Piece], *, every_thread: bool) -> CpuRun:
    def median(field: str) -> float:
        return statistics.median(getattr(piece, field) for piece in pieces)

    rps = median("rps")
    every_rps = tuple(piece.rps for piece in pieces)
    return CpuRun(
        server=plan.kind,
        sleep_s=plan.sleep_s,
        requests=pieces[-1].requests,
        concurrency=plan.concurrency,
        workers=plan.workers,
        requests_per_second=rps,
        server_cpu_s=median("server_cpu_s"),
        ab_cpu_s=median("ab_cpu_s"),
        time_per_request_ms=median("time_per_request_ms"),
        repeats=len(pieces),
        rps_spread_pct=(max(every_rps) - min(every_rps)) / rps * 100 if rps > 0 else None,
        every_rps=every_rps,
        main_cpu_s=median("main_cpu_s") if every_thread else None,
    )


def measure_cpu(
    kind: str,
    sleep_s: float,
    requests: int,
    *,
    concurrency: int = 1,
    workers: int = 1,
    repeats: int = 1,
    threads: int | None = None,
    every_thread: bool = False,
    stops: DeferredStops | None = None,
) -> CpuRun:
    """Run the real server and ab -n requests -c concurrency ``repeats`` times back to back:
    `measure_rounds` of one plan."""
    plan = CpuPlan(name=kind, kind=kind, sleep_s=sleep_s, requests=requests,
                   concurrency=concurrency, workers=workers, threads=threads)
    return measure_rounds([plan], repeats, every_thread=every_thread, stops=stops)[kind]


def time_sleep_overshoot_s(n: int = 100, sleep_s: float = 0.01) -> float:
    over = []
    for _ in range(n):
        t0 = time.perf_counter()
        time.sleep(sleep_s)
        over.append(time.perf_counter() - t0 - sleep_s)
    return statistics.median(over)


def asyncio_sleep_overshoot_s(n: int = 100, sleep_s: float = 0.01) -> float:
    async def run() -> list[float]:
        loop = asyncio.get_running_loop()
        over = []
        for _ in range(n):
            t0 = loop.time()
            await asyncio.sleep(sleep_s)
            over.append(loop.time() - t0 - sleep_s)
        return over

    return statistics.median(asyncio.run(run()))


