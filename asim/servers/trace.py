"""Optional server-side request trace: one tab-separated line per request.

Enabled by the environment variable ``ASIM_TRACE_FILE`` (a path); when it is unset nothing in
this module is called on the request path. Every server process appends its own lines to the one
file with a single ``write`` on an ``O_APPEND`` descriptor, so lines of concurrent processes
never interleave.

Columns (times are wall-clock integer microseconds from ``time.time_ns()``, the clock ab uses
for its start, or ``-`` when the server cannot see that moment):

``server``     ``aiohttp``, ``aiohttp-blocking`` or ``django``
``pid``        the process that served the request (a gunicorn worker for django)
``peer_port``  the client's TCP port (ab opens one connection per request without ``-k``)
``accept_us``  aiohttp: the protocol was created (right after accept);
               gunicorn: the worker's ``accept()`` returned
``recv_us``    aiohttp: the first bytes of the request arrived;
               gunicorn: the request line and headers were parsed
``start_us``   the view / handler began
``end_us``     the view / handler returned (before the response is written)
``close_us``   aiohttp: the connection was lost (the same for every request of a keep-alive
               connection); gunicorn: the graceful close finished, i.e. the worker saw the
               client's close (or gave up after its 2 s wait)

The readiness probe of `asim.lab.procs.running_server` is a real request and is traced too
(unless the handler sleeps too long for one, see `asim.lab.procs._full_probe`);
``RunningServer.ready_wall_ns`` tells where the probe ends.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "ASIM_TRACE_FILE"
COLUMNS: tuple[str, ...] = (
    "server",
    "pid",
    "peer_port",
    "accept_us",
    "recv_us",
    "start_us",
    "end_us",
    "close_us",
)
MISSING = "-"

_fd: int | None = None


def trace_path() -> str | None:
    """The trace file named by the environment, or None when tracing is off."""
    return os.environ.get(ENV_VAR) or None


def now_us() -> int:
    """Wall-clock microseconds (CLOCK_REALTIME), comparable with ab's start time."""
    return time.time_ns() // 1000


def write(server: str, peer_port: int | None, times_us: Iterable[int | None]) -> None:
    """Append one request line; ``times_us`` are accept, recv, start, end and close."""
    global _fd
    if _fd is None:
        path = trace_path()
        if path is None:
            return
        _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    fields = [server, str(os.getpid()), MISSING if peer_port is None else str(peer_port)]
    fields += [MISSING if t is None else str(t) for t in times_us]
    os.write(_fd, ("\t".join(fields) + "\n").encode())


@dataclass(frozen=True, kw_only=True, slots=True)
class TraceRecord:
    """One traced request (see the module docstring for the meaning of each time)."""

    server: str
    pid: int
    peer_port: int | None
    accept_us: int | None
    recv_us: int | None
    start_us: int | None
    end_us: int | None
    close_us: int | None


def parse_line(line: str) -> TraceRecord:
    """Read one trace line; ValueError names the problem when it is not one."""
    parts = line.rstrip("\n").split("\t")
    if len(parts) != len(COLUMNS):
        raise ValueError(f"trace line has {len(parts)} fields, expected {len(COLUMNS)}: {line!r}")

    def num(text: str) -> int | None:
        return None if text == MISSING else int(text)

    return TraceRecord(
        server=parts[0],
        pid=int(parts[1]),
        peer_port=num(parts[2]),
        accept_us=num(parts[3]),
        recv_us=num(parts[4]),
        start_us=num(parts[5]),
        end_us=num(parts[6]),
        close_us=num(parts[7]),
    )


def read_trace(path: str | Path) -> Iterator[TraceRecord]:
    """Every record of a trace file, in the order the lines were written."""
    with open(path) as lines:
        for line in lines:
            if line.strip():
                yield parse_line(line)
