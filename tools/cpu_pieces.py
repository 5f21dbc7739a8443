"""How one calibration run's CPU per request scatters from one short ab run to the next, and how
many pieces a median needs: the evidence for `asim calibrate`'s interleaved rounds.

    .venv/bin/python tools/cpu_pieces.py OUT.json [--rounds 30]
    .venv/bin/python tools/cpu_pieces.py --analyse OUT.json [OUT2.json ...]

Starts aiohttp (sleep 0 and 50 ms) and Django (sleep 0 and 50 ms, one worker) side by side, warms
each up as calibrate does, then runs ROUNDS rounds of five pieces: aiohttp warm (ab -n 300 -c 1),
aiohttp saturated (-n 1500 -c 50), aiohttp cold (-n 30, 50 ms sleep), Django warm (-n 300), Django
cold (-n 30). Each piece's RPS and server CPU per request (schedstat) is one JSON row.
The analysis prints each piece's series, its coefficient of variation and lag-1 autocorrelation
(near 0: the pieces scatter independently, a median of more of them helps; near 1: the machine
drifts), the same for the differences that pin the loop's select() round (warm - saturated)
and the cold extras (cold - warm), and a bootstrap: three calibrations that each take the median
of k pieces, how far apart they land (median of max / min - 1, and how often within 15 %).
Run it on an idle machine.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asim.lab.abrun import run_ab  # noqa: E402
from asim.lab.measure import WARMUP_C, WARMUP_N, children_cpu_s, group_cpu_s  # noqa: E402
from asim.lab.procs import ServerSpec, running_server  # noqa: E402

PIECES = (("aio warm", "aiohttp", 0.0, 300, 1), ("aio sat", "aiohttp", 0.0, 1500, 50),
          ("aio cold", "aiohttp", 0.05, 30, 1), ("dj warm", "django", 0.0, 300, 1),
          ("dj cold", "django", 0.05, 30, 1))
DIFFERENCES = (("aio warm", "aio sat"), ("aio cold", "aio warm"), ("dj cold", "dj warm"))
BOOTSTRAP_K = (3, 6, 9, 12, 18)


def measure(out: Path, rounds: int) -> None:
    rows = []
    with contextlib.ExitStack() as stack:
        servers = {}
        for kind, sleep_s in dict.fromkeys((p[1], p[2]) for p in PIECES):
            srv = stack.enter_context(running_server(ServerSpec(kind=kind, sleep_s=sleep_s)))
            run_ab(srv.url, requests=WARMUP_N, concurrency=WARMUP_C).checked()
            servers[kind, sleep_s] = srv
        for r in range(rounds):
            for name, kind, sleep_s, n, c in PIECES:
                srv = servers[kind, sleep_s]
                before, ab_before = group_cpu_s(srv), children_cpu_s()
                report = run_ab(srv.url, requests=n, concurrency=c).checked()
                after, ab_after = group_cpu_s(srv), children_cpu_s()
                rows.append({"round": r, "name": name, "t": time.time(),
                             "rps": report.requests_per_second,
                             "srv_us": (after - before) / n * 1e6,
                             "ab_us": (ab_after - ab_before) / n * 1e6})
                print(json.dumps(rows[-1]), flush=True)
    out.write_text(json.dumps(rows))


def analyse(paths: list[Path]) -> None:
    rows = [row for p in paths for row in json.loads(p.read_text())]
    series = {name: np.array([r["srv_us"] for r in rows if r["name"] == name])
              for name, *_ in PIECES}
    for a, b in DIFFERENCES:
        series[f"{a} - {b}"] = series[a] - series[b]
    rng = np.random.default_rng(1)
    print(f"{len(series['aio warm'])} rounds; server CPU per request (us)")
    for name, v in series.items():
        lag1 = np.corrcoef(v[:-1], v[1:])[0, 1]
        print(f"{name:20} median {np.median(v):6.0f}  cv {v.std() / v.mean() * 100:5.1f} %  "
              f"lag-1 autocorrelation {lag1:+.2f}")
    print("three calibrations, each the median of k pieces: median of max / min - 1 "
          "(share within 15 %)")
    for k in BOOTSTRAP_K:
        cells = []
        for name, v in series.items():
            spreads = []
            for _ in range(2000):
                meds = [np.median(rng.choice(v, k)) for _ in range(3)]
                spreads.append((max(meds) - min(meds)) / np.median(meds))
            s = np.array(spreads)
            cells.append(f"{name} {np.median(s) * 100:3.0f} % ({np.mean(s < 0.15):.2f})")
        print(f"k = {k:2}: " + "; ".join(cells))


def main() -> None:
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.split("\n\n")[1])
        sys.exit(0 if args else 2)
    if args[0] == "--analyse":
        analyse([Path(a) for a in args[1:]])
        return
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 30
    measure(Path(args[0]), rounds)
    analyse([Path(args[0])])


if __name__ == "__main__":
    main()
