"""How long a thread blocked in read() takes to run again, by how long its core had idled.

    .venv/bin/python tools/trace/wake_latency.py [ROUNDS]

Two processes pinned to cores 0 and 1 play ping-pong over pipes. The pinger busy-waits a gap
(so its own core never idles), writes one byte and spins until the answer arrives; the ponger
sleeps in read() on core 1, so core 1 idles for the gap. The same is measured with a
SCHED_IDLE spinner keeping core 1 busy (the ponger preempts it at once). The difference of the
two medians is what bringing an idle core back costs; on a VM whose idle vCPUs halt
(`guest_halt_poll_ns=0`) it grows with the time the core was halted. ROUNDS (default 3) repeats
the whole sweep; needs two cores and an otherwise idle machine.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

GAPS_S = (10e-6, 30e-6, 100e-6, 300e-6, 1e-3, 2e-3, 4e-3, 8e-3, 16e-3, 32e-3, 64e-3)
PINGS = 200


def _spinner() -> int:
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {1})
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        while True:
            pass
    return pid


def sweep(busy_core: bool) -> dict[float, float]:
    """Median round trip in µs for each gap, with core 1 idle or kept busy."""
    spinner = _spinner() if busy_core else None
    ping_r, ping_w = os.pipe()
    pong_r, pong_w = os.pipe()
    ponger = os.fork()
    if ponger == 0:
        os.sched_setaffinity(0, {1})
        while os.read(ping_r, 1) != b"q":
            os.write(pong_w, b"x")
        os._exit(0)
    os.sched_setaffinity(0, {0})
    os.set_blocking(pong_r, False)

    def round_trip(gap_s: float) -> float:
        until = time.perf_counter() + gap_s
        while time.perf_counter() < until:
            pass
        t0 = time.perf_counter()
        os.write(ping_w, b"p")
        while True:
            try:
                os.read(pong_r, 1)
                return (time.perf_counter() - t0) * 1e6
            except BlockingIOError:
                pass

    medians = {}
    for gap in GAPS_S:
        pings = PINGS if gap < 5e-3 else PINGS // 4
        medians[gap] = statistics.median(round_trip(gap) for _ in range(pings))
    os.write(ping_w, b"q")
    os.waitpid(ponger, 0)
    if spinner is not None:
        os.kill(spinner, 9)
        os.waitpid(spinner, 0)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    for fd in (ping_r, ping_w, pong_r, pong_w):
        os.close(fd)
    return medians


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    if (os.cpu_count() or 1) < 2:
        sys.exit("wake_latency: needs two cores")
    results = [(sweep(busy_core=False), sweep(busy_core=True)) for _ in range(rounds)]
    print("core 1 idle for | round trip, idle core (us) | busy core (us) | wake-up cost (us)")
    for gap in GAPS_S:
        idle = " ".join(f"{a[gap]:6.1f}" for a, _ in results)
        busy = " ".join(f"{b[gap]:6.1f}" for _, b in results)
        cost = " ".join(f"{a[gap] - b[gap]:6.1f}" for a, b in results)
        print(f"{gap * 1e6:9.0f} us | {idle} | {busy} | {cost}")


if __name__ == "__main__":
    main()
