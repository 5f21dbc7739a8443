"""Resident memory of a real server: the anonymous PSS of its process group, read from /proc.

asim predicts and measures the server's **anonymous memory**: ``Pss_Anon`` of
/proc/PID/smaps_rollup summed over the server's process group. Anonymous pages (heaps, Python
objects, thread stacks) are shared only between a process and its forks, so the proportional sum
counts each page of the group exactly once: a gunicorn or uvicorn server's W forked workers do
not count the pages they share with their master W + 1 times, as summed RSS does. File-backed
pages (the interpreter and shared libraries, 10-19 MiB per process) are left out: they are shared
with every Python on the machine, so their share moves with whatever else runs
(docs/notes/measurements.md, "Memory"). Whole PSS and RSS are read as well, for the record.

`group_memory` reads the group once; `PeakSampler` samples it in a thread while ab runs and keeps
the peak, so `asim validate` and `asim calibrate` can record the peak next to their numbers.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_EVERY_S = 0.05
# Reading smaps_rollup makes the kernel walk the process's page tables: about 0.7 ms of CPU per
# Django worker, 45 ms for 64 of them. The sampler shares the 2 cores with the server and ab, so
# it waits long enough between samples to use at most this share of one core (one worker: every
# 50 ms; 64 workers: every ~2 s). Memory taken is rarely given back, so a sparse sample and the
# one after the run still find the peak.
SAMPLER_CPU_SHARE = 0.02
KIB_PER_MB = 1024.0  # /proc reports kB (KiB); asim's megabytes are MiB


@dataclass(frozen=True, kw_only=True)
class GroupMemory:
    """One reading of a server group: the sums of anonymous PSS (``memory_mb``, what asim
    predicts), PSS and RSS over its live processes (MiB), the numbers of processes and threads."""

    memory_mb: float
    pss_mb: float
    rss_mb: float
    processes: int
    threads: int


_FIELDS = {b"Pss_Anon:": 0, b"Pss:": 1, b"Rss:": 2}


def process_memory_kib(pid: int) -> tuple[int, int, int] | None:
    """(anonymous PSS, PSS, RSS) of one process in KiB from /proc/PID/smaps_rollup; None once
    it has gone."""
    values: list[int | None] = [None, None, None]
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                index = _FIELDS.get(line.split(maxsplit=1)[0] if line.strip() else b"")
                if index is not None:
                    values[index] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    if None in values:  # a zombie's rollup is empty
        return None
    return values[0], values[1], values[2]


def _threads(pid: int) -> int:
    try:
        return sum(1 for _ in Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0


def group_memory(pids: Sequence[int]) -> GroupMemory:
    """Anonymous PSS, PSS and RSS summed over ``pids`` (processes that have gone are left
    out)."""
    anon = pss = rss = processes = threads = 0
    for pid in pids:
        reading = process_memory_kib(pid)
        if reading is None:
            continue
        anon += reading[0]
        pss += reading[1]
        rss += reading[2]
        processes += 1
        threads += _threads(pid)
    return GroupMemory(memory_mb=anon / KIB_PER_MB, pss_mb=pss / KIB_PER_MB,
                       rss_mb=rss / KIB_PER_MB, processes=processes, threads=threads)


class PeakSampler:
    """Sample a group's memory in a daemon thread, every ``every_s`` or less often when a sample
    costs more CPU than `SAMPLER_CPU_SHARE` allows; keep the peak reading (of ``memory_mb``).

    Use as a context manager around the run to watch; ``pids`` is called before each sample so
    workers that a master replaces are followed. ``peak`` is the reading with the largest PSS
    (one reading is taken on entry, so it exists once the block has started).
    """

    def __init__(self, pids: Callable[[], Sequence[int]], *, every_s: float = SAMPLE_EVERY_S):
        self._pids = pids
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak: GroupMemory | None = None
        self.samples = 0

    def _sample(self) -> None:
        reading = group_memory(self._pids())
        self.samples += 1
        if reading.processes and (self.peak is None or reading.memory_mb > self.peak.memory_mb):
            self.peak = reading

    def _loop(self) -> None:
        wait_s = self._every_s
        while not self._stop.wait(wait_s):
            started = time.thread_time()
            self._sample()
            wait_s = max(self._every_s, (time.thread_time() - started) / SAMPLER_CPU_SHARE)

    def __enter__(self) -> PeakSampler:
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="asim-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()


@dataclass(frozen=True, kw_only=True)
class MemoryRun:
    """One server measured for memory: idle after a warm-up, and the peak under ``ab -c C``."""

    server: str
    workers: int
    concurrency: int
    sleep_s: float
    idle_mb: float
    peak_mb: float
    idle_rss_mb: float
    peak_rss_mb: float

    def to_dict(self) -> dict[str, object]:
        return {"server": self.server, "workers": self.workers, "concurrency": self.concurrency,
                "sleep_s": self.sleep_s, "idle_mb": round(self.idle_mb, 3),
                "peak_mb": round(self.peak_mb, 3), "idle_rss_mb": round(self.idle_rss_mb, 2),
                "peak_rss_mb": round(self.peak_rss_mb, 2)}


def measure_memory(kind: str, *, workers: int = 1, concurrency: int = 0,
                   sleep_s: float = 1.0, settle_s: float = 0.2,
                   ready_timeout_s: float = 30.0) -> MemoryRun:
    """Start ``kind`` with ``workers``, serve a warm-up burst, read the idle memory, then the
    peak during ``ab -n C -c C`` (each of C clients holds one request for ``sleep_s``); with
    ``concurrency=0`` the peak is the idle reading.

    The warm-up is one round of requests in parallel (`WARMUP_C`, at most one per worker of a
    sync pool), so that every process has served a request, as in any run after a validate
    series' first, without waiting many handler sleeps."""
    from asim.lab.abrun import run_ab
    from asim.lab.measure import WARMUP_C
    from asim.lab.procs import ServerSpec, running_server

    spec = ServerSpec(kind=kind, sleep_s=sleep_s, workers=workers)
    # a sync worker serves one request at a time: more than W at once would wait a sleep each
    warm = min(WARMUP_C, workers) if kind == "django" else WARMUP_C
    with running_server(spec, ready_timeout_s=ready_timeout_s) as srv:
        run_ab(srv.url, requests=warm, concurrency=warm, timeout_s=60).checked()
        time.sleep(settle_s)  # let the warm-up's last requests finish in every worker
        idle = group_memory(srv.pids())
        peak = idle
        if concurrency:
            with PeakSampler(srv.pids) as sampler:
                run_ab(srv.url, requests=concurrency, concurrency=concurrency,
                       timeout_s=60).checked()
            peak = sampler.peak or idle
    return MemoryRun(server=kind, workers=workers, concurrency=concurrency, sleep_s=sleep_s,
                     idle_mb=idle.memory_mb, peak_mb=peak.memory_mb, idle_rss_mb=idle.rss_mb,
                     peak_rss_mb=peak.rss_mb)


