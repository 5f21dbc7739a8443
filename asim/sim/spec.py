"""What to simulate: the server shape and the ab command, as frozen, validated records."""

from __future__ import annotations

import os
from dataclasses import dataclass

from asim.errors import InputError
from asim.sim.shapes import WORKERS, Shape, check_options, check_workers, shape

MAX_CONCURRENCY = 20000  # ab's MAX_CONCURRENCY
# ab -n: asim's own limit (ab has none). A run that skips ahead keeps its memory bounded, but
# one that never settles (jitter, a drifting pool) simulates and stores every request.
MAX_REQUESTS = 1_000_000
# Sleeps up to this are CPU-dominated: the server's and ab's CPU on K cores decide the numbers,
# so they follow the machine's CPU speed (docs/model.md).
CPU_DOMINATED_SLEEP_S = 0.002
MAX_WORKERS = 1024
# A handler's sleep that the model and `asim serve` accept: anything longer is no web request.
# What a grid may predict or measure is shorter (`asim.limits.MAX_SLEEP_S`).
MAX_HANDLER_SLEEP_S = 3600.0


def machine_cores() -> int:
    """CPU cores this process may run on (what ab and the servers share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One ab run against one server: ``ab -n requests -c concurrency [-k]``.

    ``threads`` (a thread pool's size) and ``blocking_s`` (a blocking slice of the handler) apply
    to the shapes that take them; None takes the shape's default (`asim.sim.shapes`).

    ``workers`` counts gunicorn sync workers and is ignored by the event-loop servers;
    ``sleep_s`` is the handler's IO wait; ``cores`` the CPU cores shared by server and ab;
    ``ab_timeout_s`` is ab's ``-s`` and ``worker_timeout_s`` gunicorn's ``--timeout``.
    """

    server: str
    sleep_s: float = 0.1
    concurrency: int = 10
    requests: int = 100
    workers: int = 1
    keepalive: bool = False
    cores: int = 2
    ab_timeout_s: float = 30.0
    worker_timeout_s: float = 30.0
    threads: int | None = None
    blocking_s: float | None = None

    def __post_init__(self) -> None:
        shape(self.server)  # an unknown name is an InputError
        if not self.requests >= 1:
            raise InputError(f"requests must be a positive integer, got {self.requests}")
        if self.requests > MAX_REQUESTS:
            raise InputError(f"requests must be at most {MAX_REQUESTS} (asim's limit for ab -n), "
                             f"got {self.requests}")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise InputError(
                f"concurrency must be between 1 and {MAX_CONCURRENCY} (ab's limit), "
                f"got {self.concurrency}"
            )
        if self.concurrency > self.requests:
            raise InputError(
                f"concurrency {self.concurrency} exceeds requests {self.requests}: "
                "ab refuses a concurrency level greater than the number of requests"
            )
        if not 0 <= self.sleep_s <= MAX_HANDLER_SLEEP_S:
            raise InputError(
                f"sleep must be between 0 and {MAX_HANDLER_SLEEP_S:g} s, got {self.sleep_s:g}"
            )
        if not 1 <= self.workers <= MAX_WORKERS:
            raise InputError(f"workers must be between 1 and {MAX_WORKERS}, got {self.workers}")
        check_workers(self.server, self.workers)
        if not 1 <= self.cores <= 1024:
            raise InputError(f"cores must be between 1 and 1024, got {self.cores}")
        # None takes the shape's default; a shape without the option keeps None.
        threads, blocking_s = check_options(
            self.server, threads=self.threads, blocking_s=self.blocking_s, cores=self.cores
        )
        object.__setattr__(self, "threads", threads)
        object.__setattr__(self, "blocking_s", blocking_s)
        for name in ("ab_timeout_s", "worker_timeout_s"):
            value = getattr(self, name)
            if not (value > 0 and value < float("inf")):
                raise InputError(f"{name} must be a positive number of seconds, got {value}")

    @property
    def shape(self) -> Shape:
        return shape(self.server)

    @property
    def uses_workers(self) -> bool:
        return self.shape.takes(WORKERS)

    def label(self) -> str:
        """A short human name, e.g. ``django w=2 S=0.1 c=10 n=100``."""
        w = f" w={self.workers}" if self.uses_workers else ""
        t = f" t={self.threads}" if self.threads is not None else ""
        b = f" B={self.blocking_s:g}" if self.blocking_s is not None else ""
        k = " -k" if self.keepalive else ""
        return (f"{self.server}{w}{t}{b} S={self.sleep_s:g} c={self.concurrency} "
                f"n={self.requests}{k}")
