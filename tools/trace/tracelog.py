"""In-memory event log of one server process, written to ``$ASIM_TRACE_FILE.<pid>`` at exit.

Each event is (name, time.time_ns(), time.thread_time_ns(), tag): wall time to align with ab and
strace (same CLOCK_REALTIME), thread CPU to split a request's CPU into steps.
"""

import atexit
import os
import time

_EVENTS: list[tuple[str, int, int, int]] = []
_PATH = os.environ.get("ASIM_TRACE_FILE")


def record(name: str, tag: int = 0) -> None:
    """Log ``name`` now; ``tag`` names the connection (the client's port) where known."""
    _EVENTS.append((name, time.time_ns(), time.thread_time_ns(), tag))


def flush() -> None:
    if not _PATH or not _EVENTS:
        return
    with open(f"{_PATH}.{os.getpid()}", "a") as out:
        for name, wall, cpu, tag in _EVENTS:
            out.write(f"{name}\t{wall}\t{cpu}\t{tag}\n")
    _EVENTS.clear()


atexit.register(flush)
