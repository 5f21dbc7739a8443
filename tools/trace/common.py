"""Shared pieces of the trace scripts: servers as context managers, ab runs, ab text parsing.

Every server runs in its own process group on 127.0.0.1 and a free port, and is killed and
reaped on exit of its ``with`` block.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
REPO = HERE.parent.parent
PY = str(REPO / ".venv" / "bin" / "python")
GUNICORN = str(REPO / ".venv" / "bin" / "gunicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(port: int, proc: subprocess.Popen, deadline_s: float = 20.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        # An HTTP request, not just a connect: gunicorn's master listens before workers boot.
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /ready HTTP/1.0\r\n\r\n")
                s.settimeout(10)
                if s.recv(16).startswith(b"HTTP/"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server not ready in time")


@dataclass
class Server:
    kind: str
    port: int
    proc: subprocess.Popen

    def pids(self) -> list[int]:
        """The processes that serve requests: the aiohttp process, or the gunicorn workers."""
        if self.kind.startswith("aiohttp"):
            return [self.proc.pid]
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]


@contextlib.contextmanager
def server(kind: str, sleep_s: float, *, workers: int = 1, trace: Path | None = None,
           ready_sleep_ok: bool = True) -> Iterator[Server]:
    """Start ``aiohttp``, ``aiohttp-blocking`` or ``django`` (gunicorn sync workers)."""
    port = free_port()
    env = dict(os.environ)
    env.pop("ASIM_TRACE_FILE", None)
    env["PYTHONPATH"] = str(HERE)
    if trace is not None:
        env["ASIM_TRACE_FILE"] = str(trace)
    if kind in ("aiohttp", "aiohttp-blocking"):
        cmd = [PY, str(HERE / "aio_server.py"), "--port", str(port), "--sleep", str(sleep_s)]
        if kind == "aiohttp-blocking":
            cmd.append("--blocking")
    elif kind == "django":
        env["ASIM_SLEEP_S"] = str(sleep_s)
        env["PYTHONPATH"] = f"{HERE / 'djproj'}:{HERE}"
        cmd = [GUNICORN, "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
               "--chdir", str(HERE / "djproj"), "--log-level", "warning"]
        if trace is not None:
            cmd += ["--worker-class", "tracing_worker.TracingSyncWorker"]
        cmd.append("dj.wsgi")
    else:
        raise ValueError(kind)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _wait_ready(port, proc)
        if kind == "django" and workers > 1:
            time.sleep(0.5)  # let every worker finish booting, not only the first
        yield Server(kind, port, proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # gunicorn workers may outlive the master by a moment; reap the group.
        for _ in range(50):
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        if proc.stderr:
            proc.stderr.close()


@dataclass
class AbRun:
    text: str
    stderr: str
    returncode: int
    utime_s: float
    stime_s: float
    wall_start_ns: int
    wall_end_ns: int


def run_ab(port: int, n: int, c: int, *, extra: list[str] | None = None,
           wrap: list[str] | None = None, path: str = "/") -> AbRun:
    """Run ``ab -n n -c c http://127.0.0.1:port/`` and collect its CPU time from wait4."""
    cmd = (wrap or []) + ["ab", *(extra or []), "-n", str(n), "-c", str(c),
                          f"http://127.0.0.1:{port}{path}"]
    start = time.time_ns()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    end = time.time_ns()
    # communicate() already reaped the child; its rusage is in RUSAGE_CHILDREN deltas instead.
    return AbRun(out, err, proc.returncode, 0.0, 0.0, start, end)


def run_ab_rusage(port: int, n: int, c: int, extra: list[str] | None = None) -> AbRun:
    """Like run_ab, but reaps ab with os.wait4 for its exact user and system CPU."""
    cmd = ["ab", *(extra or []), "-n", str(n), "-c", str(c), f"http://127.0.0.1:{port}/"]
    out_path = OUT / ".ab_stdout.tmp"
    with open(out_path, "w") as out, open(os.devnull, "w") as err:
        start = time.time_ns()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(proc.pid, 0)
        end = time.time_ns()
        proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text()
    out_path.unlink()
    return AbRun(text, "", proc.returncode, ru.ru_utime, ru.ru_stime, start, end)


def proc_cpu(pid: int) -> tuple[float, float, float]:
    """(utime s, stime s, on-CPU s from schedstat) of one process, all its threads."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    tick = os.sysconf("SC_CLK_TCK")
    utime, stime = int(fields[11]) / tick, int(fields[12]) / tick
    run_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        run_ns += int((task / "schedstat").read_text().split()[0])
    return utime, stime, run_ns / 1e9


_NUM = r"([\d.]+)"


def parse_ab(text: str) -> dict:
    """The numbers the lab reads from ab's text (a small parser for these notes only)."""
    def one(pattern: str) -> float:
        m = re.search(pattern, text)
        if not m:
            raise ValueError(f"ab output lacks {pattern!r}")
        return float(m.group(1))

    rows = {}
    for row in ("Connect", "Processing", "Waiting", "Total"):
        m = re.search(rf"^{row}:\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)", text, re.M)
        if m:
            rows[row.lower()] = dict(zip(("min", "mean", "sd", "median", "max"),
                                         (float(g) for g in m.groups())))
    pct = {int(p): int(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\d+)", text, re.M)}
    return {
        "time_taken_s": one(r"Time taken for tests:\s+" + _NUM),
        "complete": int(one(r"Complete requests:\s+(\d+)")),
        "failed": int(one(r"Failed requests:\s+(\d+)")),
        "rps": one(r"Requests per second:\s+" + _NUM),
        "tpr_ms": one(r"Time per request:\s+" + _NUM + r" \[ms\] \(mean\)"),
        "tpr_all_ms": one(r"Time per request:\s+" + _NUM + r" \[ms\] \(mean, across"),
        **rows,
        "pct": pct,
    }


def med_spread(values: list[float]) -> str:
    """'median [min–max]' of repeated measurements."""
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.4g} [{min(values):.4g}–{max(values):.4g}]"


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)
