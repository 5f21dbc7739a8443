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
from pathlib import Path

from common import OUT, ab, log, med_spread, numbers, server

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
                load = Path("/proc/loadavg").read_text().split()[0]
                r = ab(srv, args.requests, c)
                name = f"{kind}_S{sleep_s:g}_c{c}_r{i + 1}.txt"
                header = (f"# ab -n {args.requests} -c {c} http://127.0.0.1:PORT/  "
                          f"(server {kind}, sleep {sleep_s:g} s, workers 1, loadavg {load})")
                (outdir / name).write_text(header + "\n" + r.raw_text)
                p = numbers(r)
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
    columns = (
        lambda r: r["time_taken_s"], lambda r: r["rps"], lambda r: r["tpr_ms"],
        lambda r: r["tpr_all_ms"], lambda r: r["total"]["min"], lambda r: r["total"]["mean"],
        lambda r: r["total"]["median"], lambda r: r["total"]["max"], lambda r: r["pct"][50],
        lambda r: r["pct"][90], lambda r: r["pct"][100],
    )
    for pt in summary:
        cells = [med_spread([column(r) for r in pt["runs"]]) for column in columns]
        lines.append("| " + " | ".join([
            pt["server"], f"{pt['sleep_s']:g}", str(pt["concurrency"]), *cells,
        ]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
