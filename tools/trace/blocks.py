"""How often a server's threads and ab block per request, measured and in the model.

    .venv/bin/python tools/trace/blocks.py [--server aiohttp] [--threads T] [--rounds 5]
        [--requests 2000] [--calibration FILE] [SLEEP:C ...]

A thread blocks when it waits for an event with nothing to run (select() or epoll_wait that does
not return at once, a read with no data); the kernel counts each such sleep as a voluntary
context switch. One server of a single process (``--server``: aiohttp, aiohttp-executor,
aiohttp-mixed, django-gthread with one worker, django-asgi or django-asgi-sync with one worker;
``--threads`` for the executor's pool or gthread's threads; warmed as `asim calibrate` warms it),
then for each SLEEP:C (default 0:1 0:10 0.001:10 0.002:10) in interleaved rounds one
``ab -n N -c C``: the voluntary switches (/proc/<pid>/task/*/status), CPU (schedstat) and share
of system time (stat's clock ticks) of its main thread and of its other live threads (Django's
per-request threads under uvicorn end before they can be read), and ab's voluntary switches and
CPU (getrusage of the finished child), per request; the median over the rounds. Beside them the
model's wake-ups per request (bursts whose thread was off the CPU since its last burst ended;
`asim.sim.machine.Cpu`) and CPU by thread, with the given calibration (default: the built-in
costs). Run it on an otherwise idle machine (docs/notes/measurements.md sections 52 and 54).
"""

from __future__ import annotations

import argparse
import resource
import statistics
from collections import Counter, defaultdict
from pathlib import Path

from common import Server, ab

from asim.calibration.file import load
from asim.lab.measure import WARMUP_C, WARMUP_N
from asim.lab.procs import ServerSpec, running_server
from asim.sim import machine
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.model import simulate
from asim.sim.spec import Scenario

DEFAULT_POINTS = ("0:1", "0:10", "0.001:10", "0.002:10")
SERVERS = ("aiohttp", "aiohttp-executor", "aiohttp-mixed", "django-gthread", "django-asgi",
           "django-asgi-sync")


def _threads(pid: int) -> dict[str, tuple[int, float, int, int]]:
    """Voluntary switches, on-CPU seconds, and user and system clock ticks so far: the main
    thread's, and the others' summed (the live ones)."""
    out = {"main": (0, 0.0, 0, 0), "others": (0, 0.0, 0, 0)}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
            run_s = int((task / "schedstat").read_text().split()[0]) / 1e9
            stat = (task / "stat").read_text()
        except OSError:
            continue
        switches = next(int(line.split()[1]) for line in status.splitlines()
                        if line.startswith("voluntary_ctxt_switches"))
        fields = stat[stat.rindex(")") + 2:].split()  # from the state on: utime is the 12th
        user, system = int(fields[11]), int(fields[12])
        key = "main" if task.name == str(pid) else "others"
        old = out[key]
        out[key] = (old[0] + switches, old[1] + run_s, old[2] + user, old[3] + system)
    return out


def measure(srv: Server, concurrency: int, requests: int) -> dict[str, float]:
    """One ab run's blocks and CPU (us) per request, by thread (of gthread's one worker)."""
    pid = srv.pids()[0]
    before = _threads(pid)
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = ab(srv, requests, concurrency)
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = _threads(pid)
    ab_cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    row = {"rps": run.report.requests_per_second if run.report else float("nan")}
    for key in ("main", "others"):
        row[f"{key} blocks"] = (after[key][0] - before[key][0]) / requests
        row[f"{key} us"] = (after[key][1] - before[key][1]) / requests * 1e6
        user, system = after[key][2] - before[key][2], after[key][3] - before[key][3]
        row[f"{key} sys %"] = system / (user + system) * 100 if user + system else float("nan")
    row["ab blocks"] = (usage1.ru_nvcsw - usage0.ru_nvcsw) / requests
    row["ab us"] = ab_cpu / requests * 1e6
    return row


