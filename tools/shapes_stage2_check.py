"""The second calibration stage offline on recorded data.

    PYTHONPATH=. .venv/bin/python tools/shapes_stage2_check.py

The new shapes' C = 1, sleep 0 runs of docs/notes/measurements.md section 15.2 (idle machine,
n = 1000, medians of 3) are fitted by `asim.calibration.shapes_fit` with
figures/calibration-check/calibration-3.json (measured right after them) as the first stage; then
the new shapes' points of figures/shapes are predicted with figures/shapes/calibration.json, once
with the built-in new-shape costs and once with the fitted ones, and each point's RPS error
against the median of its 3 runs is printed.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from asim.calibration import shapes_fit
from asim.calibration.file import load
from asim.lab.measure import CpuRun
from asim.sim.costs import UNCALIBRATED
from asim.sim.model import simulate
from asim.sim.spec import Scenario

FIGURES = Path(__file__).resolve().parent.parent / "figures"
# Section 15.2: RPS, server CPU per request of all threads and of the main threads, ab's (µs).
SECTION_15_2 = {
    "executor warm": (shapes_fit.EXECUTOR, 1703, 470, 393, 77),
    "gthread warm": (shapes_fit.GTHREAD, 1386, 640, 97, 49),
    "asgi warm": (shapes_fit.ASGI, 236, 4190, 2999, 94),
    "asgi-sync warm": (shapes_fit.ASGI_SYNC, 228, 4280, 2990, 93),
}


def recorded_runs() -> dict[str, CpuRun]:
    return {
        name: CpuRun(server=server, sleep_s=0.0, requests=1000, concurrency=1, workers=1,
                     requests_per_second=rps, server_cpu_s=all_us * 1e-6,
                     main_cpu_s=main_us * 1e-6, ab_cpu_s=ab_us * 1e-6,
                     time_per_request_ms=1e3 / rps, repeats=3)
        for name, (server, rps, all_us, main_us, ab_us) in SECTION_15_2.items()
    }


def measured_points(folder: Path) -> dict[tuple, float]:
    by = defaultdict(list)
    with open(folder / "points.jsonl") as lines:
        for line in lines:
            p = json.loads(line)
            if p["server"] in shapes_fit.SERVERS:
                key = (p["server"], p["workers"], p.get("threads"), p["sleep_s"],
                       p["concurrency"], p["requests"], p["keepalive"])
                by[key].append(p["observed"]["requests_per_second"])
    return {key: statistics.median(rps) for key, rps in by.items()}


def main() -> None:
    cal = shapes_fit.extend(load(FIGURES / "calibration-check" / "calibration-3.json"),
                            recorded_runs())
    for line in shapes_fit.summary_lines(cal):
        print(line)
    for r in cal.check.runs[-len(SECTION_15_2):]:
        print(f"  {r.name:16} RPS measured {r.measured_rps:7.1f}, model {r.model_rps:7.1f} "
              f"({r.error_pct:+.1f} %), server CPU {r.server_cpu_error_pct:+.1f} %")
    fitted = {name: getattr(cal.costs, name) for name in UNCALIBRATED}
    holdout = load(FIGURES / "shapes" / "calibration.json").costs
    points = measured_points(FIGURES / "shapes")
    for label, costs in (("built-in", holdout), ("second stage", replace(holdout, **fitted))):
        errors = []
        for (server, w, t, s, c, n, k), rps in sorted(points.items(), key=str):
            scenario = Scenario(server=server, workers=w, threads=t, sleep_s=s, concurrency=c,
                                requests=n, keepalive=k)
            model = simulate(scenario, costs=costs, keep_records=False).report
            errors.append((f"{server} w{w} t{t} s{s} c{c}{' -k' if k else ''}",
                           (model.requests_per_second / rps - 1) * 100))
        worst = max(abs(e) for _, e in errors)
        print(f"{label}: median |RPS error| {statistics.median(abs(e) for _, e in errors):.1f} %,"
              f" max {worst:.1f} %")
        print("   " + "; ".join(f"{name}: {e:+.1f}" for name, e in errors))


if __name__ == "__main__":
    main()
