"""Per-request CPU demands and timing constants of the model.

Every CPU figure is seconds of one core per request for one step; `asim calibrate` measures them
on the machine, and the defaults below are what a 2-core Linux machine of this project's kind
shows (see docs/notes/measurements.md for how each was measured).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from asim.errors import CalibrationError


@dataclass(frozen=True, kw_only=True)
class Costs:
    """CPU demand of each step of one request, and the timing constants around them.

    ab (one thread): ``ab_connect_cpu_s`` opens the socket and connects, ``ab_write_cpu_s``
    writes the request, ``ab_read_cpu_s`` reads the response, ``ab_close_cpu_s`` handles EOF,
    records the sample and closes.

    Event loop (aiohttp, one thread): ``loop_accept_cpu_s`` accepts and builds the transport,
    ``loop_request_cpu_s`` reads, parses and runs the handler up to its sleep,
    ``loop_response_cpu_s`` builds and writes the response, ``loop_close_cpu_s`` closes;
    ``loop_callback_cpu_s`` is the overhead of running any one callback, ``loop_iteration_cpu_s``
    that of one select() round, and ``loop_wakeup_s`` how late epoll_wait returns after its
    (whole-millisecond) timeout.

    Worker (gunicorn sync + Django, one process each): ``worker_request_cpu_s`` accepts, parses
    and runs the view up to its sleep, ``worker_response_cpu_s`` writes the response and shuts
    the socket, ``worker_close_cpu_s`` sees the client's close and returns to accept.

    ``asyncio_sleep_overshoot_s`` and ``time_sleep_overshoot_s`` are how much longer than asked
    the two sleeps last; ``net_latency_s`` is one loopback hop.
    """

    ab_connect_cpu_s: float = 30e-6
    ab_write_cpu_s: float = 15e-6
    ab_read_cpu_s: float = 20e-6
    ab_close_cpu_s: float = 25e-6
    loop_accept_cpu_s: float = 60e-6
    loop_request_cpu_s: float = 150e-6
    loop_response_cpu_s: float = 100e-6
    loop_close_cpu_s: float = 30e-6
    loop_callback_cpu_s: float = 4e-6
    loop_iteration_cpu_s: float = 8e-6
    loop_wakeup_s: float = 60e-6
    worker_request_cpu_s: float = 500e-6
    worker_response_cpu_s: float = 100e-6
    worker_close_cpu_s: float = 50e-6
    asyncio_sleep_overshoot_s: float = 0.0006
    time_sleep_overshoot_s: float = 0.00006
    net_latency_s: float = 10e-6
    source: str = "defaults"

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "source":
                continue
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and 0 <= value < 10):
                raise CalibrationError(f"{f.name} must be a number of seconds in [0, 10), got {value!r}")

    @property
    def ab_cpu_s(self) -> float:
        """ab's CPU per request (one new connection per request)."""
        return self.ab_connect_cpu_s + self.ab_write_cpu_s + self.ab_read_cpu_s + self.ab_close_cpu_s

    @property
    def loop_cpu_s(self) -> float:
        """The event loop's CPU per request (eight callbacks, select rounds not counted)."""
        return (
            self.loop_accept_cpu_s
            + self.loop_request_cpu_s
            + self.loop_response_cpu_s
            + self.loop_close_cpu_s
            + 8 * self.loop_callback_cpu_s
        )

    @property
    def worker_cpu_s(self) -> float:
        """One gunicorn worker's CPU per request."""
        return self.worker_request_cpu_s + self.worker_response_cpu_s + self.worker_close_cpu_s

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Costs:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CalibrationError(f"unknown calibration fields: {', '.join(unknown)}")
        return cls(**data)  # type: ignore[arg-type]


DEFAULT_COSTS = Costs()
