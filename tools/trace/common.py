"""Shared pieces of the trace scripts: the lab's servers, ab runs, the numbers the notes read.

Servers, ab and ab's text are asim's own: an untraced server is `asim.lab.procs.running_server`
(the lab's aiohttp and Django apps), ab runs through `asim.lab.abrun` and its text is read by
`asim.sim.abtext`. A traced server is this folder's instrumented copy of the same app
(aio_server.py, djproj/ and tracing_worker.py log every step with its thread CPU time, which
asim's per-request trace does not record); it is started and stopped with asim's process
primitives (a free private port, its own process group, SIGTERM then SIGKILL to the group).
Every server listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from asim.lab.abrun import AbRun, run_ab
from asim.lab.procs import (
    ServerSpec,
    die_with_parent,
    free_port,
    group_members,
    running_server,
    stop_group,
)
from asim.sim.abtext import parse_ab_text

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


HOST = "127.0.0.1"
READY_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Server:
    kind: str
    port: int
    pid: int  # the process group leader: the aiohttp process or the gunicorn master

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def pids(self) -> list[int]:
        """The processes that serve requests: the aiohttp process, the gunicorn workers, or
        uvicorn's one process (one worker: no children)."""
        if self.kind.startswith("aiohttp"):
            return [self.pid]
        return sorted(p for p in group_members(self.pid) if p != self.pid) or [self.pid]


@contextlib.contextmanager
def server(kind: str, sleep_s: float, *, workers: int = 1,
           trace: Path | None = None) -> Iterator[Server]:
    """Run ``aiohttp``, ``aiohttp-blocking`` or ``django`` (gunicorn sync workers) until the
    ``with`` block ends; ``trace`` runs the instrumented copy, logging to ``trace.<pid>``."""
    if trace is None:
        with running_server(ServerSpec(kind=kind, sleep_s=sleep_s, workers=workers)) as srv:
            yield Server(kind, srv.port, srv.pid)
        return
    with _traced_server(kind, sleep_s, workers, trace) as srv:
        yield srv


def _traced_command(kind: str, sleep_s: float, workers: int, port: int,
                    trace: Path) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    env["ASIM_TRACE_FILE"] = str(trace)
    env["PYTHONPATH"] = str(HERE)
    if kind in ("aiohttp", "aiohttp-blocking"):
        argv = [sys.executable, str(HERE / "aio_server.py"), "--port", str(port),
                "--sleep", str(sleep_s)]
        if kind == "aiohttp-blocking":
            argv.append("--blocking")
        return argv, env
    if kind == "django":
        env["ASIM_SLEEP_S"] = str(sleep_s)
        env["PYTHONPATH"] = f"{HERE / 'djproj'}:{HERE}"
        argv = [sys.executable, "-m", "gunicorn", "--workers", str(workers),
                "--bind", f"{HOST}:{port}", "--chdir", str(HERE / "djproj"),
                "--log-level", "warning",
                "--worker-class", "tracing_worker.TracingSyncWorker", "dj.wsgi"]
        return argv, env
    raise ValueError(f"unknown server {kind!r}")


@contextlib.contextmanager
def _traced_server(kind: str, sleep_s: float, workers: int, trace: Path) -> Iterator[Server]:
    port = free_port(HOST)
    argv, env = _traced_command(kind, sleep_s, workers, port, trace)
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=die_with_parent)
    try:
        _wait_ready(port, proc)
        if kind == "django" and workers > 1:
            time.sleep(0.5)  # let every worker finish booting, not only the first
        yield Server(kind, port, proc.pid)
    finally:
        stop_group(proc)


