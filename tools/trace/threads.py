"""How many threads each server shape runs, and when: /proc task lists sampled under ab load.

    PYTHONPATH=. .venv/bin/python tools/trace/threads.py [--sleep 0.1] [--requests 200]
        [--concurrency 20] [--clones] [SHAPE ...]

SHAPE is KIND or KIND:option=value,... with the options of `asim.lab.procs.ServerSpec`
(workers, threads, blocking_s), e.g. ``django-gthread:workers=1,threads=4``; without SHAPEs all
eight kinds run with their defaults. For each shape the server starts, serves 20 requests at
C = 4, rests, and then ``ab -n N -c C`` runs while a sampler lists /proc/<pid>/task of every
process of the server's group every 2 ms. Printed per process: threads at rest before the run,
the peak during it, threads at rest after it, and how many thread ids the sampler saw that did
not exist before (every thread that lived at least ~2 ms).

``--clones`` also attaches ``strace -f -e trace=clone,clone3`` to the group during the run and
counts the clone() calls that made a thread (CLONE_THREAD): exact even for threads that live
less than a sampling period, but strace stops the server at every system call, so the run's
timings mean nothing then.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server
from asim.sim.shapes import NAMES

SAMPLE_S = 0.002


def parse_shape(text: str, sleep_s: float) -> ServerSpec:
    """``KIND[:name=value,...]`` as a ServerSpec with the given sleep."""
    kind, _, opts = text.partition(":")
    fields: dict[str, object] = {}
    for item in filter(None, opts.split(",")):
        name, _, value = item.partition("=")
        fields[name] = float(value) if name == "blocking_s" else int(value)
    return ServerSpec(kind=kind, sleep_s=sleep_s, **fields)


def tids(pid: int) -> set[int]:
    try:
        return {int(t) for t in os.listdir(f"/proc/{pid}/task")}
    except OSError:
        return set()


@dataclass
class Census:
    """What the sampler saw of one process."""

    before: set[int]
    peak: int = 0
    seen: set[int] = field(default_factory=set)
    after: int = 0


def sample(pids: list[int], stop: threading.Event) -> dict[int, Census]:
    census = {pid: Census(before=tids(pid)) for pid in pids}
    while not stop.is_set():
        for pid, c in census.items():
            now = tids(pid)
            c.peak = max(c.peak, len(now))
            c.seen |= now
        time.sleep(SAMPLE_S)
    return census


def count_thread_clones(log: Path) -> int:
    text = log.read_text(errors="replace")
    calls = (line.split(" ", 1)[-1] for line in text.splitlines())
    return sum(1 for call in calls
               if call.startswith(("clone(", "clone3(")) and "CLONE_THREAD" in call)


def measure(spec: ServerSpec, requests: int, concurrency: int, clones: bool) -> None:
    with running_server(spec) as srv:
        run_ab(srv.url, requests=20, concurrency=4).checked()
        time.sleep(0.5)
        pids = srv.pids()
        stop = threading.Event()
        result: dict[int, Census] = {}
        sampler = threading.Thread(target=lambda: result.update(sample(pids, stop)))
        tracer, log = None, None
        if clones:
            fd, name = tempfile.mkstemp(prefix="asim-clones-", suffix=".txt")
            os.close(fd)
            log = Path(name)
            attach = [arg for pid in pids for arg in ("-p", str(pid))]
            tracer = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=clone,clone3",
                                       "-o", str(log), *attach], stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # strace attaches to every thread before the run starts
        sampler.start()
        try:
            report = run_ab(srv.url, requests=requests, concurrency=concurrency).checked()
        finally:
            stop.set()
            sampler.join()
            if tracer is not None:
                tracer.send_signal(signal.SIGINT)
                tracer.wait()
        time.sleep(0.5)
        for pid, c in result.items():
            c.after = len(tids(pid))
    made = f" thread clones (strace) {count_thread_clones(log)}" if log is not None else ""
    if log is not None:
        log.unlink()
    print(f"{spec.label()}  C={concurrency} n={requests}: RPS {report.requests_per_second:.1f}"
          f"{made}")
    for pid in pids:
        c = result[pid]
        print(f"  pid {pid}{' (leader)' if pid == srv.pid else ''}: threads before "
              f"{len(c.before)}, peak {c.peak}, after {c.after}; new thread ids seen "
              f"{len(c.seen - c.before)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shapes", nargs="*", default=list(NAMES))
    parser.add_argument("--sleep", type=float, default=0.1)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--clones", action="store_true", help="count clone() with strace")
    args = parser.parse_args()
    for text in args.shapes:
        measure(parse_shape(text, args.sleep), args.requests, args.concurrency, args.clones)


if __name__ == "__main__":
    main()
