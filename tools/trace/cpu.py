"""CPU seconds per request of each process, and the saturation throughput, with sleep 0.

    .venv/bin/python tools/trace/cpu.py [--repeats 3]

Part 1, C=1: for each server, ab -n 2000 -c 1 (after a 200-request warm-up); CPU of the serving
process(es) from /proc/<pid>/stat (utime, stime; 10 ms ticks) and /proc/<pid>/task/*/schedstat
(on-CPU ns), CPU of ab from getrusage of the children. Also the mean latency at C=1.
Part 2, split: the same at n=500 with the trace hooks on; thread-CPU deltas between consecutive
logged events of one request give the CPU of each step.
Part 3, saturation: ab -n 5000 -c 10 and -c 50; RPS and each process's CPU share of wall time.
Results go to out/cpu/summary.json and stdout.

    .venv/bin/python tools/trace/cpu.py --vs-sleep

Part 4: CPU per request at C=1 when the handler sleeps S = 0, 0.001, 0.01, 0.1 (a process that
wakes from a sleep runs the same code slower: cold caches, lower clock). To out/cpu/vs_sleep.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

from common import OUT, ab, ab_with_cpu, log, med_spread, numbers, proc_cpu, server

DIR = OUT / "cpu"
SERVERS = [("aiohttp", 1), ("django", 1)]


def measure(kind: str, workers: int, n: int, c: int, sleep_s: float = 0.0) -> dict:
    with server(kind, sleep_s, workers=workers) as srv:
        pids = srv.pids()
        ab(srv, 200 if sleep_s == 0 else 5, 1)  # warm-up: imports, first-request costs
        time.sleep(0.2)
        before = {p: proc_cpu(p) for p in pids}
        run = ab_with_cpu(srv, n, c)
        after = {p: proc_cpu(p) for p in pids}
    wall_s = run.run.elapsed_s
    p = numbers(run.run)
    done = p["complete"]
    srv_user = sum(after[q][0] - before[q][0] for q in pids)
    srv_sys = sum(after[q][1] - before[q][1] for q in pids)
    srv_run = sum(after[q][2] - before[q][2] for q in pids)
    return {
        "server": kind, "workers": workers, "n": n, "c": c, "done": done,
        "failed": p["failed"], "time_taken_s": p["time_taken_s"], "rps": p["rps"],
        "total_mean_ms": p["total"]["mean"], "tpr_ms": p["tpr_ms"],
        "server_cpu_us_per_req": srv_run / done * 1e6,
        "server_user_us_per_req": srv_user / done * 1e6,
        "server_sys_us_per_req": srv_sys / done * 1e6,
        "ab_cpu_us_per_req": (run.utime_s + run.stime_s) / done * 1e6,
        "ab_user_us_per_req": run.utime_s / done * 1e6,
        "ab_sys_us_per_req": run.stime_s / done * 1e6,
        "server_cpu_share": srv_run / wall_s,
        "ab_cpu_share": (run.utime_s + run.stime_s) / wall_s,
        "ab_wall_s": wall_s,
        "loadavg": float(Path("/proc/loadavg").read_text().split()[0]),
    }


STEPS = {
    "aiohttp": [("conn_lost", "conn_made", "accept: close of previous socket, accept, transport"),
                ("conn_made", "handler_start", "read + parse + request and task creation"),
                ("handler_start", "handler_end", "handler body (sleep 0)"),
                ("handler_end", "conn_lost", "response build + write + transport close")],
    "django": [("closed", "accept", "select/accept of the next connection"),
               ("accept", "parsed", "read + parse the request"),
               ("parsed", "view_start", "WSGI environ + Django handler entry"),
               ("view_start", "view_end", "Django middleware + view (sleep 0)"),
               ("view_end", "response_done", "write response + access log hook"),
               ("response_done", "closed", "close_graceful: shutdown, wait for client FIN, close")],
}


def split(kind: str, n: int) -> dict:
    trace = DIR / f"split_{kind}"
    for old in DIR.glob(f"split_{kind}.*"):
        old.unlink()
    with server(kind, 0.0, trace=trace) as srv:
        ab(srv, n, 1)
    events = []
    for part in DIR.glob(f"split_{kind}.*"):
        for ln in part.read_text().splitlines():
            e, w, cpu, port = ln.split("\t")
            events.append((int(w), e, int(cpu), int(port)))
        part.unlink()
    events.sort()
    # Deltas between consecutive events of the single serving thread (C=1: no interleaving).
    deltas: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (_, e0, c0, _), (_, e1, c1, _) in itertools.pairwise(events):
        deltas[(e0, e1)].append((c1 - c0) / 1e3)
    out = {}
    skip = n // 10  # drop the first tenth (warm-up)
    for a, b, what in STEPS[kind]:
        v = deltas.get((a, b), [])[skip:]
        out[f"{a}->{b}"] = {"what": what, "n": len(v),
                            "cpu_us_median": statistics.median(v) if v else None,
                            "cpu_us_mean": statistics.fmean(v) if v else None}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--vs-sleep", action="store_true")
    args = ap.parse_args()
    DIR.mkdir(parents=True, exist_ok=True)
    if args.vs_sleep:
        vs_sleep(args.repeats)
        return
    result: dict = {"c1": [], "split": {}, "saturation": []}
    for kind, w in SERVERS:
        for i in range(args.repeats):
            r = measure(kind, w, 2000, 1)
            log("c1", kind, i,
                {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()})
            result["c1"].append(r)
    for kind, _ in SERVERS:
        result["split"][kind] = split(kind, 500)
        log("split", kind, result["split"][kind])
    for kind, w in [("aiohttp", 1), ("django", 1), ("django", 2)]:
        for c in (10, 50):
            for i in range(args.repeats):
                r = measure(kind, w, 5000, c)
                log("sat", kind, w, c, i, round(r["rps"]), round(r["server_cpu_share"], 2),
                    round(r["ab_cpu_share"], 2))
                result["saturation"].append(r)
    (DIR / "summary.json").write_text(json.dumps(result, indent=1))
    print(report(result))


def vs_sleep(repeats: int) -> None:
    rows = []
    for kind in ("aiohttp", "aiohttp-blocking", "django"):
        for sleep_s, n in ((0.0, 2000), (0.001, 1000), (0.01, 300), (0.1, 50)):
            for i in range(repeats):
                r = measure(kind, 1, n, 1, sleep_s)
                r["sleep_s"] = sleep_s
                r["per_req_minus_sleep_us"] = (r["time_taken_s"] / r["done"] - sleep_s) * 1e6
                log("vs-sleep", kind, sleep_s, i, round(r["server_cpu_us_per_req"]),
                    round(r["ab_cpu_us_per_req"]), round(r["per_req_minus_sleep_us"]))
                rows.append(r)
    (DIR / "vs_sleep.json").write_text(json.dumps(rows, indent=1))
    by = defaultdict(list)
    for r in rows:
        by[(r["server"], r["sleep_s"])].append(r)
    print("| server | S | server CPU µs/req | ab CPU µs/req | time taken/n - S, µs |")
    print("|---|---|---|---|---|")
    for (k, s), rs in by.items():
        print(f"| {k} | {s:g} | " + " | ".join(med_spread([r[x] for r in rs]) for x in (
            "server_cpu_us_per_req", "ab_cpu_us_per_req", "per_req_minus_sleep_us")) + " |")


def report(result: dict) -> str:
    lines = ["C=1, sleep 0, n=2000 (median [min–max] of repeats)", ""]
    keys = ["server_cpu_us_per_req", "server_user_us_per_req", "server_sys_us_per_req",
            "ab_cpu_us_per_req", "ab_user_us_per_req", "ab_sys_us_per_req", "rps",
            "total_mean_ms", "tpr_ms", "server_cpu_share", "ab_cpu_share"]
    by = defaultdict(list)
    for r in result["c1"]:
        by[(r["server"], r["workers"])].append(r)
    lines.append("| quantity | " + " | ".join(f"{k} w={w}" for k, w in by) + " |")
    lines.append("|---|" + "---|" * len(by))
    for key in keys:
        lines.append(f"| {key} | " + " | ".join(med_spread([r[key] for r in rs])
                                                 for rs in by.values()) + " |")
    lines += ["", "Steps (thread CPU between trace events, C=1, n=500, µs)", ""]
    for kind, steps in result["split"].items():
        for name, s in steps.items():
            lines.append(f"- {kind} {name} ({s['what']}): median {s['cpu_us_median']:.1f}, "
                         f"mean {s['cpu_us_mean']:.1f} (n={s['n']})")
    lines += ["", "Saturation, sleep 0, n=5000", ""]
    by = defaultdict(list)
    for r in result["saturation"]:
        by[(r["server"], r["workers"], r["c"])].append(r)
    lines.append("| server | w | c | RPS | server CPU share | ab CPU share | server µs/req "
                 "| ab µs/req | Total mean ms |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for (k, w, c), rs in by.items():
        lines.append(f"| {k} | {w} | {c} | " + " | ".join(med_spread([r[x] for r in rs]) for x in (
            "rps", "server_cpu_share", "ab_cpu_share", "server_cpu_us_per_req",
            "ab_cpu_us_per_req", "total_mean_ms")) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
