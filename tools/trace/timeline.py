"""Timeline of single ab runs: ab's syscalls (strace -ttt -yy) against server-side timestamps.

    .venv/bin/python tools/trace/timeline.py            # record the three runs, then analyse
    .venv/bin/python tools/trace/timeline.py --analyse  # analyse what out/timeline/ holds

Runs (S = 0.1 s): aiohttp c=40 n=100, aiohttp-blocking c=10 n=30, django w=1 c=5 n=20.
Each is recorded twice: once with ab under strace (µs times of ab's connect/write/read/close,
with the client port of every socket) and once without strace (ab undisturbed; its start is
then estimated as last activity - time taken). Server events carry the client port, so every
request is matched exactly between ab and the server.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import re
import shutil
import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from common import OUT, log, numbers_of_text, server

from asim.lab.abrun import ab_command, find_ab

RUNS = [
    ("aiohttp", 0.1, 40, 100),
    ("aiohttp-blocking", 0.1, 10, 30),
    ("django", 0.1, 5, 20),
]
DIR = OUT / "timeline"


def record(kind: str, sleep_s: float, c: int, n: int, strace: bool) -> None:
    name = f"{kind}_c{c}_n{n}" + ("_strace" if strace else "")
    trace = DIR / f"{name}.srv"
    for old in DIR.glob(f"{name}.srv*"):
        old.unlink()
    with server(kind, sleep_s, trace=trace) as srv:
        time.sleep(0.3)
        cmd = ab_command(srv.url, requests=n, concurrency=c, gnuplot_path=DIR / f"{name}.tsv",
                         ab_path=find_ab())
        if strace:
            # seccomp-bpf: only the traced calls stop ab (epoll_wait does not); no -yy, whose
            # socket decoding costs ~1 ms per call. Connections are matched to the server's
            # by order of arrival instead of by port.
            cmd = ["strace", "-f", "-ttt", "--seccomp-bpf", "-o", str(DIR / f"{name}.strace"),
                   "-e", "trace=socket,connect,write,read,close"] + cmd
        t0 = time.time_ns()
        out = subprocess.run(cmd, capture_output=True, text=True)
        t1 = time.time_ns()
    (DIR / f"{name}.ab.txt").write_text(f"# {' '.join(cmd)}\n# spawn_ns {t0} exit_ns {t1}\n"
                                        + out.stdout)
    # The server logs to one file per process; gather them into one file sorted by time.
    lines = []
    for part in DIR.glob(f"{name}.srv.*"):
        pid = part.name.rsplit(".", 1)[1]
        lines += [f"{ln}\t{pid}" for ln in part.read_text().splitlines()]
        part.unlink()
    lines.sort(key=lambda ln: int(ln.split("\t")[1]))
    (DIR / f"{name}.srv.tsv").write_text("event\twall_ns\tthread_cpu_ns\tclient_port\tpid\n"
                                         + "\n".join(lines) + "\n")
    if strace:
        src = DIR / f"{name}.strace"
        with open(src, "rb") as f, gzip.open(f"{src}.gz", "wb") as g:
            shutil.copyfileobj(f, g)
        src.unlink()


def load_server(path: Path) -> list[tuple[str, int, int, int]]:
    rows = []
    for ln in path.read_text().splitlines()[1:]:
        ev, wall, cpu, port, _pid = ln.split("\t")
        rows.append((ev, int(wall), int(cpu), int(port)))
    return rows


_SYS = re.compile(r"^(?:\d+\s+)?([\d.]+) (\w+)\((\S+?)[,)](.*)= (-?\d+)")


def load_ab_strace(path: Path) -> list[dict[str, int]]:
    """ab's TCP connections in order of connect(): socket, connect, write, first_read, eof,
    close (ns, wall clock)."""
    conns: list[dict[str, int]] = []
    open_fd: dict[int, dict[str, int]] = {}
    with gzip.open(path, "rt") as f:
        for ln in f:
            m = _SYS.match(ln)
            if not m:
                continue
            ts, call, arg, _rest, ret = m.groups()
            t = int(round(float(ts) * 1e9))
            ret = int(ret)
            if call == "socket":
                if arg == "AF_INET" and ret >= 0:
                    open_fd[ret] = {"socket": t}
                continue
            fd = int(arg) if arg.isdigit() else -1
            c = open_fd.get(fd)
            if c is None:
                continue
            if call == "connect" and "connect" not in c:
                c["connect"] = t
                conns.append(c)
            elif call == "write":
                c.setdefault("write", t)
            elif call == "read" and ret > 0:
                c.setdefault("first_read", t)
            elif call == "read" and ret == 0:
                c.setdefault("eof", t)
            elif call == "close":
                c["close"] = t
                del open_fd[fd]
    return conns


def q(values: list[float]) -> str:
    if not values:
        return "-"
    v = sorted(values)
    return (f"n={len(v)} min {v[0]:.3f} p50 {statistics.median(v):.3f} "
            f"mean {statistics.fmean(v):.3f} max {v[-1]:.3f}")


def groups(times_ms: list[float], gap_ms: float = 5.0) -> list[str]:
    """Cluster sorted times: 'start+span(count)' for runs separated by more than gap_ms."""
    out, cur = [], []
    for t in sorted(times_ms):
        if cur and t - cur[-1] > gap_ms:
            out.append(cur)
            cur = []
        cur.append(t)
    if cur:
        out.append(cur)
    return [f"{g[0]:.2f}+{g[-1] - g[0]:.2f}ms({len(g)})" for g in out]


def gnuplot_totals(path: Path) -> list[int]:
    """ttime column (ms) of ab -g, one row per request."""
    return [int(ln.split("\t")[4]) for ln in path.read_text().splitlines()[1:] if ln.strip()]


NAMES = {  # arrival, view start, view end, close
    "django": ("accept", "view_start", "view_end", "closed"),
    "aiohttp": ("conn_made", "handler_start", "handler_end", "conn_lost"),
    "aiohttp-blocking": ("conn_made", "handler_start", "handler_end", "conn_lost"),
}


def analyse(kind: str, c: int, n: int) -> dict:
    res: dict = {"run": f"{kind} S=0.1 c={c} n={n}"}
    arrive_ev, start_ev, end_ev, close_ev = NAMES[kind]
    for variant in ("", "_strace"):
        name = f"{kind}_c{c}_n{n}{variant}"
        srv = load_server(DIR / f"{name}.srv.tsv")
        ab = numbers_of_text((DIR / f"{name}.ab.txt").read_text())
        by: dict[int, dict[str, int]] = defaultdict(dict)
        for e, w, _, p in srv:
            by[p].setdefault(e, w)
        # The readiness probe of common.server is the first connection; skip it.
        order = sorted((by[p][arrive_ev], p) for p in by if arrive_ev in by[p])[1:]
        ports = [p for _, p in order]
        served = [p for p in ports if start_ev in by[p]]
        last_close = max(by[p][close_ev] for p in served)
        r: dict = {"ab_time_taken_s": ab["time_taken_s"], "ab_rps": ab["rps"],
                   "ab_total_ms": ab["total"], "ab_pct_ms": ab["pct"],
                   "connections_seen": len(ports), "connections_without_request":
                   len(ports) - len(served)}
        abc = None
        if variant:
            abc = load_ab_strace(DIR / f"{name}.strace.gz")
            t0 = abc[0]["connect"]
            r["t0"] = "ab's first connect() as seen by strace"
        else:
            t0 = last_close - int(round(ab["time_taken_s"] * 1e9))
            r["t0"] = "last server close - ab's time taken (±1 ms; ab undisturbed)"

        def ms(t: int, t0: int = t0) -> float:  # ms after this variant's t0
            return (t - t0) / 1e6

        r["first_arrival_ms"] = round(ms(by[ports[0]][arrive_ev]), 3)
        r["first_view_start_ms"] = round(ms(by[ports[0]][start_ev]), 3)
        r["first_close_ms"] = round(ms(by[ports[0]][close_ev]), 3)
        r["arrival_groups"] = groups([ms(by[p][arrive_ev]) for p in ports])
        r["view_start_groups"] = groups([ms(by[p][start_ev]) for p in served])
        r["close_groups"] = groups([ms(by[p][close_ev]) for p in served])
        r["view_end_to_close_ms"] = q([(by[p][close_ev] - by[p][end_ev]) / 1e6 for p in served])
        r["view_ms"] = q([(by[p][end_ev] - by[p][start_ev]) / 1e6 for p in served])
        r["arrival_to_view_start_ms"] = q([(by[p][start_ev] - by[p][arrive_ev]) / 1e6
                                           for p in served])
        if not variant:
            totals = gnuplot_totals(DIR / f"{name}.tsv")
            r["ab_g_totals_ms_sorted"] = sorted(totals)
        if abc is not None:
            f = abc[0]
            r["ab_first_conn_ms"] = {k: round(ms(v), 3) for k, v in f.items()}
            burst = [x["connect"] for x in abc[1:c]]
            r["ab_burst"] = {
                "connects": len(burst),
                "first_after_first_read_ms": round((burst[0] - f["first_read"]) / 1e6, 3),
                "last_after_first_read_ms": round((burst[-1] - f["first_read"]) / 1e6, 3),
                "connects_before_first_eof": sum(1 for t in burst if t < f["eof"]),
            }
            r["ab_conns"] = len(abc)
            r["ab_conns_without_write"] = sum(1 for x in abc if "write" not in x)
            done = [x for x in abc if "eof" in x]
            r["ab_connect_to_eof_ms"] = q([(x["eof"] - x["connect"]) / 1e6 for x in done])
            # Pair the i-th connection of ab with the i-th arrival at the server.
            pairs = [(x, by[p]) for x, p in zip(abc, ports, strict=False)  # as many as both saw
                     if "eof" in x and close_ev in by[p]]
            r["server_close_to_ab_eof_ms"] = q([(x["eof"] - s[close_ev]) / 1e6 for x, s in pairs])
            r["ab_connect_to_server_arrival_ms"] = q(
                [(s[arrive_ev] - x["connect"]) / 1e6 for x, s in pairs])
            if kind == "django":
                r["ab_close_to_worker_closed_ms"] = q(
                    [(s["closed"] - x["close"]) / 1e6 for x, s in pairs if "close" in x])
        if kind == "django":
            r["response_done_to_closed_ms"] = q(
                [(by[p]["closed"] - by[p]["response_done"]) / 1e6 for p in served])
            r["closed_to_next_accept_ms"] = q(
                [(by[b]["accept"] - by[a]["closed"]) / 1e6 for a, b in itertools.pairwise(ports)])
            r["accept_to_view_start_ms"] = q(
                [(by[p]["view_start"] - by[p]["accept"]) / 1e6 for p in served])
        if kind == "aiohttp-blocking":
            r["batches"] = batches(srv, set(ports), t0)
        res["strace" if variant else "plain"] = r
    return res


def batches(srv, keep: set[int], t0: int) -> list[dict]:
    """Handler runs of the blocking loop: a batch is handlers run back to back with no other
    logged loop event (accept, close) between them; closes_after = connection_lost calls that
    follow the batch before the next batch starts."""
    out: list[dict] = []
    cur = None
    for e, w, _, p in srv:
        if p not in keep:
            continue
        t = round((w - t0) / 1e6, 3)
        if e == "handler_start":
            if cur is None or cur.get("closed"):
                cur = {"start_ms": t, "size": 0, "closes_after": 0, "arrivals_after": 0}
                out.append(cur)
            cur["size"] += 1
        elif e == "handler_end":
            cur["end_ms"] = t
        elif cur is not None:
            cur["closed"] = True
            if e == "conn_lost":
                cur["closes_after"] += 1
                cur.setdefault("first_close_after_ms", t)
            elif e == "conn_made":
                cur["arrivals_after"] += 1
    for b in out:
        b.pop("closed", None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--analyse", action="store_true")
    args = ap.parse_args()
    DIR.mkdir(parents=True, exist_ok=True)
    if not args.analyse:
        for kind, s, c, n in RUNS:
            for st in (True, False):
                log("record", kind, c, n, "strace" if st else "plain")
                record(kind, s, c, n, st)
    results = [analyse(kind, c, n) for kind, _, c, n in RUNS]
    (DIR / "analysis.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
