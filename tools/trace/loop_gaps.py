"""When aiohttp's loop thread is off the CPU, and what its bursts cost after each kind of gap:
the scheduler's sched_switch events on every core (perf's tracepoint) around ``ab -n N -c C``
runs, against the same structure in the model.

    .venv/bin/python tools/trace/loop_gaps.py SLEEP C,... N [ROUNDS] [--calibration FILE]

For every run it prints: requests/s; the loop thread's on-CPU time per request; how often it
leaves the CPU (gaps per request) and for how long (median, p90); the share of its gap time
during which the other core idled too (the whole machine idle: what the model's cold rule
counts); how often it left the CPU still runnable (preempted); and, for each length of the gap
before it (0-50 us, 50-200 us, 0.2-0.5 ms, 0.5-2 ms, over 2 ms), how many on-CPU stretches per
request follow such a gap and how long they last on average. perf records into 1024 pages per
core; a run where it still lost events says so, and a stretch whose switch events were lost is
dropped (its on-CPU time is then a lower bound). Then the
same numbers of the model (`asim.sim.model.simulate`, every request simulated) with the given
calibration (default: this machine's `asim calibrate` file, as `--calibration auto`).

Needs perf and the tracefs (mounted here if missing; root). Run it on an otherwise idle machine
(docs/notes/measurements.md 35).
"""

from __future__ import annotations

import bisect
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from common import ab, calibration_option, server

TRACEFS = Path("/sys/kernel/tracing")
EVENT = "sched:sched_switch"
BINS_US = (50, 200, 500, 2000)  # upper edges of the gap bins; the last bin is open
BIN_NAMES = ("0-50us", "50-200us", "0.2-0.5ms", "0.5-2ms", ">2ms")


@dataclass(frozen=True)
class Stretch:
    """One on-CPU stretch of a thread: [start, end), and the gap off the CPU before it."""
    start: float
    end: float
    gap: float  # seconds off the CPU before ``start`` (inf for the first)
    other_idle: float  # of that gap, seconds during which every other core idled too
    preempted: bool = False  # the gap began with the thread still runnable (not blocked)


