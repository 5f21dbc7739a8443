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
    that of one select() round.

    Worker (gunicorn sync + Django, one process each): ``worker_request_cpu_s`` accepts, parses
    and runs the view up to its sleep, ``worker_response_cpu_s`` writes the response and shuts
    the socket, ``worker_close_cpu_s`` sees the client's close and returns to accept.

    ``wakeup_s`` is how long a thread blocked in poll/select/recv/epoll_wait takes to run
    again once its event arrives (scheduler wake-up; on a VM, also the idle vCPU's exit).
    ``*_cold_cpu_s`` is the extra CPU a thread needs for its first burst after a long time off
    the CPU (cold caches), reached with time constant ``cold_tau_s`` (see `machine.Thread`).
    ``time_sleep_overshoot_s`` is how much longer than asked time.sleep lasts; asyncio.sleep's
    overshoot is not a constant but follows from the epoll timeout rounding the loop models,
    plus ``wakeup_s``.
    """

    ab_connect_cpu_s: float = 35e-6
    ab_write_cpu_s: float = 15e-6
    ab_read_cpu_s: float = 25e-6
    ab_close_cpu_s: float = 25e-6
    ab_cold_cpu_s: float = 250e-6
    loop_accept_cpu_s: float = 60e-6
    loop_request_cpu_s: float = 85e-6
    loop_response_cpu_s: float = 45e-6
    loop_close_cpu_s: float = 20e-6
    loop_callback_cpu_s: float = 2e-6
    loop_iteration_cpu_s: float = 5e-6
    loop_cold_cpu_s: float = 700e-6
    worker_request_cpu_s: float = 220e-6
    worker_response_cpu_s: float = 140e-6
    worker_close_cpu_s: float = 40e-6
    worker_cold_cpu_s: float = 850e-6
    cold_tau_s: float = 0.01
    wakeup_s: float = 50e-6
    time_sleep_overshoot_s: float = 0.00006
    source: str = "defaults"

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "source":
                continue
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and 0 <= value < 10):
                raise CalibrationError(f"{f.name} must be a number of seconds in [0, 10), got {value!r}")

    @property
    def asyncio_sleep_overshoot_s(self) -> float:
        """Overshoot of asyncio.sleep(S) for a whole-millisecond S on an idle loop.

        The epoll selector rounds the remaining timeout up to a whole millisecond, but for a
        whole-millisecond S the remainder is S minus the few microseconds between call_later and
        select(), so the rounding adds only those; the wake-up adds ``wakeup_s``.
        """
        return self.wakeup_s + self.loop_iteration_cpu_s

    @property
    def ab_cpu_s(self) -> float:
        """ab's CPU per request (one new connection per request, ab idle between requests)."""
        return (
            self.ab_connect_cpu_s
            + self.ab_write_cpu_s
            + self.ab_read_cpu_s
            + self.ab_close_cpu_s
            + self.ab_cold_cpu_s
        )

    @property
    def loop_cpu_s(self) -> float:
        """The event loop's CPU per request when every request finds it cold (long sleeps)."""
        return (
            self.loop_accept_cpu_s
            + self.loop_request_cpu_s
            + self.loop_response_cpu_s
            + self.loop_close_cpu_s
            + 8 * self.loop_callback_cpu_s
            + self.loop_cold_cpu_s
        )

    @property
    def worker_cpu_s(self) -> float:
        """One gunicorn worker's CPU per request (cold after each sleep)."""
        return (
            self.worker_request_cpu_s
            + self.worker_response_cpu_s
            + self.worker_close_cpu_s
            + self.worker_cold_cpu_s
        )

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
