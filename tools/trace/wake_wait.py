"""How long a woken thread waits for a core, split by whether a core was idle when it was woken:
gunicorn's sync workers and ab under ``ab -n N -c C``, from the scheduler's tracepoints, and the
same in the model.

    .venv/bin/python tools/trace/wake_wait.py WORKERS SLEEP C N [--rounds R] [--calibration FILE]

perf records sched_wakeup and sched_switch on every core (1024 pages per core) around each ab run
against Django under gunicorn (WORKERS sync workers, the view sleeps SLEEP seconds). Every wake-up
of a worker or of ab (a sched_wakeup of a thread that is not running) is matched with the switch
that puts it on a core; its wait is the time between the two, and it is filed under "a core idle"
when some core ran the idle task at the wake-up, "both busy" otherwise. Printed per thread kind:
wake-ups per request, and for each kind of wake-up its share, mean and median wait. A wait with a
core idle is the scheduler's and the hypervisor's wake-up latency (an idle vCPU must be resumed);
a wait with both busy is mostly the queue for a core. (Where the tracepoints' wake-up is: after
the timer's slack for a sleep, after the packet for a socket.)

The model (`asim.sim.machine.Cpu`, every request simulated; ``--calibration``, default this
machine's calibration file) has the same split: a burst asked for while every core runs waits in
the queue, one that finds a core free starts at once, after the fixed wake-up latency ``wakeup_s``
that the thread's event already paid (a socket's) or the sleep's fitted overshoot (a timer's).

Needs perf and the tracefs (root). Run it on an otherwise idle machine (docs/notes/measurements.md
section 50).
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import tempfile
from pathlib import Path

from loop_gaps import mount_tracefs, recording, switches

from asim.calibration.file import load, resolve
from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server
from asim.sim import machine
from asim.sim.model import simulate
from asim.sim.spec import Scenario

WAKEUP, SWITCH = "sched:sched_wakeup", "sched:sched_switch"
CORES = os.cpu_count() or 1  # a core not yet seen in the trace counts as idle


def events(text: str) -> list[tuple[float, int, str, dict[str, str]]]:
    """(time, core, event, fields) of `perf script` lines of the two tracepoints, in time order."""
    out = []
    for line in text.splitlines():
        for name in (WAKEUP, SWITCH):
            marker = f" {name}: "
            if marker not in line:
                continue
            head, body = line.split(marker, 1)
            try:
                core_s, t_s = head.split()[-2:]
                core, t = int(core_s.strip("[]")), float(t_s.rstrip(":"))
            except ValueError:
                continue
            fields = dict(item.split("=", 1) for item in body.split() if "=" in item)
            out.append((t, core, name, fields))
    out.sort(key=lambda e: e[0])
    return out


def waits(evs, kinds: dict[int, str]) -> dict[str, dict[str, list[float]]]:
    """Per thread kind, the waits (seconds) of its wake-ups, under "core idle" and "both busy"."""
    running: dict[int, int] = {}  # core -> pid on it (0: idle)
    woken: dict[int, tuple[float, str]] = {}  # pid -> (woken at, kind of wake-up)
    out: dict[str, dict[str, list[float]]] = collections.defaultdict(
        lambda: {"core idle": [], "both busy": []})
    for t, core, name, f in evs:
        if name == SWITCH:
            nxt = int(f["next_pid"])
            running[core] = nxt
            if nxt in woken:
                at, kind = woken.pop(nxt)
                out[kinds[nxt]][kind].append(t - at)
        else:
            pid = int(f["pid"])
            if pid not in kinds or pid in running.values() or pid in woken:
                continue
            idle = any(p == 0 for p in running.values()) or len(running) < CORES
            woken[pid] = (t, "core idle" if idle else "both busy")
    return out


def show(label: str, requests: int, by_kind: dict[str, dict[str, list[float]]]) -> None:
    print(label)
    for kind, split in sorted(by_kind.items()):
        total = sum(len(v) for v in split.values())
        cells = []
        for name, values in split.items():
            if values:
                cells.append(f"{name} {len(values) / max(total, 1):4.0%}: mean"
                             f" {statistics.mean(values) * 1e6:6.1f} us, median"
                             f" {statistics.median(values) * 1e6:6.1f} us")
        print(f"  {kind:7s} {total / requests:5.2f} wake-ups/request; " + "; ".join(cells))


def measure(workers: int, sleep_s: float, c: int, n: int, rounds: int) -> None:
    mount_tracefs()
    spec = ServerSpec(kind="django", sleep_s=sleep_s, workers=workers)
    with running_server(spec) as srv, tempfile.TemporaryDirectory() as tmp:
        run_ab(srv.url, requests=200, concurrency=c).checked()
        data = Path(tmp) / "perf.data"
        for _ in range(rounds):
            with recording(data, events=(WAKEUP, SWITCH)):
                report = run_ab(srv.url, requests=n, concurrency=c).checked()
            text, lost = switches(data)
            evs = events(text)
            kinds = {pid: "worker" for pid in srv.pids()[1:]}
            for _, _, name, f in evs:
                if name == SWITCH and f.get("next_comm") == "ab":
                    kinds[int(f["next_pid"])] = "ab"
            note = f" (perf lost events: {'; '.join(lost)})" if lost else ""
            show(f"measured: {report.requests_per_second:.1f} req/s{note}", n, waits(evs, kinds))


def model(workers: int, sleep_s: float, c: int, n: int, calibration: str) -> None:
    costs = (load(Path(calibration)) if calibration != "auto" else resolve("auto")).costs
    split: dict[str, dict[str, list[float]]] = collections.defaultdict(
        lambda: {"core idle": [], "both busy": []})
    asked: dict[int, float] = {}
    run_with, start = machine.Cpu.run_with, machine.Cpu._start

    def kind(thread: machine.Thread) -> str | None:
        if thread.name == "ab":
            return "ab"
        return "worker" if thread.name.startswith("worker") else None

    def traced_run_with(self, thread, cpu_s, fn, args):
        k = kind(thread)
        if k is not None and thread.idle_since < self.env.now:  # not a burst's continuation
            if self._busy >= self.cores:
                asked[id(thread)] = self.env.now
            else:
                split[k]["core idle"].append(0.0)
        return run_with(self, thread, cpu_s, fn, args)

    def traced_start(self, thread, cpu_s, fn, args, factor):
        k = kind(thread)
        if k is not None and id(thread) in asked:
            split[k]["both busy"].append(self.env.now - asked.pop(id(thread)))
        return start(self, thread, cpu_s, fn, args, factor)

    machine.Cpu.run_with, machine.Cpu._start = traced_run_with, traced_start
    run = simulate(Scenario(server="django", workers=workers, sleep_s=sleep_s, concurrency=c,
                            requests=n), costs=costs, keep_records=True, fast_forward=False)
    show(f"model: {run.report.requests_per_second:.1f} req/s (its wake-up latency, wakeup_s ="
         f" {costs.wakeup_s * 1e6:.0f} us for a socket's event and the sleep's overshoot"
         f" {costs.time_sleep_overshoot_s * 1e6:.0f} us for a timer, comes before the burst is"
         " asked for: not in these waits)", n, split)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workers", type=int)
    parser.add_argument("sleep", type=float)
    parser.add_argument("c", type=int)
    parser.add_argument("n", type=int)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calibration", default="auto")
    parser.add_argument("--model-only", action="store_true")
    args = parser.parse_args()
    if not args.model_only:
        measure(args.workers, args.sleep, args.c, args.n, args.rounds)
    model(args.workers, args.sleep, args.c, args.n, args.calibration)


if __name__ == "__main__":
    sys.exit(main())
