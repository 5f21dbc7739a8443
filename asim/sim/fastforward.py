"""Skipping ahead in a long deterministic run: exactly over repeated cycles, or by extrapolating
a measured steady state.

The exact skip. With a deterministic sleep and no jitter the model usually settles, after ab's
start, into a cycle: every p finished requests the same slots finish with the same Connect,
Total and Waiting times, T seconds after the same requests of the previous cycle (p up to two
slot cycles of C requests, or eight where the process has threads under a GIL). Once the last
three cycles agree in the slots that finish, the gaps between finishes (to a nanosecond: no
drift) and the times ab records (to its microsecond), the state has repeated, and m more cycles
would only repeat the samples, shifted by T. `FastForward` then counts the last cycle's p
samples m more times (`AbClient.count_again`: counted, not stored, so memory does not grow with
the run), adds m·p to ab's counters, and moves the clock, the event queue and every stored time
m·T later; the run goes on from there and simulates ab's drain exactly. The report is the one
the full simulation prints.

The extrapolation. Some runs are steady without ever repeating: 64 gunicorn workers behind
1000 clients drift into groups of varying size, and the gaps between finishes differ by tens of
milliseconds from one slot cycle to the next. When no cycle has been found, at least
`WINDOWS` × `MIN_WINDOW` requests have finished and the last half of them splits into `WINDOWS`
consecutive windows of whole slot cycles (multiples of C requests) that agree with each other,
that half is taken as a sample of the steady state. The windows agree when each one's
throughput, and its mean and printed percentiles (50 to 99 %) of Total and means of Connect and
Waiting, lie within `STEADY_REL` (or `STEADY_ABS_US` for times) of the whole half's (the
throughput, of a noisy run, within three standard errors estimated from its slot cycles), and when
either every slot finished equally often in the half and no SYN was retransmitted in it, or the
imbalance or the overflow is stationary: no slot went a whole window without finishing, and a
retransmitted SYN, if any, was seen in every window (an accept queue that overflows all run,
whose share of stalled connects the windows' Connect means then measure; a one-off stall in one
window is no steady state). A gunicorn worker keeps the connections it accepts, so 16 workers of
4 threads serve the slots unevenly for the whole run, the same slots in every window. Because the
half grows with the run, an oscillation slower than the windows shows up as disagreement. The
half is then replicated, whole copies and one partial copy of whole slot cycles, in the place
of the requests that follow, and time shifts by their duration exactly as for the exact skip;
ab's drain is again simulated from the real state. The report is an estimate: its measured
error is in docs/model.md and `SimRun.extrapolated_requests` counts the copied samples.

Both skip at most once, keep two cycles of margin before ab stops opening connections, and
stay off when the server is not shift-invariant (a worker killed on the arbiter's whole-second
clock). The exact skip is tried first at every check.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np

from asim.sim.abclient import SYN_RETRY_S, AbClient
from asim.sim.abreport import PERCENTS
from asim.sim.machine import Clock, Cpu
from asim.sim.usage import GIL, Meter

REPEATS = 3
FIRST_CHECK = 64
# The longest period looked for, in slot cycles (C finished requests). A process with threads
# under a GIL repeats over several: the executor's pool of 6 threads after 3 (aiohttp-executor,
# C = 1000), one gthread worker of 64 threads after 8 (measurements.md section 29). The lab's
# single-threaded shapes keep the 2 their committed predictions were made with: a longer search
# finds longer periods there too (aiohttp at C = 1000 repeats exactly before its steady state is
# accepted), which would replace an extrapolated report by the exact one.
PERIOD_CYCLES = 2
THREADED_PERIOD_CYCLES = 8
GAP_TOLERANCE_S = 1e-9

WINDOWS = 4
MIN_WINDOW = 5000  # requests per window: enough to average out the drift between slot cycles
# MIN_WINDOW was set on aiohttp's one worker, about 14 SimPy events per request. A model that
# costs more events per request (a thread pool, the GIL, the loop's hand-offs: 30-47) first
# tests after the same number of events, so with shorter windows, down to MIN_WINDOW_FLOOR:
# the windows must agree just as closely, and shorter windows are noisier, not more lenient.
REFERENCE_EVENTS_PER_REQUEST = 14.0
MIN_WINDOW_FLOOR = 1000
# Windows of 5000 requests of the drifting 64-worker pool agree within about 0.5 %; the floor
# keeps ab's microsecond rounding of short times from refusing a steady run.
STEADY_REL = 0.005
STEADY_ABS_US = 100.0
MARGIN_CYCLES = 2  # slot cycles (or exact periods) simulated again before ab stops connecting
_STEADY_PERCENTS = tuple(p for p in PERCENTS if p < 100)


class FastForward:
    """Watches ab's finished requests and skips ahead once (see module docstring).

    ``extrapolate`` allows the steady-state extrapolation when no exact cycle is found.
    """

    def __init__(
        self,
        env: Clock,
        cpu: Cpu,
        ab: AbClient,
        server,
        *,
        extrapolate: bool,
        meters: Sequence[Meter] = (),
    ) -> None:
        self.env = env
        self.cpu = cpu
        self.ab = ab
        self.server = server
        threaded = any(m.resource == GIL for m in meters)
        cycles = THREADED_PERIOD_CYCLES if threaded else PERIOD_CYCLES
        self.max_period = cycles * ab.concurrency + 2
        # Checks come every half slot cycle whatever the longest period: a check costs
        # O(max_period), and a short period is found as soon after it has repeated as before.
        self.check_every = max(FIRST_CHECK, (PERIOD_CYCLES * ab.concurrency + 2) // 4)
        self.next_check = FIRST_CHECK
        self.min_window = MIN_WINDOW  # set from the events per request before each test
        self.next_steady = (
            2 * WINDOWS * max(MIN_WINDOW_FLOOR, ab.concurrency) if extrapolate else float("inf")
        )
        self.skipped_requests = 0
        self.extrapolated_requests = 0
        self.keepalive_log = array("q")  # ab's keep-alive count after each finished request
        # CPU given to all threads and to ab's after each finished request: the skipped
        # requests are charged what the requests they copy used (SimRun's CPU per request).
        self.busy_log = array("d")
        self.ab_busy_log = array("d")
        # Likewise each of the server's resources (`asim.sim.usage`): ``extra_busy_s`` is what
        # the skipped requests kept each one busy.
        self.reads = tuple(m.busy_s for m in meters)
        self.meter_log = array("d")  # one row of len(reads) values per finished request
        self.extra_busy_s = [0.0] * len(self.reads)
        ab.on_record = self._on_record

    def _on_record(self) -> None:
        ab = self.ab
        self.keepalive_log.append(ab.keepalive_requests)
        self.busy_log.append(self.cpu.busy_s)
        self.ab_busy_log.append(ab.thread.busy_s)
        if self.reads:
            self.meter_log.extend([read() for read in self.reads])
        n = ab.done
        if n >= self.next_check:
            self.next_check = n + self.check_every
            period = self._period()
            if period is not None:
                self._skip(*period)
                return
        if n >= self.next_steady:
            self.min_window = self._min_window(n)
            c = ab.concurrency
            first = 2 * WINDOWS * -(-self.min_window // c) * c
            if n < first:  # too few requests yet for windows of this model
                self.next_steady = first
                return
            # Each test reads the last half of the run: check at growing intervals.
            self.next_steady = max(n + self.min_window, n * 9 // 8)
            block = self._steady_block()
            if block is not None:
                self._extrapolate(block)

    def _min_window(self, n: int) -> int:
        """MIN_WINDOW scaled down by this run's SimPy events per finished request."""
        # Event ids count every event scheduled so far; the newest waiting one is the largest.
        events = self.env.newest_event_id()
        scale = min(1.0, REFERENCE_EVENTS_PER_REQUEST * n / max(events, 1))
        return max(MIN_WINDOW_FLOOR, self.ab.concurrency, int(MIN_WINDOW * scale))

    def _period(self) -> tuple[int, float] | None:
        # Here and in _steady_block the logs are read through copies of their tails, never
        # views of the array.array itself: a view that outlives the call (a profiler holding
        # the frame, as Dask's workers do) would make ab's next append raise BufferError.
        ab = self.ab
        n = ab.done
        p_max = min(self.max_period, (n - 1) // REPEATS)
        if p_max < 1:
            return None
        window = REPEATS * p_max
        done = np.frombuffer(ab.done_log[-window - 1 :], dtype=np.float64)
        gaps = np.diff(done)
        slots = np.frombuffer(ab.slot_log[-window:], dtype=np.int32)
        stamps = np.stack(
            [
                np.frombuffer(ab.ctime_us[-window:], dtype=np.int64),
                np.frombuffer(ab.time_us[-window:], dtype=np.int64),
                np.frombuffer(ab.waittime_us[-window:], dtype=np.int64),
            ],
            axis=1,
        )
        # Only periods at which the last request repeats can repeat as a whole: test those.
        back = -1 - np.arange(1, p_max + 1)
        candidates = np.flatnonzero(
            (slots[back] == slots[-1])
            & (np.abs(gaps[back] - gaps[-1]) <= GAP_TOLERANCE_S)
            & (np.abs(stamps[back] - stamps[-1]).max(axis=1) <= 1)
        )
        for p in (candidates + 1).tolist():
            k = REPEATS * p
            if not np.array_equal(slots[-k + p :], slots[-k:-p]):
                continue
            # Gaps between finishes must repeat to a nanosecond (no drift); ab's integer
            # microseconds may differ by one where a stamp rounds the other way.
            if np.max(np.abs(gaps[-k + p :] - gaps[-k:-p])) > GAP_TOLERANCE_S:
                continue
            if np.max(np.abs(stamps[-k + p :] - stamps[-k:-p])) > 1:
                continue
            return p, float(done[-1] - done[-1 - p])
        return None

    def _skip(self, p: int, period_s: float) -> None:
        ab = self.ab
        if not self.server.shift_safe or period_s <= 0:
            self._stop()
            return
        m = (ab.requests - ab.started - MARGIN_CYCLES * p) // p
        self._stop()  # one skip per run
        if m <= 0:
            return
        self.skipped_requests = self._replicate(p, m * p)

    def _steady_block(self) -> int | None:
        """The length of the last half of the run (whole windows) if it looks steady."""
        ab = self.ab
        n, c = ab.done, ab.concurrency
        window = n // (2 * WINDOWS * c) * c
        block = WINDOWS * window
        if window < self.min_window or self._room() < block:
            return None
        if not self.server.shift_safe or ab.length_failures or ab.non_2xx:
            return None
        ctime = np.frombuffer(ab.ctime_us[-block:], dtype=np.int64)
        retried = ctime >= SYN_RETRY_S[0] * 1e6  # a slot stalled a second or more on its SYN
        slot = np.frombuffer(ab.slot_log[-block:], dtype=np.int32)
        slots = np.bincount(slot, minlength=c)
        if slots.min() != slots.max() or retried.any():
            # Not whole slot cycles free of stalls: still steady if the imbalance or the
            # overflow is stationary, i.e. every window has some retransmitted SYN (a one-off
            # stall is no steady state) and no slot went a whole window without finishing.
            for i in range(WINDOWS):
                lo, hi = i * window, (i + 1) * window
                if retried.any() and not retried[lo:hi].any():
                    return None
                if np.bincount(slot[lo:hi], minlength=c).min() == 0:
                    return None
        done = np.frombuffer(ab.done_log[-block - 1 :], dtype=np.float64)
        total = np.frombuffer(ab.time_us[-block:], dtype=np.int64)
        wait = np.frombuffer(ab.waittime_us[-block:], dtype=np.int64)

        def stats(lo: int, hi: int) -> np.ndarray:
            ordered = np.sort(total[lo:hi])
            k = hi - lo
            return np.array(
                [
                    ordered.mean(),
                    *(ordered[k * p // 100] for p in _STEADY_PERCENTS),
                    ctime[lo:hi].mean(),
                    wait[lo:hi].mean(),
                ],
                dtype=np.float64,
            )

        whole = stats(0, block)
        tolerance = np.maximum(np.abs(whole) * STEADY_REL, STEADY_ABS_US)
        rate = block / (done[-1] - done[0])
        # A run that is steady but noisy (a loop starved by its own threads and the GIL) has
        # windows whose throughput differs by chance: they need only agree within three
        # standard errors, estimated from the throughput of each slot cycle in the half.
        cycles = c / np.diff(done[::c])
        rate_rel = max(STEADY_REL, 3 * cycles.std() / rate / np.sqrt(window // c))
        for i in range(WINDOWS):
            lo, hi = i * window, (i + 1) * window
            if abs(window / (done[hi] - done[lo]) - rate) > rate_rel * rate:
                return None
            if np.any(np.abs(stats(lo, hi) - whole) > tolerance):
                return None
        return block

    def _extrapolate(self, block: int) -> None:
        c = self.ab.concurrency
        count = self._room() // c * c
        self._stop()
        self.extrapolated_requests = self._replicate(block, count)

    def _room(self) -> int:
        """Requests that may be skipped, leaving two slot cycles before ab stops connecting."""
        ab = self.ab
        return ab.requests - ab.started - MARGIN_CYCLES * ab.concurrency

    def _stop(self) -> None:
        self.next_check = self.next_steady = float("inf")
        self.ab.on_record = None  # nothing reads the logs once the run has skipped

    def _replicate(self, unit: int, count: int) -> int:
        """Add ``count`` samples that continue the last ``unit`` requests periodically and
        move the run on by their duration; returns ``count``.

        The copies end with the last ``unit`` requests themselves (whole copies, preceded by
        the tail of one more), so the real state after them is the present state, shifted.
        """
        ab = self.ab
        m, r = divmod(count, unit)
        done = ab.done_log
        dt = m * (done[-1] - done[-1 - unit]) + (done[-1] - done[-1 - r] if r else 0.0)
        # Counted, not stored: the run's memory does not grow with the requests it skips.
        ab.count_again(r, 1)
        ab.count_again(unit, m)
        kept = self.keepalive_log
        ab.keepalive_requests += m * (kept[-1] - kept[-1 - unit]) + (
            kept[-1] - kept[-1 - r] if r else 0
        )
        ab.started += count
        ab.done += count
        for log, owner in ((self.busy_log, self.cpu), (self.ab_busy_log, ab.thread)):
            owner.busy_s += m * (log[-1] - log[-1 - unit]) + (log[-1] - log[-1 - r] if r else 0.0)
        k = len(self.reads)
        for i in range(k):
            log = self.meter_log[i::k]  # this meter's column (a copy)
            self.extra_busy_s[i] += m * (log[-1] - log[-1 - unit]) + (
                log[-1] - log[-1 - r] if r else 0.0
            )
        self._shift(dt)
        return count

    def _shift(self, dt: float) -> None:
        self.env.shift(dt)
        self.ab.shift(dt)
        self.server.shift(dt)
        self.cpu.shift(dt)