def _wait_ready(port: int, proc: subprocess.Popen, deadline_s: float = READY_TIMEOUT_S) -> None:
    """Until the server answers an HTTP request (the trace's first connection: the analyses
    skip it). A connect alone is not enough: gunicorn's master listens before workers boot."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"GET /ready HTTP/1.0\r\n\r\n")
                s.settimeout(10)
                if s.recv(16).startswith(b"HTTP/"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server not ready in time")


def ab(srv: Server, n: int, c: int, *, gnuplot: Path | None = None) -> AbRun:
    """``ab -n n -c c`` against ``srv``, whatever its outcome (a failed run has no report)."""
    return run_ab(srv.url, requests=n, concurrency=c, gnuplot_path=gnuplot)


@dataclass(frozen=True)
class AbCpu:
    run: AbRun
    utime_s: float  # ab's user and system CPU (getrusage of the children it left)
    stime_s: float


def ab_with_cpu(srv: Server, n: int, c: int) -> AbCpu:
    """Like `ab`, with ab's CPU time: RUSAGE_CHILDREN grows by exactly the ab process reaped
    inside (the servers are reaped only when they stop), as in `asim.lab.measure`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = ab(srv, n, c)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return AbCpu(run, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime)


def user_sys_s(stat_path: str | Path) -> tuple[float, float]:
    """(utime s, stime s) of a /proc stat file: a process's (all its threads, the ended ones
    too) or one thread's (``/proc/PID/task/TID/stat``)."""
    stat = Path(stat_path).read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def switches(pids: list[int]) -> tuple[int, int]:
    """Voluntary context switches so far of the main threads, and of the other live threads."""
    main = other = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                text = (task / "status").read_text()
            except OSError:
                continue
            count = next(int(line.split()[1]) for line in text.splitlines()
                         if line.startswith("voluntary_ctxt_switches"))
            if task.name == str(pid):
                main += count
            else:
                other += count
    return main, other


def proc_cpu(pid: int) -> tuple[float, float, float]:
    """(utime s, stime s, on-CPU s from schedstat) of one process, all its threads."""
    utime, stime = user_sys_s(f"/proc/{pid}/stat")
    run_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        run_ns += int((task / "schedstat").read_text().split()[0])
    return utime, stime, run_ns / 1e9


def numbers(run: AbRun) -> dict:
    """The numbers the notes read from one ab run, under the keys of the summaries in out/
    (a run with failed requests has them; a run ab itself gave up on raises)."""
    if run.report is None:
        raise RuntimeError(f"`{run.command_line()}`: {'; '.join(run.problems)}")
    return report_numbers(run.report)


def report_numbers(report) -> dict:
    """`numbers` of an `asim` AbReport (the class is not named here: any report with ab's
    fields will do)."""
    return {
        "time_taken_s": report.time_taken_s,
        "complete": report.complete_requests,
        "failed": report.failed_requests,
        "rps": report.requests_per_second,
        "tpr_ms": report.time_per_request_ms,
        "tpr_all_ms": report.time_per_request_all_ms,
        "connect": _row(report.connect),
        "processing": _row(report.processing),
        "waiting": _row(report.waiting),
        "total": _row(report.total),
        "pct": dict(report.percentiles_ms),
    }


def _row(row) -> dict[str, float]:
    # in floats, as the summaries in out/ have always held them
    return {k: float(v) for k, v in row.to_dict().items()}


def numbers_of_text(text: str) -> dict:
    """`numbers` of a saved ab output (lines before ab's banner, like a ``# command`` header,
    are not ab's and are dropped)."""
    start = text.find("This is ApacheBench")
    return report_numbers(parse_ab_text(text[max(start, 0):]).report)


def med_spread(values: list[float]) -> str:
    """'median [min–max]' of repeated measurements."""
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.4g} [{min(values):.4g}–{max(values):.4g}]"


def calibration_option(argv: list[str]) -> tuple[list[str], str]:
    """The positional arguments of ``argv`` and its ``--calibration FILE`` (default ``auto``:
    this machine's `asim calibrate` file), for the scripts that predict beside what they
    measure."""
    args = [a for a in argv if not a.startswith("--")]
    calibration = "auto"
    if "--calibration" in argv:
        calibration = argv[argv.index("--calibration") + 1]
        args.remove(calibration)
    return args, calibration


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)
