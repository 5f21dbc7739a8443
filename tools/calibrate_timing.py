"""Where one real `asim calibrate` spends its time: every server start and stop, warm-up, ab run,
the sleep overshoots, the memory runs and both fits, with timestamps, then the sums.

    .venv/bin/python tools/calibrate_timing.py OUT.json [--servers all|first|LIST]

It runs `asim.calibration.fit.calibrate` in this process with timing wrappers around
`asim.lab.procs` (start: from Popen to ready; stop: the wait for the group's end), `run_ab`, the
overshoot measurements, `measure_memory` and the two fits, and writes the calibration to OUT.json
(never to the file `asim predict` reads). docs/notes/measurements.md section 25.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
EVENTS: list[tuple[float, str]] = []


def log(msg: str) -> None:
    now = time.perf_counter() - T0
    EVENTS.append((now, msg))
    print(f"{now:7.2f} {msg}", file=sys.stderr, flush=True)


def timed(module: object, name: str, describe) -> None:
    """Replace ``module.name`` by a wrapper that logs ``describe(args, kwargs, result, s)``."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        result = original(*args, **kwargs)
        log(describe(args, kwargs, result, time.perf_counter() - t))
        return result

    setattr(module, name, wrapper)


def instrument() -> None:
    import asim.calibration.fit as fit
    import asim.calibration.shapes_fit as shapes_fit
    import asim.lab.abrun as abrun
    import asim.lab.measure as measure
    import asim.lab.memory as memory
    import asim.lab.procs as procs

    timed(procs, "_wait_ready", lambda a, k, r, s: f"  start {a[1].label()}: ready {s:.2f} s")
    timed(procs, "stop_group", lambda a, k, r, s: f"  stop: {s:.2f} s")
    for module in (measure, abrun):
        timed(module, "run_ab", lambda a, k, r, s:
              f"  ab -n {k['requests']} -c {k['concurrency']}: {s:.2f} s")
    for name in ("time_sleep_overshoot_s", "asyncio_sleep_overshoot_s"):
        timed(fit, name, lambda a, k, r, s, n=name: f"  {n}: {s:.2f} s")
    timed(fit, "fit", lambda a, k, r, s:
          f"  fit (first stage): {s:.2f} s, {r.check.simulations} simulations")
    timed(shapes_fit, "fit_shapes", lambda a, k, r, s:
          f"  fit (second stage): {s:.2f} s, {r.section['simulations']} simulations")
    timed(memory, "measure_memory", lambda a, k, r, s: f"  memory run {a[0]} {k}: {s:.2f} s")


def summary() -> list[str]:
    """The log's sums: start-ups, stops, warm-ups and ab per stage, then the tail."""
    def first(text: str) -> float:
        return next(t for t, m in EVENTS if text in m)

    stage2 = next((t for t, m in EVENTS if "rounds of: executor warm" in m), None)
    tail = min(first("fitting"), first("memory:"))
    sums: dict[str, dict[str, float]] = {"first stage": {}, "second stage": {}}
    for t, m in EVENTS:
        if t >= tail:
            break
        stage = sums["second stage" if stage2 is not None and t >= stage2 else "first stage"]
        seconds = re.search(r": (?:ready )?([\d.]+) s", m)
        if not seconds:
            continue
        kind = ("start" if "  start " in m else "stop" if "  stop:" in m
                else "overshoots" if "overshoot" in m
                else "warm-up" if "ab -n 50 -c 10:" in m else "ab" if "  ab -n" in m else None)
        if kind:
            stage[kind] = stage.get(kind, 0.0) + float(seconds.group(1))
    lines = []
    begin = 0.0
    for name, end in (("first stage", stage2 or tail), ("second stage", tail)):
        if stage2 is None and name == "second stage":
            continue
        parts = ", ".join(f"{k} {v:.1f}" for k, v in sums[name].items())
        lines.append(f"{name}: {end - begin:.1f} s wall ({parts} s)")
        begin = end
    lines.append(f"fits and memory runs: {EVENTS[-1][0] - tail:.1f} s wall")
    lines += [m.strip() for _, m in EVENTS if "fit (" in m or "memory run" in m]
    lines.append(f"total: {EVENTS[-1][0]:.1f} s")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--servers", default="all")
    args = parser.parse_args()
    from asim.calibration.file import save
    from asim.calibration.fit import calibrate
    from asim.calibration.shapes_fit import parse_servers

    instrument()
    import os

    log(f"load average at the start: {os.getloadavg()[0]:.2f}")
    calibration = calibrate(progress=log, servers=parse_servers(args.servers))
    log("done")
    save(calibration, args.out)
    print("\n".join(summary()))
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":  # the fit's worker processes import this module: nothing runs then
    main()
