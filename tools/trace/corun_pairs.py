"""What a busy second core costs the lab's own work: one server and its ab pinned to one core,
alone and beside a second such pair on the other core.

    .venv/bin/python tools/trace/corun_pairs.py [KIND] [ROUNDS] [REQUESTS]

Each pair is ``asim serve KIND --sleep 0`` and ``ab -n REQUESTS -c 1`` pinned together to one
core (C = 1: the two take turns, so the core is busy the whole run and the other core idles).
Each round runs pair 0 alone, pair 1 alone, then both at once, and prints the requests per
second and the ratio of the alone rates to the together rates (1.0: a busy second core costs
nothing; 1.1: the work needs 10 % more time beside it). KIND defaults to aiohttp (django:
one gunicorn worker), ROUNDS to 8, REQUESTS to 3000. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASIM = str(ROOT / ".venv" / "bin" / "asim")
PORTS = (18391, 18392)


def start(kind: str, core: int, port: int) -> subprocess.Popen:
    server = subprocess.Popen(["taskset", "-c", str(core), ASIM, "serve", kind, "--sleep", "0",
                               "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
            return server
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{kind} on port {port} did not answer")


def ab(core: int, port: int, requests: int) -> subprocess.Popen:
    return subprocess.Popen(["taskset", "-c", str(core), "ab", "-n", str(requests), "-c", "1",
                             f"http://127.0.0.1:{port}/"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def rate(run: subprocess.Popen) -> float:
    match = re.search(r"Requests per second:\s+([\d.]+)", run.communicate()[0])
    if not match:
        raise SystemExit("ab printed no rate")
    return float(match.group(1))


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "aiohttp"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    servers = [start(kind, core, port) for core, port in enumerate(PORTS)]
    ratios = []
    try:
        for core, port in enumerate(PORTS):
            rate(ab(core, port, requests // 3))  # warm both servers up
        for _ in range(rounds):
            alone = [rate(ab(core, port, requests)) for core, port in enumerate(PORTS)]
            together = [rate(run) for run in [ab(core, port, requests)
                                              for core, port in enumerate(PORTS)]]
            ratios.append((alone[0] + alone[1]) / (together[0] + together[1]))
            print(f"alone {alone[0]:.0f} / {alone[1]:.0f}, together {together[0]:.0f} / "
                  f"{together[1]:.0f} requests/s, ratio {ratios[-1]:.3f}", flush=True)
    finally:
        for server in servers:
            server.send_signal(signal.SIGINT)
            server.wait(10)
    print(f"{kind}: ratio median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, "
          f"max {max(ratios):.3f} over {rounds} rounds")


if __name__ == "__main__":
    main()
