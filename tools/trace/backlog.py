"""Listen-queue overflow of aiohttp's backlog (128): does ab's Connect show the SYN retries?

    .venv/bin/python tools/trace/backlog.py

Two short runs, each with the system-wide TcpExtListenOverflows / TcpExtListenDrops counters
read before and after (nstat -az; other users of the machine may add to them):
  A. aiohttp, asyncio.sleep(1), ab -n 300 -c 300
  B. aiohttp-blocking, time.sleep(0.01), ab -n 400 -c 200
ab -g gives each request's Connect time; the notes count requests with ctime near 1 s, 3 s, 7 s.
Raw outputs in out/backlog/.
"""

from __future__ import annotations

import collections
import json
import subprocess

from common import OUT, ab, log, numbers, server

DIR = OUT / "backlog"
RUNS = [("aiohttp", 1.0, 300, 300), ("aiohttp-blocking", 0.01, 400, 200)]


def counters() -> dict[str, int]:
    out = subprocess.run(["nstat", "-az", "TcpExtListenOverflows", "TcpExtListenDrops"],
                         capture_output=True, text=True).stdout
    vals = {}
    for ln in out.splitlines():
        parts = ln.split()
        if parts and parts[0].startswith("TcpExt"):
            vals[parts[0]] = int(parts[1])
    return vals


def main() -> None:
    DIR.mkdir(parents=True, exist_ok=True)
    res = []
    for kind, s, n, c in RUNS:
        name = f"{kind}_S{s:g}_n{n}_c{c}"
        with server(kind, s) as srv:
            before = counters()
            r = ab(srv, n, c, gnuplot=DIR / f"{name}.tsv")
            after = counters()
        header = f"# ab -g {name}.tsv -n {n} -c {c} http://127.0.0.1:PORT/ ({kind}, sleep {s:g})"
        (DIR / f"{name}.txt").write_text(header + "\n" + r.raw_text)
        rows = [ln.split("\t") for ln in (DIR / f"{name}.tsv").read_text().splitlines()[1:]]
        ctime = [int(x[2]) for x in rows]
        steps = collections.Counter(("<500" if v < 500 else "~1000" if v < 2000 else
                                     "~3000" if v < 5000 else ">=5000") for v in ctime)
        p = numbers(r) if r.report is not None else {}  # None: ab gave up
        row = {"run": name, "delta": {k: after[k] - before.get(k, 0) for k in after},
               "ctime_steps": dict(steps), "time_taken_s": p.get("time_taken_s"),
               "connect_row_ms": p.get("connect"), "total_row_ms": p.get("total"),
               "failed": p.get("failed"), "problems": list(r.problems)}
        log(row)
        res.append(row)
    (DIR / "summary.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
