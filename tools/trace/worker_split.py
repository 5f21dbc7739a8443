"""How a multi-worker server's open connections split between its workers during ab runs:
`ss` sampled every 10 ms (the process that owns each established connection to the server's
port), against the same count in the model (each request's worker from accept to close).

    .venv/bin/python tools/trace/worker_split.py KIND W S C N [--calibration FILE]

KIND is a shape whose workers share one listening socket (django, django-asgi, ...), W its
workers, S the handler's sleep, C and N ab's -c and -n. Three runs on one server after a
warm-up; for each, requests/s, ab's Total p50 and p90, and the most frequent splits of the
connections held (largest first: (7, 3) means one worker held seven, the other three). A
connection still in the accept queue has no process and is not counted. Then the model with
the given calibration (default: this machine's, as `--calibration auto`). Run it on an
otherwise idle machine (docs/notes/measurements.md 36).
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import threading
import time

from common import calibration_option

from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server

SAMPLE_S = 0.01
EDGE = 5  # samples dropped at each end of a run (ab starting and draining)


def splits_text(splits: collections.Counter) -> str:
    return ", ".join(f"{k}: {v}" for k, v in splits.most_common(6))


def measure(kind: str, workers: int, sleep_s: float, c: int, n: int) -> None:
    with running_server(ServerSpec(kind=kind, sleep_s=sleep_s, workers=workers)) as srv:
        url = f"http://127.0.0.1:{srv.port}/"
        run_ab(url, requests=200, concurrency=c)  # warm up
        for i in range(3):
            samples: list[collections.Counter] = []
            stop = threading.Event()

            def sample(samples=samples, stop=stop) -> None:
                while not stop.is_set():
                    out = subprocess.run(
                        ["ss", "-tnpH", "state", "established", f"( sport = :{srv.port} )"],
                        capture_output=True, text=True).stdout
                    samples.append(collections.Counter(re.findall(r"pid=(\d+)", out)))
                    time.sleep(SAMPLE_S)

            sampler = threading.Thread(target=sample)
            sampler.start()
            run = run_ab(url, requests=n, concurrency=c)
            stop.set()
            sampler.join()
            if run.report is None:
                print(f"run {i + 1}: ab failed: {run.problems}")
                continue
            pids = sorted({p for s in samples for p in s})
            splits = collections.Counter(
                tuple(sorted((s.get(p, 0) for p in pids), reverse=True))
                for s in samples[EDGE:-EDGE])
            pct = run.report.percentiles_ms
            print(f"measured run {i + 1}: {run.report.requests_per_second:.1f} requests/s,"
                  f" Total p50 {pct[50]} p90 {pct[90]} ms; {len(samples)} samples; splits:"
                  f" {splits_text(splits)}")


def model(kind: str, workers: int, sleep_s: float, c: int, n: int, calibration: str) -> None:
    from asim.calibration.file import resolve
    from asim.sim.model import simulate
    from asim.sim.spec import Scenario

    sim = simulate(Scenario(server=kind, workers=workers, sleep_s=sleep_s, concurrency=c,
                            requests=n), costs=resolve(calibration).costs, keep_records=True)
    recs = sim.records
    t, end = min(r.accepted for r in recs), max(r.done for r in recs)
    t += EDGE * SAMPLE_S
    splits: collections.Counter = collections.Counter()
    while t < end - EDGE * SAMPLE_S:
        held = collections.Counter(
            r.worker for r in recs
            if r.accepted <= t < (r.fin_sent if r.fin_sent > 0 else r.done))
        splits[tuple(sorted(held.values(), reverse=True))] += 1
        t += SAMPLE_S
    pct = sim.report.percentiles_ms
    print(f"model: {sim.report.requests_per_second:.1f} requests/s, Total p50 {pct[50]}"
          f" p90 {pct[90]} ms; splits: {splits_text(splits)}")


def main() -> None:
    args, calibration = calibration_option(sys.argv[1:])
    kind, workers, sleep_s, c, n = (args[0], int(args[1]), float(args[2]), int(args[3]),
                                    int(args[4]))
    measure(kind, workers, sleep_s, c, n)
    model(kind, workers, sleep_s, c, n, calibration)


if __name__ == "__main__":
    main()
