"""Per-request CPU demands and timing constants of the model.

Every CPU figure is seconds of one core per request for one step; `asim calibrate` measures them
on the machine. The defaults (`--calibration none`) are one `asim calibrate` run of the joint fit
on this project's reference machine (2 vCPUs, Linux 6.18, Python 3.11, aiohttp 3.14, Django 5.2,
gunicorn 27, ab 2.3 from apache2-utils 2.4.71), idle, rounded to two significant figures:
figures/calibration-check-2/calibration-1.json, chosen by tools/builtin_costs.py among six such
runs as the one that passed its own check and lies closest to the six's medians (a joint fit, not
a mix of medians: its parameters trade against each other); docs/notes/measurements.md
section 26 has the choice, and earlier sections how each cost was measured. Django under
uvicorn's costs are that file's second-stage runs fitted again after the sync view's round trip
got costs of its own (section 27.5).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from asim.errors import CalibrationError


@dataclass(frozen=True, kw_only=True)
class Costs:
    """CPU demand of each step of one request, and the timing constants around them.

    ab (one thread): ``ab_connect_cpu_s`` opens the socket and connects, ``ab_write_cpu_s``
    writes the request, ``ab_read_cpu_s`` reads the response, ``ab_close_cpu_s`` handles EOF,
    records the sample and closes; ``ab_poll_cpu_s`` is one apr_pollset_poll call that wakes
    ab up (shared by all the events it returns).

    Event loop (aiohttp, one thread): ``loop_accept_cpu_s`` accepts and builds the transport,
    ``loop_request_cpu_s`` reads, parses and runs the handler up to its sleep,
    ``loop_response_cpu_s`` builds and writes the response, ``loop_close_cpu_s`` closes;
    ``loop_callback_cpu_s`` is the overhead of running any one callback, ``loop_iteration_cpu_s``
    that of one select() round.

    Worker (gunicorn sync + Django, one process each): ``worker_request_cpu_s`` accepts, parses
    and runs the view up to its sleep, ``worker_response_cpu_s`` writes the response and shuts
    the socket, ``worker_close_cpu_s`` sees the client's close and returns to accept;
    ``gthread_accept_cpu_s`` is what a gthread worker's main thread spends to accept a
    connection, register it and hand it to its pool (the pool thread then spends the worker
    costs above).

    ``worker_herd_cpu_s`` is what an idle worker spends when a connection wakes it from select()
    (return, try accept(); every idle worker is woken, one wins); ``worker_boot_s`` is how long
    the master needs to fork a replacement worker that has imported Django (after the arbiter
    killed one at its timeout); not calibrated.

    Threads beside an event loop: ``pool_item_cpu_s`` is what a ThreadPoolExecutor thread
    spends on one item (take it, set the future, call the loop back), ``loop_handoff_cpu_s`` what
    the loop spends to take the result back (the self-pipe wake-up, asyncio's chained futures
    and the task's wake-up); ``asgi_framework_cpu_s``
    is the CPU Django's ASGI handler under uvicorn adds on the loop to a request, beyond the
    event-loop costs above, its round trips' loop side included (split over the request by
    `DJANGO_ASGI_LOOP_SHARES`); ``asgi_thread_cpu_s`` is one sync_to_async round trip's CPU in
    the request's own thread (asgiref gives every request a ThreadSensitiveContext, so a thread
    of its own, created on first use), for each of the fifteen round trips Django makes around
    every view (`DJANGO_ASGI_TRIPS`);
    ``asgi_view_thread_cpu_s`` and ``asgi_view_handoff_cpu_s`` are the thread's and the loop's
    CPU of the sync view's own round trip (its call through sync_to_async): measured as the
    difference between the sync and the async view's runs, which differ by that round trip
    alone, and cheaper than Django's own round trips (docs/notes/measurements.md section 27.5);
    ``asgi_thread_cold_cpu_s`` is the extra CPU of that thread's
    first burst after it idled while the whole machine did (`machine.Thread`'s rule): a sync
    view's thread that wakes from its sleep on an idle machine runs the response path, and the
    loop after it, with cold caches (docs/notes/measurements.md, section 17).

    ``wakeup_s`` is how long a thread blocked in poll/select/recv/epoll_wait takes to run
    again once its event arrives (scheduler wake-up; on a VM, also the idle vCPU's exit).
    ``switch_loss`` is what a burst that had to wait for a core loses to the threads that ran
    meanwhile: it needs 1 / (1 - switch_loss) times its CPU (a fraction, not seconds).
    ``*_cold_cpu_s`` is the extra CPU a thread needs for its first burst after a long time off
    the CPU while the whole machine idled (cold caches, idle cores), reached with time constant
    ``cold_tau_s`` once the idle time exceeds ``cold_onset_s`` (see `machine.Thread`; 0: from
    the first microsecond, as the built-in costs have it).
    ``time_sleep_overshoot_s`` is how much longer than asked time.sleep lasts;
    ``timer_overshoot_s`` how late epoll_wait returns after its (whole-millisecond, rounded up)
    timeout: together with the rounding the loop models, that is asyncio.sleep's overshoot.
    """

    ab_connect_cpu_s: float = 8.4e-6
    ab_write_cpu_s: float = 3.6e-6
    ab_read_cpu_s: float = 6e-6
    ab_close_cpu_s: float = 6e-6
    ab_poll_cpu_s: float = 33e-6
    ab_cold_cpu_s: float = 410e-6
    loop_accept_cpu_s: float = 31e-6
    loop_request_cpu_s: float = 38e-6
    loop_response_cpu_s: float = 18e-6
    loop_close_cpu_s: float = 7.6e-6
    loop_callback_cpu_s: float = 2e-6
    loop_iteration_cpu_s: float = 15e-6
    loop_cold_cpu_s: float = 740e-6
    worker_request_cpu_s: float = 360e-6
    worker_response_cpu_s: float = 130e-6
    worker_close_cpu_s: float = 32e-6
    worker_cold_cpu_s: float = 780e-6
    worker_herd_cpu_s: float = 42e-6
    worker_boot_s: float = 0.5
    # The shapes beyond the lab: measured at C = 1, sleep 0 on an idle 2-vCPU machine
    # (docs/notes/measurements.md, section 15); `asim calibrate`'s second stage fits them on
    # this machine. The per-request thread's cold penalty is 0 unless calibrated (section 17).
    gthread_accept_cpu_s: float = 190e-6
    pool_item_cpu_s: float = 92e-6
    loop_handoff_cpu_s: float = 180e-6
    asgi_framework_cpu_s: float = 2500e-6
    asgi_thread_cpu_s: float = 80e-6
    asgi_thread_cold_cpu_s: float = 1100e-6
    asgi_view_thread_cpu_s: float = 340e-6
    asgi_view_handoff_cpu_s: float = 84e-6
    cold_tau_s: float = 0.016
    cold_onset_s: float = 0.0
    switch_loss: float = 0.2
    wakeup_s: float = 18e-6
    timer_overshoot_s: float = 98e-6
    time_sleep_overshoot_s: float = 34e-6
    source: str = "defaults"

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "source":
                continue
            value = getattr(self, f.name)
            limit, unit = (1, "a fraction") if f.name == "switch_loss" else (10, "seconds")
            # bool is an int to Python, but `true` in a file is no number of seconds.
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not (number and 0 <= value < limit):
                raise CalibrationError(
                    f"{f.name} must be a number ({unit}) in [0, {limit}), got {value!r}"
                )

    def time_sleep_s(self, sleep_s: float) -> float:
        """How long time.sleep(sleep_s) holds its thread (time.sleep(0) returns at once)."""
        return sleep_s + self.time_sleep_overshoot_s if sleep_s > 0 else 0.0

    @property
    def asyncio_sleep_overshoot_s(self) -> float:
        """Overshoot of asyncio.sleep(S) for a whole-millisecond S on an idle loop.

        The epoll selector rounds the remaining timeout up to a whole millisecond, but for a
        whole-millisecond S the remainder is S minus the few microseconds between call_later and
        select(), so the rounding adds only those; epoll_wait's lateness adds ``timer_overshoot_s``.
        """
        return self.timer_overshoot_s + self.loop_iteration_cpu_s

    @property
    def ab_cpu_s(self) -> float:
        """ab's warm CPU per request: its steps and one poll wake-up (the least it can spend,
        so 1 / ab_cpu_s bounds the request rate ab can drive)."""
        return (
            self.ab_connect_cpu_s
            + self.ab_write_cpu_s
            + self.ab_read_cpu_s
            + self.ab_close_cpu_s
            + self.ab_poll_cpu_s
        )

    @property
    def loop_cpu_s(self) -> float:
        """The event loop's warm CPU per request: its steps and eight callbacks, select()
        rounds shared with other requests (the least it can spend: a throughput ceiling)."""
        return (
            self.loop_accept_cpu_s
            + self.loop_request_cpu_s
            + self.loop_response_cpu_s
            + self.loop_close_cpu_s
            + 8 * self.loop_callback_cpu_s
        )

    @property
    def loop_light_load_extra_s(self) -> float:
        """What a request costs the loop on top of `loop_cpu_s` when it is alone: a cold start
        and a select() round for each of its nine steps."""
        return self.loop_cold_cpu_s + 9 * self.loop_iteration_cpu_s

    @property
    def worker_cpu_s(self) -> float:
        """One gunicorn worker's warm CPU per request."""
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

# The cost fields by whose CPU or clock they describe; a shape lists the groups its model reads.
AB_COSTS: tuple[str, ...] = tuple(f.name for f in fields(Costs) if f.name.startswith("ab_"))
LOOP_COSTS: tuple[str, ...] = tuple(
    f.name for f in fields(Costs) if f.name.startswith("loop_")
) + ("timer_overshoot_s", "time_sleep_overshoot_s")
WORKER_COSTS: tuple[str, ...] = tuple(
    f.name for f in fields(Costs) if f.name.startswith("worker_")
) + ("time_sleep_overshoot_s",)
MACHINE_COSTS: tuple[str, ...] = ("cold_tau_s", "switch_loss", "wakeup_s")
POOL_COSTS: tuple[str, ...] = ("pool_item_cpu_s", "loop_handoff_cpu_s")
# Django 5.2's ASGIHandler with startproject's middleware, traced (docs/notes/measurements.md
# section 31.5): its sync_to_async round trips before the view (request_started, six
# process_request, one process_view), between the view and the response (six process_response)
# and after the response is sent (response.close with request_finished); and the shares of its
# CPU on the loop before the first trip, over the trips, and after the last.
DJANGO_ASGI_TRIPS = (8, 6, 1)
DJANGO_ASGI_ROUND_TRIPS = sum(DJANGO_ASGI_TRIPS)
DJANGO_ASGI_LOOP_SHARES = (0.15, 0.67, 0.18)

ASGI_COSTS: tuple[str, ...] = ("asgi_framework_cpu_s", "asgi_thread_cpu_s", "loop_handoff_cpu_s",
                                "asgi_thread_cold_cpu_s", "asgi_view_thread_cpu_s",
                                "asgi_view_handoff_cpu_s")
GTHREAD_COSTS: tuple[str, ...] = ("gthread_accept_cpu_s",)
# Not measured by the first stage of `asim calibrate` (aiohttp's and Django's runs): a
# calibration file keeps these only in its "shapes" section, written by the second stage
# (`asim.calibration.shapes_fit`); a file without it follows the built-in values, so an old file
# never pins a value that a newer asim measured better.
UNCALIBRATED: tuple[str, ...] = tuple(dict.fromkeys(POOL_COSTS + ASGI_COSTS + GTHREAD_COSTS))