def _idle_prefix(intervals: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    starts = [a for a, _ in intervals]
    acc = [0.0]
    for a, b in intervals:
        acc.append(acc[-1] + (b - a))
    return starts, acc


def _overlap(intervals: list[tuple[float, float]], index: tuple[list[float], list[float]],
             lo: float, hi: float) -> float:
    """Seconds of the sorted, disjoint ``intervals`` inside [lo, hi)."""
    starts, acc = index
    i = max(bisect.bisect_right(starts, lo) - 1, 0)
    total = 0.0
    while i < len(intervals) and intervals[i][0] < hi:
        a, b = intervals[i]
        total += max(0.0, min(b, hi) - max(a, lo))
        i += 1
    return total


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def stretches(on_cpu: list[tuple[float, float]], idle_by_core: dict[int, list],
              own_core: Callable[[int], int | None],
              preempted: Callable[[int], bool] = lambda i: False) -> list[Stretch]:
    """The thread's stretches with their gaps; ``idle_by_core`` holds every core's idle
    intervals, ``own_core(i)`` the core stretch i ran on before its gap (None: unknown)."""
    cores = sorted(idle_by_core)
    out = []
    for i, (start, end) in enumerate(on_cpu):
        if i == 0:
            out.append(Stretch(start, end, float("inf"), 0.0))
            continue
        lo = on_cpu[i - 1][1]
        gap = start - lo
        mine = own_core(i - 1)
        others = [c for c in cores if c != mine]
        both: list = [(lo, start)]
        for c in others:
            both = _intersect(both, idle_by_core[c])
        out.append(Stretch(start, end, gap, sum(b - a for a, b in both), preempted(i - 1)))
    return out


def summary(label: str, requests: int, rps: float, st: list[Stretch]) -> None:
    cpu = sum(s.end - s.start for s in st)
    gaps = [s.gap for s in st if s.gap != float("inf")]
    gap_s = sum(gaps)
    other = sum(s.other_idle for s in st)
    by_bin: dict[str, list[float]] = {name: [] for name in BIN_NAMES}
    counts = dict.fromkeys(BIN_NAMES, 0)
    for s in st:
        if s.gap == float("inf"):
            continue
        name = BIN_NAMES[bisect.bisect_left(BINS_US, s.gap * 1e6)]
        by_bin[name].append(s.end - s.start)
        counts[name] += 1
    gaps_sorted = sorted(gaps) or [0.0]
    p90 = gaps_sorted[int(0.9 * (len(gaps_sorted) - 1))]
    print(f"{label}: {rps:.0f} requests/s; loop on CPU {cpu / requests * 1e6:.0f} us/request;"
          f" {len(gaps) / requests:.2f} gaps/request,"
          f" median {statistics.median(gaps_sorted) * 1e6:.0f} us, p90 {p90 * 1e6:.0f} us,"
          f" {gap_s / requests * 1e6:.0f} us/request off CPU, of it the other core idle too"
          f" {other / gap_s * 100 if gap_s else 0:.0f} %;"
          f" preempted {sum(s.preempted for s in st) / requests:.2f}/request")
    print("    stretch after a gap of:   " + "  ".join(
        f"{name}: {counts[name] / requests:.2f}/req x {statistics.mean(v) * 1e6 if v else 0:.0f} us"
        for name, v in by_bin.items()))


def parse(text: str, pid: int) -> tuple[list, list, dict[int, list]]:
    """The thread ``pid``'s on-CPU intervals, the core of each, whether it left each one still
    runnable (preempted), and every core's idle intervals, from `perf script` lines of
    sched_switch."""
    running: dict[int, tuple[int, float]] = {}  # core -> (pid, since)
    on_cpu, cores_of, runnable = [], [], []
    idle: dict[int, list] = {}
    for line in text.splitlines():
        try:
            head, trace = line.split(" sched:sched_switch: ", 1)
            cpu_s, t_s = head.split()[-2:]
            core, t = int(cpu_s.strip("[]")), float(t_s.rstrip(":"))
            prev_pid = int(trace.split(" prev_pid=")[1].split()[0])
            next_pid = int(trace.split(" next_pid=")[1].split()[0])
            prev_state = trace.split(" prev_state=")[1].split()[0]
        except (ValueError, IndexError):
            continue
        idle.setdefault(core, [])
        was = running.get(core)
        if was is not None and was[0] == prev_pid:
            if prev_pid == pid:
                on_cpu.append((was[1], t))
                cores_of.append(core)
                runnable.append(prev_state.startswith("R"))
            elif prev_pid == 0:
                idle[core].append((was[1], t))
        running[core] = (next_pid, t)
    order = sorted(range(len(on_cpu)), key=lambda i: on_cpu[i][0])
    return ([on_cpu[i] for i in order], [cores_of[i] for i in order],
            [runnable[i] for i in order], idle)


@contextlib.contextmanager
def recording(data: Path, *, clock: str | None = None, events: Sequence[str] = (EVENT,),
              pids: Sequence[int] = ()) -> Iterator[None]:
    """perf records ``events`` (default sched_switch) into ``data`` while the block runs, on
    every core or, given ``pids``, in those processes' threads (``clock``: perf's -k, e.g.
    CLOCK_MONOTONIC). 1024 pages of ring buffer per core: the default loses switch events when
    ab and a server switch tens of thousands of times a second."""
    argv = ["perf", "record", "-q", "-m", "1024", "-o", str(data)]
    argv += ["-p", ",".join(map(str, pids))] if pids else ["-a"]
    for event in events:
        argv += ["-e", event]
    if clock is not None:
        argv += ["-k", clock]
    perf = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # perf attaches
    try:
        yield
    finally:
        perf.send_signal(2)
        perf.wait()


def switches(data: Path) -> tuple[str, list[str]]:
    """The `perf script` lines of ``data`` and the LOST records of its statistics (none when
    perf kept every event it saw)."""
    text = subprocess.run(["perf", "script", "-i", str(data)], capture_output=True,
                          text=True).stdout
    stats = subprocess.run(["perf", "report", "-i", str(data), "--stats"],
                           capture_output=True, text=True).stdout
    return text, [line.strip() for line in stats.splitlines() if "LOST" in line.upper()]


def mount_tracefs() -> None:
    """Mount the tracefs perf's tracepoints need, unless it is there."""
    if not (TRACEFS / "events").is_dir():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], check=True)


