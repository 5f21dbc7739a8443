"""What the lab's Django view spends in time.sleep(0): the same gunicorn worker with the view's
``time.sleep(0)`` as it is and made a no-op, side by side.

    .venv/bin/python tools/trace/sleep0.py [--rounds 6] [-n 2000]

Two gunicorn servers (one sync worker each, sleep 0, the request trace of `asim.servers.trace`
on), started by asim's own `running_server`; the second with tools/trace/sleep0_site on
PYTHONPATH, whose sitecustomize makes time.sleep(0) return at once. Rounds of ``ab -n N -c 1``
and ``ab -n N -c 10`` against each in turn; prints the paired RPS ratio (no-op / as is) and, from
the trace, the median of each phase of a request at C = 1 (accept -> parsed -> view -> view
returned -> the client's close seen -> next accept), and the server's CPU per request (every
process of its group, `asim.lab.measure.group_cpu_s`). Python 3.11's time.sleep(0) is a
clock_nanosleep with a deadline already passed (strace shows it), which the kernel ends after
the thread's timer slack: docs/notes/measurements.md section 45.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path

from worker_phases import PHASES, phase_bounds

from asim.lab.abrun import run_ab
from asim.lab.measure import group_cpu_s
from asim.lab.procs import ServerSpec, running_server
from asim.servers.trace import read_trace

HERE = Path(__file__).resolve().parent


def phases(trace: Path) -> dict[str, float]:
    """Median microseconds of each phase of the traced C = 1 requests (`worker_phases.PHASES`;
    the last, to the next accept, only where that came within 5 ms: not across rounds)."""
    rows = sorted((r for r in read_trace(trace) if r.server == "django"
                   and None not in (r.accept_us, r.recv_us, r.start_us, r.end_us, r.close_us)),
                  key=lambda r: r.accept_us)
    lengths_us = [[(hi - lo) * 1e6 for lo, hi in request] for request in phase_bounds(rows, 0.0)]
    out = {name: statistics.median(r[i] for r in lengths_us) for i, name in enumerate(PHASES)}
    out[PHASES[-1]] = statistics.median(r[-1] for r in lengths_us if 0 < r[-1] < 5000)
    return out


@contextlib.contextmanager
def _on_pythonpath(folder: Path) -> Iterator[None]:
    """``folder`` first on PYTHONPATH for the processes started in the block."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), old) if p)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    spec = ServerSpec(kind="django", sleep_s=0.0, workers=1)
    with tempfile.TemporaryDirectory() as tmp:
        traces = {"as is": Path(tmp) / "as-is.tsv", "no-op": Path(tmp) / "no-op.tsv"}
        with contextlib.ExitStack() as stack:
            as_is = stack.enter_context(running_server(spec, trace_file=traces["as is"]))
            with _on_pythonpath(HERE / "sleep0_site"):
                noop = stack.enter_context(running_server(spec, trace_file=traces["no-op"]))
            servers = {"as is": as_is, "no-op": noop}
            for srv in servers.values():  # warm-up
                run_ab(f"http://127.0.0.1:{srv.port}/", requests=500, concurrency=1)
            marks = {name: path.stat().st_size for name, path in traces.items()}
            rps: dict[tuple[int, str], list[float]] = {}
            cpu: dict[tuple[int, str], list[float]] = {}
            for c in (1, 10):
                for _ in range(args.rounds):
                    for name, srv in servers.items():
                        before = group_cpu_s(srv)
                        run = run_ab(f"http://127.0.0.1:{srv.port}/", requests=args.n,
                                     concurrency=c)
                        cpu.setdefault((c, name), []).append((group_cpu_s(srv) - before) / args.n)
                        rps.setdefault((c, name), []).append(run.report.requests_per_second)
                if c == 1:
                    ends = {name: path.stat().st_size for name, path in traces.items()}
        for c in (1, 10):
            a, b = rps[(c, "as is")], rps[(c, "no-op")]
            ratios = [y / x for x, y in zip(a, b, strict=True)]
            print(f"C = {c}: as is {statistics.median(a):.0f} req/s, time.sleep(0) a no-op "
                  f"{statistics.median(b):.0f} req/s; paired ratio median "
                  f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}); "
                  f"{(1 / statistics.median(a) - 1 / statistics.median(b)) * 1e6:.0f} us per "
                  "request; server CPU per request "
                  f"{statistics.median(cpu[(c, 'as is')]) * 1e6:.0f} against "
                  f"{statistics.median(cpu[(c, 'no-op')]) * 1e6:.0f} us")
        for name, path in traces.items():
            part = Path(tmp) / f"{name}-c1.tsv"
            with open(path, "rb") as f:
                f.seek(marks[name])
                part.write_bytes(f.read(ends[name] - marks[name]))
            cols = ", ".join(f"{k} {v:.0f}" for k, v in phases(part).items())
            print(f"C = 1 phases, {name} (median us): {cols}")


if __name__ == "__main__":
    main()
