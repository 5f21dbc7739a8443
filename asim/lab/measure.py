"""Measuring the real servers for calibration: CPU per request of both sides and sleep overshoots.

- CPU per request of the server processes: on-CPU nanoseconds from /proc/<pid>/task/*/schedstat
  of every process in the server's group, before and after ab;
- CPU per request of ab: getrusage(RUSAGE_CHILDREN) around the ab run (ab is our child);
- the overshoot of time.sleep and of asyncio.sleep, in this Python, 10 ms sleeps.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from asim.lab.abrun import run_ab
from asim.lab.procs import DeferredStops, RunningServer, ServerSpec, running_server

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
    """Run the real server and ab -n requests -c concurrency ``repeats`` times back to back;
    the median of each measure (throughput, CPU per request of both sides) over the repeats.

    One run of a few hundred milliseconds moves by 10-30 % on this machine from one run to the
    next (docs/notes/measurements.md, section 6); the median of a few keeps one slow or fast
    run from becoming the model's constant.

    The server first serves a short concurrent burst (`WARMUP_N` requests at `WARMUP_C`): a
    fresh aiohttp process that has only seen one request at a time takes two page faults per
    request (glibc serves asyncio's 256 KiB recv buffer with mmap until a burst raises its
    dynamic mmap threshold) and runs ~5-7 % slower than the same process after any burst, which
    is the state every measured run after the first of a validate series is in
    (docs/notes/measurements.md, section 12).

    ``every_thread`` (the shapes with thread pools or per-request threads): the server's CPU is
    read from the processes' CPU-time clocks, which count the threads that ended during the run,
    and the main threads' CPU is measured too (``main_cpu_s``).

    ``stops``: the servers of the measurements before, told to stop: this one starts while they
    shut down, and they are gone before its warm-up; it is left to ``stops`` in turn."""
    runs: list[tuple[float, float, float, float, float]] = []
    server_cpu = process_cpu_s if every_thread else group_cpu_s
    spec = ServerSpec(kind=kind, sleep_s=sleep_s, workers=workers, threads=threads)
    with running_server(spec, stops=stops) as srv:
        if stops is not None:
            stops.wait()
        run_ab(srv.url, requests=WARMUP_N, concurrency=WARMUP_C).checked()
        for _ in range(repeats):
            main_before = main_threads_cpu_s(srv)
            srv_before, ab_before = server_cpu(srv), children_cpu_s()
            report = run_ab(srv.url, requests=requests, concurrency=concurrency).checked()
            srv_after, ab_after = server_cpu(srv), children_cpu_s()
            main_after = main_threads_cpu_s(srv)
            done = report.complete_requests
            runs.append((
                report.requests_per_second,
                (srv_after - srv_before) / done,
                (ab_after - ab_before) / done,
                report.time_per_request_ms,
                (main_after - main_before) / done,
            ))
    rps, server_cpu_s, ab_cpu_s, tpr_ms, main_cpu_s = (
        statistics.median(col) for col in zip(*runs, strict=True)
    )
    every_rps = [r[0] for r in runs]
    return CpuRun(
        server=kind,
        sleep_s=sleep_s,
        requests=done,
        concurrency=concurrency,
        workers=workers,
        requests_per_second=rps,
        server_cpu_s=server_cpu_s,
        ab_cpu_s=ab_cpu_s,
        time_per_request_ms=tpr_ms,
        repeats=repeats,
        rps_spread_pct=(max(every_rps) - min(every_rps)) / rps * 100 if rps > 0 else None,
        every_rps=tuple(every_rps),
        main_cpu_s=main_cpu_s if every_thread else None,
    )


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


