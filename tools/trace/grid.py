"""The lab grid, observed: ab -n 100 -c C against each server, 3 repeats per point.

    .venv/bin/python tools/trace/grid.py [--repeats 3]

Raw ab outputs go to tools/trace/out/grid/<kind>_S<sleep>_c<C>_r<i>.txt, the parsed numbers to
out/grid/summary.json, and a markdown table (median [min–max] over repeats) to stdout.
Each point gets a fresh server; the repeats run one after another against it.
"""

from __future__ import annotations

import argparse
import json
import time

from common import OUT, log, med_spread, parse_ab, run_ab, server

POINTS: list[tuple[str, float, int]] = (
    [(k, 0.1, c) for k in ("aiohttp", "django", "aiohttp-blocking") for c in (5, 10, 20, 40)]
    + [(k, s, 10) for k in ("aiohttp", "django") for s in (0.2, 0.3)]
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100)
    args = ap.parse_args()
    outdir = OUT / "grid"
    outdir.mkdir(parents=True, exist_ok=True)
    summary = []
    for kind, sleep_s, c in POINTS:
        runs = []
        with server(kind, sleep_s, workers=1) as srv:
            for i in range(args.repeats):
                time.sleep(0.3)
                load = open("/proc/loadavg").read().split()[0]
                r = run_ab(srv.port, args.requests, c)
                name = f"{kind}_S{sleep_s:g}_c{c}_r{i + 1}.txt"
                (outdir / name).write_text(
                    f"# ab -n {args.requests} -c {c} http://127.0.0.1:PORT/  "
                    f"(server {kind}, sleep {sleep_s:g} s, workers 1, loadavg {load})\n" + r.text)
                p = parse_ab(r.text)
                p["loadavg"] = float(load)
                runs.append(p)
                log(kind, sleep_s, c, i + 1, p["time_taken_s"], p["rps"], p["total"])
        summary.append({"server": kind, "sleep_s": sleep_s, "concurrency": c,
                        "requests": args.requests, "runs": runs})
    (outdir / "summary.json").write_text(json.dumps(summary, indent=1))
    print(table(summary))


def table(summary: list[dict]) -> str:
    head = ("| server | S | c | time taken s | RPS | TPR ms | TPR all ms | Total min | mean "
            "| median | max | p50 | p90 | p100 |")
    lines = [head, "|" + "---|" * 14]
    for pt in summary:
        rs = pt["runs"]
        col = lambda f: med_spread([f(r) for r in rs])  # noqa: E731
        lines.append("| " + " | ".join([
            pt["server"], f"{pt['sleep_s']:g}", str(pt["concurrency"]),
            col(lambda r: r["time_taken_s"]), col(lambda r: r["rps"]),
            col(lambda r: r["tpr_ms"]), col(lambda r: r["tpr_all_ms"]),
            col(lambda r: r["total"]["min"]), col(lambda r: r["total"]["mean"]),
            col(lambda r: r["total"]["median"]), col(lambda r: r["total"]["max"]),
            col(lambda r: r["pct"][50]), col(lambda r: r["pct"][90]), col(lambda r: r["pct"][100]),
        ]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
