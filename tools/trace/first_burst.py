"""Who runs on which core while ab opens its first burst of connections against several
event-loop workers (uvicorn --workers W), from the scheduler's own events.

    .venv/bin/python tools/trace/first_burst.py KIND W S C N [ROUNDS] [--threads T]

KIND is a shape whose workers share one listening socket (django-asgi, django-gthread with
--threads T, ...). One server, a
warm-up, then ROUNDS (default 3) runs of ab -n N -c C, each under `perf record -a` of
sched_switch, sched_wakeup and accept4's return. For each run: ab's first burst (the C - 1
connections ab opens at the first response) as the workers accepted it, the moment each worker
was woken and first ran after the burst began, and every core's occupant over the burst, in
stretches: "+0.47 W1 1.45" is worker 1's loop thread on the core from 0.47 ms after the burst's
first accept, for 1.45 ms. The accepts are exact (each accept4's return); the kernel's trace
misses some switches to a woken thread (measurements 39), so a stretch can be missing from the
cores' lines and a worker's first time on a core can come out late. Needs perf and root; run it
on an otherwise idle machine (docs/notes/measurements.md 39).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server

TRACEFS = Path("/sys/kernel/tracing")
EVENTS = "sched:sched_switch,sched:sched_wakeup,syscalls:sys_exit_accept4"
WINDOW_S = 0.008  # how much of the start of the burst is shown


def parse(text: str) -> list[tuple[float, int, str, dict[str, str], int]]:
    """(time, core, event, fields, process of the line) for every line of `perf script`."""
    out = []
    for line in text.splitlines():
        for event in ("sched:sched_switch", "sched:sched_wakeup", "syscalls:sys_exit_accept4"):
            marker = f" {event}: "
            if marker not in line:
                continue
            head, rest = line.split(marker, 1)
            parts = head.split()
            try:
                t = float(parts[-1].rstrip(":"))
                core = int(parts[-2].strip("[]"))
                pid = int(parts[-3].split("/")[0])
            except (ValueError, IndexError):
                break
            fields = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
            if event == "syscalls:sys_exit_accept4":
                fields["ret"] = rest.strip().split()[-1]
            out.append((t, core, event.split(":")[1], fields, pid))
            break
    return out


def describe(events, workers: list[int], ab_pid: int, burst: int,
             tgid: dict[int, int]) -> None:
    names = {ab_pid: "ab", 0: "idle"}
    names.update({w: f"W{i + 1}" for i, w in enumerate(workers)})
    for tid, pid in tgid.items():  # a worker's other threads (sync_to_async's)
        if tid != pid and pid in workers:
            names[tid] = names[pid] + "t"
    accepts = [(t, pid) for t, _, ev, f, pid in events
               if ev == "sys_exit_accept4" and pid in workers and not f["ret"].startswith("0xff")
               and f["ret"] not in ("-11", "0xfffffffffffffff5")]
    if len(accepts) < burst + 1:
        print(f"  only {len(accepts)} accepts traced")
        return
    # The first accept is connection 0; the burst is the next `burst` accepts.
    t0 = accepts[1][0]
    first = accepts[1:1 + burst]
    split = {names[w]: sum(1 for _, p in first if p == w) for w in workers}
    end = first[-1][0]
    print(f"  first burst of {burst}: accepted in {1e3 * (end - t0):.2f} ms, per worker {split}")
    for w in workers:
        woken = [t for t, _, ev, f, _ in events
                 if ev == "sched_wakeup" and int(f.get("pid", -1)) == w and t >= t0 - 0.002]
        ran = [t for t, _, ev, f, _ in events
               if ev == "sched_switch" and int(f.get("next_pid", -1)) == w and t >= t0 - 0.002]
        print(f"  {names[w]}: woken at {_ms(woken[0], t0) if woken else '-'},"
              f" first on a core at {_ms(ran[0], t0) if ran else '-'} (ms from the burst's"
              " first accept)")
    # Every core's occupants from 2 ms before the burst to WINDOW_S after it.
    start, stop = t0 - 0.002, t0 + WINDOW_S
    running: dict[int, tuple[int, float]] = {}
    stretches: dict[int, list[str]] = {}
    for t, core, ev, f, _ in events:
        if ev != "sched_switch":
            continue
        prev, nxt = int(f["prev_pid"]), int(f["next_pid"])
        was = running.get(core)
        if was is not None and was[0] == prev and t > start and was[1] < stop:
            who = names.get(prev, "other")
            state = "" if f["prev_state"].startswith(("S", "D", "I")) else "*"
            if who != "idle":
                stretches.setdefault(core, []).append(
                    f"{_ms(max(was[1], start), t0)} {who}{state}"
                    f" {1e3 * (min(t, stop) - max(was[1], start)):.2f}")
        running[core] = (nxt, t)
    for core in sorted(stretches):
        print(f"  core {core}: " + ", ".join(stretches[core]))
    print("  (ms from the burst's first accept, who, ms on the core; * = left it still runnable:"
          " preempted; Wkt = a thread of worker k other than its loop; idle not shown)")


def _ms(t: float, t0: float) -> str:
    return f"{1e3 * (t - t0):+.2f}"


def main() -> None:
    argv = sys.argv[1:]
    threads = None
    if "--threads" in argv:
        at = argv.index("--threads")
        threads = int(argv[at + 1])
        del argv[at:at + 2]
    kind, workers, sleep_s, c, n = (argv[0], int(argv[1]), float(argv[2]), int(argv[3]),
                                    int(argv[4]))
    rounds = int(argv[5]) if len(argv) > 5 else 3
    if not (TRACEFS / "events").is_dir():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], check=True)
    spec = ServerSpec(kind=kind, sleep_s=sleep_s, workers=workers, threads=threads)
    with running_server(spec) as srv, tempfile.TemporaryDirectory() as tmp:
        url = f"http://127.0.0.1:{srv.port}/"
        pids = srv.pids()
        worker_pids = pids[1:] if len(pids) > 1 else pids
        run_ab(url, requests=max(200, c), concurrency=c)  # warm up
        data = Path(tmp) / "perf.data"
        for i in range(rounds):
            perf = subprocess.Popen(["perf", "record", "-q", "-e", EVENTS, "-a", "-m", "1024",
                                     "-o", str(data)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # perf attaches
            run = run_ab(url, requests=n, concurrency=c)
            perf.send_signal(2)
            perf.wait()
            text = subprocess.run(["perf", "script", "-F", "comm,pid,tid,cpu,time,event,trace",
                                   "-i", str(data)], capture_output=True, text=True).stdout
            events = parse(text)
            tgid = {}
            for line in text.splitlines():
                m = re.match(r"\s*\S.*?\s(\d+)/(\d+)\s+\[", line)
                if m:
                    tgid[int(m.group(2))] = int(m.group(1))
            ab_pids = {pid for line in text.splitlines() if line.lstrip().startswith("ab ")
                       for pid in [int(line.split()[1].split("/")[0])]}
            rps = run.report.requests_per_second if run.report else float("nan")
            print(f"run {i + 1}: {rps:.1f} requests/s; workers {worker_pids}, ab {ab_pids}")
            if len(ab_pids) != 1:
                print("  ab's pid not found in the trace")
                continue
            describe(events, [p for p in worker_pids if p in tgid.values()], ab_pids.pop(),
                     c - 1, tgid)


if __name__ == "__main__":
    main()