# What `asim calibrate` measures for memory (four servers side by side, ~13 s: aiohttp's): the
# aiohttp process idle and with C connections held; gunicorn's master and sync workers from two
# worker counts; uvicorn's Django with C requests in flight (a thread and a connection each).
# uvicorn's supervisor (W > 1) keeps its built-in figure: a fifth server for 20 MiB of Python
# that does not change between machines would lengthen every calibration.
# The handler sleeps long enough for all C clients to be connected at once: aiohttp's listen
# backlog is 128, so some of 1000 clients get in only after a 1 s SYN retransmission, and a
# shorter sleep measured 6 KiB per connection where 2 s and more measure 9.5-10.
CALIBRATION_PLAN = (  # server, workers, clients (0: idle only), handler sleep s
    ("aiohttp", 1, 1000, 2.0),
    ("django", 1, 0, 0.0),
    ("django", 3, 0, 0.0),
    ("django-asgi", 1, 200, 1.0),
)


def calibration_runs(progress: Callable[[str], None] = lambda _msg: None) -> list[MemoryRun]:
    """The real servers `asim calibrate` measures for its memory figures, all at once.

    Each server's anonymous memory is its own (no page of one group is shared with another
    group), and most of a run is its handler's sleeps (aiohttp's: 2 s for the probe, 4 for the
    warm-up, 6-7 for 1000 clients), so running them side by side takes as long as the longest
    (docs/notes/measurements.md section 25). Should one fail or Ctrl-C arrive, the others finish
    their run first (at most ~15 s) and stop their servers."""
    with cf.ThreadPoolExecutor(max_workers=len(CALIBRATION_PLAN),
                               thread_name_prefix="asim-memory") as pool:
        futures = []
        for kind, workers, c, sleep_s in CALIBRATION_PLAN:
            progress(f"memory: {kind}, {workers} worker(s)" + (f", ab -c {c}" if c else ", idle"))
            futures.append(pool.submit(measure_memory, kind, workers=workers, concurrency=c,
                                       sleep_s=sleep_s))
        try:
            return [f.result() for f in futures]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
