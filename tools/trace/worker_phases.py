"""Where a gunicorn sync worker's CPU falls within a request at C = 1: asim's request trace
(`asim.servers.trace`: accept, request parsed, view start and end, the client's close seen)
against the worker's on-CPU stretches from the scheduler's sched_switch events (perf), on one
clock (perf records with CLOCK_MONOTONIC; the trace's wall-clock stamps are moved onto it by the
offset between the two clocks, read around each run; perf refuses CLOCK_REALTIME here).

    .venv/bin/python tools/trace/worker_phases.py [SLEEP] [-n 2000] [--rounds 3]

For each phase of a request (accept -> parsed -> view -> view returned -> close seen -> the next
accept) it prints the mean wall time, the mean time the worker was on a CPU in it, the time ab
was, and the time neither was (wake-up latencies, timer slack: the whole machine waiting), and
the worker's CPU per request from its schedstat for comparison: the phases cover the whole run,
so the worker's on-CPU times add up to its CPU. Needs perf and the tracefs (root); run it on an
otherwise idle machine (docs/notes/measurements.md section 45).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from loop_gaps import _idle_prefix, _overlap, mount_tracefs, parse, recording, switches

from asim.lab.abrun import run_ab
from asim.lab.measure import children_cpu_s, group_cpu_s
from asim.lab.procs import ServerSpec, running_server
from asim.servers.trace import read_trace

PHASES = ("accept -> parsed", "parsed -> view", "view", "view returned -> close seen",
          "close seen -> next accept")


def clock_offset_s() -> float:
    """CLOCK_REALTIME minus CLOCK_MONOTONIC, seconds (the closest of a few reads)."""
    reads = []
    for _ in range(5):
        m0 = time.monotonic_ns()
        r = time.time_ns()
        m1 = time.monotonic_ns()
        reads.append((m1 - m0, r - (m0 + m1) // 2))
    return min(reads)[1] / 1e9


def union(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list:
    """The sorted, disjoint union of two lists of intervals."""
    out: list[list[float]] = []
    for lo, hi in sorted(a + b):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def ab_pid(text: str) -> int | None:
    """The pid of ab in `perf script` lines of sched_switch (its comm is ``ab``)."""
    for line in text.splitlines():
        if "prev_comm=ab prev_pid=" in line:
            return int(line.split("prev_comm=ab prev_pid=")[1].split()[0])
    return None


def phase_bounds(rows, offset_s: float) -> list[list[tuple[float, float]]]:
    """Per request (all but the last), the five phases as (start, end) seconds of the
    monotonic clock."""
    out = []
    for r, nxt in zip(rows, rows[1:], strict=False):
        t = [x / 1e6 - offset_s for x in (r.accept_us, r.recv_us, r.start_us, r.end_us,
                                          r.close_us, nxt.accept_us)]
        out.append([(t[i], t[i + 1]) for i in range(5)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sleep", nargs="?", type=float, default=0.0)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    mount_tracefs()
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.tsv"
        data = Path(tmp) / "perf.data"
        spec = ServerSpec(kind="django", sleep_s=args.sleep, workers=1)
        with running_server(spec, trace_file=trace) as srv:
            url = f"http://127.0.0.1:{srv.port}/"
            run_ab(url, requests=500, concurrency=1)  # warm-up
            worker = [r.pid for r in read_trace(trace) if r.server == "django"][-1]
            for _ in range(args.rounds):
                mark = trace.stat().st_size
                with recording(data, clock="CLOCK_MONOTONIC"):
                    offset_s = clock_offset_s()
                    cpu0, ab0 = group_cpu_s(srv), children_cpu_s()
                    run = run_ab(url, requests=args.n, concurrency=1)
                    cpu_per_request = (group_cpu_s(srv) - cpu0) / args.n
                    ab_per_request = (children_cpu_s() - ab0) / args.n
                text, lost = switches(data)
                if lost:
                    print(f"perf lost events ({'; '.join(lost)}): on-CPU times are lower bounds")
                on_cpu = parse(text, worker)[0]
                ab = ab_pid(text)
                ab_cpu = parse(text, ab)[0] if ab is not None else []
                either = union(on_cpu, ab_cpu)
                index, ab_index, either_index = map(_idle_prefix, (on_cpu, ab_cpu, either))
                with open(trace, "rb") as f:
                    f.seek(mark)
                    part = Path(tmp) / "part.tsv"
                    part.write_bytes(f.read())
                rows = sorted((r for r in read_trace(part) if r.server == "django"
                               and None not in (r.accept_us, r.recv_us, r.start_us, r.end_us,
                                                r.close_us)), key=lambda r: r.accept_us)
                bounds = phase_bounds(rows, offset_s)
                walls = {p: [] for p in PHASES}
                cpus = {p: [] for p in PHASES}
                abs_ = {p: [] for p in PHASES}
                idle = {p: [] for p in PHASES}
                for request in bounds:
                    for name, (lo, hi) in zip(PHASES, request, strict=True):
                        walls[name].append(hi - lo)
                        cpus[name].append(_overlap(on_cpu, index, lo, hi))
                        abs_[name].append(_overlap(ab_cpu, ab_index, lo, hi))
                        idle[name].append(hi - lo - _overlap(either, either_index, lo, hi))
                rps = run.report.requests_per_second if run.report else float("nan")
                on_total = sum(statistics.mean(v) for v in cpus.values())
                ab_total = sum(statistics.mean(v) for v in abs_.values())
                print(f"{rps:.0f} req/s; worker CPU per request {cpu_per_request * 1e6:.0f} us"
                      f" (schedstat), {on_total * 1e6:.0f} us on a CPU inside the phases"
                      f" (sched_switch); ab {ab_per_request * 1e6:.0f} us (rusage),"
                      f" {ab_total * 1e6:.0f} us; {len(bounds)} requests (a round whose two"
                      " numbers disagree lost switch events)")
                for name in PHASES:
                    print(f"  {name:28s} wall mean {statistics.mean(walls[name]) * 1e6:6.1f}"
                          f" median {statistics.median(walls[name]) * 1e6:6.1f},"
                          f" worker on CPU {statistics.mean(cpus[name]) * 1e6:6.1f},"
                          f" ab {statistics.mean(abs_[name]) * 1e6:5.1f},"
                          f" neither {statistics.mean(idle[name]) * 1e6:5.1f} us")


if __name__ == "__main__":
    main()
