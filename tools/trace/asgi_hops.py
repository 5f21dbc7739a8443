"""How long Django's sync_to_async round trips take under uvicorn when requests overlap.

    .venv/bin/python tools/trace/asgi_hops.py VIEW SLEEP C N   (VIEW: async or sync)

Starts uvicorn (one worker) on asgi_segments_app.py, the lab's Django application with the loop
thread's clocks read at every boundary of a request, warms it with 200 requests at C, runs ab -n
N -c C, and prints, over the requests after the warm-up: the wall time of each round trip (from
the loop handing the call to the request's thread to the loop taking the result back) by its
place in the request, and the wall time from the application called to the view's sleep and from
the view waking to the application's return (the async view's asyncio.sleep; a sync view sleeps
in its thread, inside one of the round trips, and these two show "-"). At C = 1 a trip lasts its
CPU; under load the difference is the time the trip waited for the interpreter's lock or for the
loop (docs/notes/measurements.md 39).
"""

from __future__ import annotations

import statistics
import sys

from asgi_segments import traced_run


def quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    q = statistics.quantiles(values, n=10) if len(values) > 1 else [values[0]] * 9
    return f"p10 {q[0]:7.0f}  p50 {statistics.median(values):7.0f}  p90 {q[8]:7.0f} us"


def main() -> None:
    view, sleep_s, c, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    run, events = traced_run(view, sleep_s, c, n)
    rate = f"{run.report.requests_per_second:.1f} requests/s" if run.report else "ab failed"
    print(f"ab -n {n} -c {c}, {view} view, sleep {sleep_s:g} s: {rate}")
    by_request: dict[int, list] = {}
    for number, name, cpu, wall in events:
        by_request.setdefault(number, []).append((name, cpu, wall))
    marks = [by_request[k] for k in sorted(by_request) if k >= 201]  # not the warm-up
    trips: dict[int, list[float]] = {}
    before, after = [], []
    for r in marks:
        names = [m[0] for m in r]
        if "app called" not in names or "app returns" not in names:
            continue
        k = 0
        for i, (name, _, wall) in enumerate(r):
            if name == "hop out" and i + 1 < len(r) and r[i + 1][0] == "hop back":
                trips.setdefault(k, []).append(1e6 * (r[i + 1][2] - wall))
                k += 1
        times = {m[0]: m[2] for m in r if m[0] in ("app called", "view sleeps", "view wakes",
                                                    "app returns")}
        if "view sleeps" in times and "view wakes" in times:
            before.append(1e6 * (times["view sleeps"] - times["app called"]))
            after.append(1e6 * (times["app returns"] - times["view wakes"]))
    print(f"{len(marks)} requests traced")
    print(f"  app called -> view sleeps: {quantiles(before)}")
    print(f"  view wakes -> app returns: {quantiles(after)}")
    for k in sorted(trips):
        print(f"  round trip {k + 1:2d}: {quantiles(trips[k])}")


if __name__ == "__main__":
    main()