def measure(sleep_s: float, concurrencies: list[int], requests: int, rounds: int) -> None:
    mount_tracefs()
    with server("aiohttp", sleep_s) as srv, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        ab(srv, 500, max(concurrencies))  # warm up
        for _ in range(rounds):
            for c in concurrencies:
                with recording(data):
                    run = ab(srv, requests, c)
                text, lost = switches(data)
                on_cpu, cores_of, runnable, idle = parse(text, srv.pid)
                if lost:
                    print(f"C {c}: perf lost events ({'; '.join(lost)}): the stretches that"
                          " lost a switch are dropped")
                if run.report is None:
                    print(f"C {c}: ab failed: {run.problems}")
                    continue
                # only the stretches inside ab's run: from the first to the last request
                t0 = on_cpu[0][0] if on_cpu else 0.0
                st = stretches(on_cpu, idle, cores_of.__getitem__, runnable.__getitem__)
                st = [s for s in st if s.start >= t0]
                summary(f"measured sleep {sleep_s:g} C {c}", requests,
                        run.report.requests_per_second, st)


def model(sleep_s: float, concurrencies: list[int], requests: int, calibration: str) -> None:
    """The same numbers of the model: every burst of every thread logged as it ends (its CPU
    is what its thread's counter gained: a thread runs one burst at a time)."""
    from asim.calibration.file import resolve
    from asim.sim import machine
    from asim.sim.model import simulate
    from asim.sim.spec import Scenario

    costs = resolve(calibration).costs
    done = machine.Cpu._done
    for c in concurrencies:
        bursts: list[tuple[str, float, float]] = []  # (thread, start, end)
        given: dict[int, float] = {}

        def logged(self, thread, fn, args, bursts=bursts, given=given):
            now = self.env._now
            cpu = thread.busy_s - given.get(id(thread), 0.0)
            given[id(thread)] = thread.busy_s
            bursts.append((thread.name, now - cpu, now))
            done(self, thread, fn, args)

        machine.Cpu._done = logged
        try:
            sim = simulate(Scenario(server="aiohttp", workers=1, sleep_s=sleep_s,
                                    concurrency=c, requests=requests),
                           costs=costs, keep_records=False, fast_forward=False)
        finally:
            machine.Cpu._done = done
        loop = sorted((a, b) for name, a, b in bursts if name == "event loop")
        on_cpu: list[tuple[float, float]] = []
        for a, b in loop:  # back-to-back bursts are one stretch on the CPU
            if on_cpu and a <= on_cpu[-1][1] + 1e-12:
                on_cpu[-1] = (on_cpu[-1][0], b)
            else:
                on_cpu.append((a, b))
        busy = sorted((a, b) for _, a, b in bursts)
        union: list[tuple[float, float]] = []
        for a, b in busy:
            if union and a <= union[-1][1]:
                union[-1] = (union[-1][0], max(b, union[-1][1]))
            else:
                union.append((a, b))
        # the machine idle: between the union's pieces; on two cores, the loop's gap with the
        # other core idle too is the gap with nothing running at all
        idle = [(union[i][1], union[i + 1][0]) for i in range(len(union) - 1)]
        st = stretches(on_cpu, {0: idle}, lambda i: None)
        summary(f"model    sleep {sleep_s:g} C {c}", requests,
                sim.report.requests_per_second, st)
        print(f"    model server CPU {sim.server_cpu_s * 1e6:.0f} us/request,"
              f" select() rounds {sim.loop_iterations / requests:.2f}/request")


def main() -> None:
    args, calibration = calibration_option(sys.argv[1:])
    sleep_s, concurrencies, requests = float(args[0]), [int(c) for c in args[1].split(",")], \
        int(args[2])
    rounds = int(args[3]) if len(args) > 3 else 3
    measure(sleep_s, concurrencies, requests, rounds)
    model(sleep_s, concurrencies, requests, calibration)


if __name__ == "__main__":
    main()
