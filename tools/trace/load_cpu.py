"""A shape's requests/s and server CPU per request under load, measured and modelled side by side.

    .venv/bin/python tools/trace/load_cpu.py KIND S W:C[,W:C...] N [--calibration FILE]

KIND is a server shape, S the handler's sleep, each W:C a number of workers and ab's -c, N ab's
-n. Each point is measured as `asim calibrate` measures its runs (`asim.lab.measure.measure_cpu`:
a fresh server, a warm-up burst, three ab runs, medians; every thread's CPU, the ended ones too)
and then simulated with the calibration (default: this machine's, as `--calibration auto`) for
the same run. The CPU per request tells a model that charges too little CPU under load from one
that spends the right CPU in the wrong order (docs/notes/measurements.md 38). Run it on an
otherwise idle machine, right after `asim calibrate`.
"""

from __future__ import annotations

import sys

from common import calibration_option

from asim.calibration.file import resolve
from asim.calibration.knobs import model_outcome
from asim.lab.measure import measure_cpu

REPEATS = 3


def main(argv: list[str]) -> None:
    args, calibration = calibration_option(argv)
    if len(args) != 4:
        sys.exit(__doc__)
    kind, sleep_s, points, requests = args[0], float(args[1]), args[2], int(args[3])
    costs = resolve(calibration).costs
    print("point            | measured: req/s (spread), server CPU us/req "
          "| model: req/s, CPU us/req")
    for point in points.split(","):
        workers, concurrency = (int(x) for x in point.split(":"))
        run = measure_cpu(kind, sleep_s, requests, concurrency=concurrency, workers=workers,
                          repeats=REPEATS, every_thread=True)
        out = model_outcome(run, costs)
        print(f"W = {workers}, C = {concurrency:<4} | {run.requests_per_second:7.1f} "
              f"({run.rps_spread_pct:4.1f} %), {run.server_cpu_s * 1e6:5.0f}"
              f"{'':14}| {out.requests_per_second:7.1f}, {out.server_cpu_s * 1e6:5.0f}",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