def model(costs: Costs, server: str, sleep_s: float, concurrency: int, requests: int,
          threads: int | None = None) -> dict[str, float]:
    """The model's wake-ups and CPU (us) per request by thread: the main thread (the event loop,
    or gthread's worker), the others (pool threads) summed, and ab."""
    wakes: Counter[str] = Counter()
    made: list[machine.Thread] = []
    run_with, init = machine.Cpu.run_with, machine.Thread.__init__

    def counting(cpu, thread, cpu_s, fn, args):
        if 0 <= thread.idle_since < cpu.env._now:
            wakes[_role(thread.name)] += 1
        return run_with(cpu, thread, cpu_s, fn, args)

    def recording(thread, *args, **kwargs):
        init(thread, *args, **kwargs)
        made.append(thread)

    machine.Cpu.run_with, machine.Thread.__init__ = counting, recording
    try:
        sim = simulate(Scenario(server=server, sleep_s=sleep_s, concurrency=concurrency,
                                requests=requests, threads=threads), costs=costs,
                       fast_forward=False)
    finally:
        machine.Cpu.run_with, machine.Thread.__init__ = run_with, init
    busy: defaultdict[str, float] = defaultdict(float)
    for thread in made:
        busy[_role(thread.name)] += thread.busy_s
    row = {"rps": sim.report.requests_per_second}
    for key in ("main", "others", "ab"):
        row[f"{key} blocks"] = wakes[key] / requests
        row[f"{key} us"] = busy[key] / requests * 1e6
    return row


def _role(name: str) -> str:
    """A model thread's role by its name: ab, the main thread, or another thread."""
    if name.startswith("ab"):
        return "ab"
    main = name.startswith("event") or (name.startswith("gthread-") and name.count("-") == 1)
    return "main" if main else "others"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=SERVERS, default="aiohttp")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--calibration", type=Path)
    parser.add_argument("points", nargs="*", default=list(DEFAULT_POINTS))
    args = parser.parse_args()
    points = [(float(p.split(":")[0]), int(p.split(":")[1])) for p in args.points]
    costs = load(args.calibration).costs if args.calibration else DEFAULT_COSTS
    rows: dict[tuple[float, int], list[dict[str, float]]] = {p: [] for p in points}
    for sleep_s in sorted({s for s, _ in points}):
        spec = ServerSpec(kind=args.server, sleep_s=sleep_s, threads=args.threads)
        with running_server(spec) as running:
            srv = Server(args.server, running.port, running.pid)
            ab(srv, WARMUP_N, WARMUP_C)
            for _ in range(args.rounds):
                for point in points:
                    if point[0] == sleep_s:
                        rows[point].append(measure(srv, point[1], args.requests))
    keys = ("rps", "main blocks", "main us", "others blocks", "others us", "ab blocks", "ab us")
    threads = f" ({args.threads} threads)" if args.threads else ""
    print(f"{args.server}{threads}, per request, medians of {args.rounds} rounds "
          f"(ab -n {args.requests}); model: {args.calibration or 'built-in costs'}")
    print("sleep, C          | " + " | ".join(f"{k:>13s}" for k in keys))
    for point, runs in rows.items():
        measured = {k: statistics.median(r[k] for r in runs) for k in keys}
        sim = model(costs, args.server, point[0], point[1], args.requests, args.threads)
        print(f"{point[0] * 1e3:g} ms, C {point[1]:<3d} real | "
              + " | ".join(f"{measured[k]:13.2f}" for k in keys))
        print(f"{'':12s} model | " + " | ".join(f"{sim[k]:13.2f}" for k in keys))
        sys_pct = {k: statistics.median(r[k] for r in runs) for k in ("main sys %",
                                                                       "others sys %")}
        print(f"{'':12s} real: system time {sys_pct['main sys %']:.1f} % of the main thread's "
              f"CPU, {sys_pct['others sys %']:.1f} % of the other threads'")


if __name__ == "__main__":
    main()
