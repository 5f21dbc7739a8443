"""Gantt data of one ab run: who waits where, request by request.

`build_timeline` turns per-request stamps (simulated `RequestRecord`s or observed ones from
`asim.lecture.observed`) into lanes of ``(start, end, kind)`` segments: one lane per ab
connection slot, one per gunicorn worker, and for the blocking event loop one lane showing the
loop's blocked stretches grouped into the batches it ran back to back. It is pure; `plot_timeline`
draws a `Timeline` on an Axes the caller owns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from asim.errors import InputError
from asim.sim.shapes import WORKERS, shape

CONNECT = "connect"  # ab's connect(): start -> connect
QUEUED = "queued"  # written, not yet in the handler: accept queue, loop, worker busy
HANDLER = "handler"  # the handler's IO wait (sleep) until the response is written
CLOSE = "close"  # response written -> ab saw EOF (FIN, and for a batch, the rest of the batch)
READ = "read"  # a worker holds the connection before its view runs (recv, parse)
BLOCKED = "blocked"  # the blocking event loop runs one batch of handlers back to back
HELD = "held"  # a pool thread holds one item: its Python, and the sleep it blocks in
POOL_WAIT = "pool_wait"  # in the handler (or a gthread worker), waiting for a free pool thread
KINDS: tuple[str, ...] = (CONNECT, QUEUED, POOL_WAIT, HANDLER, CLOSE, READ, BLOCKED, HELD)

SLOT, WORKER, LOOP = "slot", "worker", "loop"
POOL = "pool"  # one thread of a thread pool (the executor's, a gthread worker's)

COLOURS: Mapping[str, str] = {
    CONNECT: "#f2b134",
    QUEUED: "#c9c9c9",
    HANDLER: "#1f6fb4",
    CLOSE: "#8fc98f",
    READ: "#9467bd",
    BLOCKED: "#d62728",
    HELD: "#17becf",
    POOL_WAIT: "#bcbd22",
}


class StampedRequest(Protocol):
    """What the builder reads of one request (simulated or observed), in seconds from ab's start.

    ``worker`` is the gunicorn worker's index, or None for the event-loop servers.
    """

    slot: int
    start: float
    connect: float
    accepted: float
    handler_start: float
    handler_end: float
    done: float
    worker: int | None


@dataclass(frozen=True, kw_only=True)
class Segment:
    """One stretch of one lane: ``kind`` from ``start_s`` to ``end_s``; ``label`` is drawn on it."""

    start_s: float
    end_s: float
    kind: str
    label: str = ""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, kw_only=True)
class Lane:
    """A row of the picture: ``role`` is slot, worker or loop; ``index`` numbers it in its role."""

    role: str
    index: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True, kw_only=True)
class Timeline:
    """Every lane of one run; ``batches`` are the blocking loop's handler counts per batch."""

    server: str
    lanes: tuple[Lane, ...]
    end_s: float
    batches: tuple[int, ...] = ()

    def lanes_of(self, role: str) -> tuple[Lane, ...]:
        return tuple(lane for lane in self.lanes if lane.role == role)


def build_timeline(
    records: Sequence[StampedRequest],
    *,
    server: str,
    loop_batches: Sequence[int] = (),
    closes_s: Sequence[float] | None = None,
) -> Timeline:
    """Lanes of segments for one run of ``server`` from its requests' stamps.

    Each slot lane holds, per request, connect (start → connect), queued (connect → handler
    start), handler (handler start → end) and close (handler end → done); empty stretches are
    dropped. Django adds a lane per worker: read (accepted → handler start), handler, close (the
    worker waits for ab's close until done). ``aiohttp-blocking`` adds the loop lane: one
    ``blocked`` segment per batch, labelled with its size. The batches are ``loop_batches`` (the
    simulator's count of handler steps per loop iteration) taken in handler order; without them
    a batch is cut where a handler starts after an earlier handler's connection closed
    (``closes_s``, one per record: asyncio closes a batch's connections only after the batch).
    """
    pool = shape(server).takes(WORKERS)  # an unknown name is an InputError
    if not records:
        raise InputError("a timeline needs at least one finished request")
    slots: dict[int, list[Segment]] = {}
    workers: dict[int, list[Segment]] = {}
    for r in sorted(records, key=lambda r: (r.slot, r.start)):
        steps = ((r.start, r.connect, CONNECT), (r.connect, r.handler_start, QUEUED),
                 (r.handler_start, r.handler_end, HANDLER), (r.handler_end, r.done, CLOSE))
        slots.setdefault(r.slot, []).extend(_segments(steps))
        if pool and r.worker is not None:
            held = ((r.accepted, r.handler_start, READ), (r.handler_start, r.handler_end, HANDLER),
                    (r.handler_end, r.done, CLOSE))
            workers.setdefault(r.worker, []).extend(_segments(held))
    lanes = [Lane(role=SLOT, index=i, segments=tuple(slots[i])) for i in sorted(slots)]
    lanes += [Lane(role=WORKER, index=w, segments=tuple(sorted(workers[w], key=_by_start)))
              for w in sorted(workers)]
    batches: tuple[int, ...] = ()
    if server == "aiohttp-blocking":  # the one shape whose loop runs handlers in batches
        groups = _batches(records, loop_batches, closes_s)
        batches = tuple(len(g) for g in groups)
        loop = tuple(
            Segment(start_s=g[0].handler_start, end_s=g[-1].handler_end, kind=BLOCKED,
                    label=str(len(g)))
            for g in groups
        )
        lanes.append(Lane(role=LOOP, index=0, segments=loop))
    end_s = max(r.done for r in records)
    return Timeline(server=server, lanes=tuple(lanes), end_s=end_s, batches=batches)


@dataclass(frozen=True, kw_only=True)
class PoolHold:
    """One item a pool thread held from ``start_s`` to ``end_s``; ``slot`` is the ab slot of
    the request it served, when known."""

    thread: int
    start_s: float
    end_s: float
    slot: int | None = None


def with_pool_lanes(
    timeline: Timeline, holds: Sequence[PoolHold], *, drop_workers: bool = False
) -> Timeline:
    """``timeline`` with one lane per pool thread below its other lanes: each hold is a
    ``held`` segment labelled with its slot. A hold with a slot splits that slot's handler
    segment around it: before the hold the request waited for a thread (``pool_wait``).
    ``drop_workers`` leaves out the worker lanes (a gthread worker's lane would draw its
    threads' holds on top of each other)."""
    if not holds:
        raise InputError("pool lanes need at least one hold of a pool thread")
    by_thread: dict[int, list[Segment]] = {}
    by_slot: dict[int, list[PoolHold]] = {}
    for h in holds:
        label = "" if h.slot is None else str(h.slot)
        if h.end_s > h.start_s >= 0:
            by_thread.setdefault(h.thread, []).append(
                Segment(start_s=h.start_s, end_s=h.end_s, kind=HELD, label=label))
        if h.slot is not None:
            by_slot.setdefault(h.slot, []).append(h)
    kept = []
    for lane in timeline.lanes:
        if drop_workers and lane.role == WORKER:
            continue
        if lane.role == SLOT and lane.index in by_slot:
            lane = Lane(role=SLOT, index=lane.index,
                        segments=_split_handlers(lane.segments, by_slot[lane.index]))
        kept.append(lane)
    kept += [Lane(role=POOL, index=t, segments=tuple(sorted(by_thread[t], key=_by_start)))
             for t in sorted(by_thread)]
    end_s = max(timeline.end_s, max(h.end_s for h in holds))
    return Timeline(server=timeline.server, lanes=tuple(kept), end_s=end_s,
                    batches=timeline.batches)


def _split_handlers(segments: Sequence[Segment], holds: Sequence[PoolHold]) -> tuple[Segment, ...]:
    out = []
    for s in segments:
        hold = next((h for h in holds if s.kind == HANDLER
                     and s.start_s - 1e-9 <= h.start_s <= s.end_s), None)
        if hold is None or hold.start_s <= s.start_s:
            out.append(s)
            continue
        out += [Segment(start_s=s.start_s, end_s=hold.start_s, kind=POOL_WAIT),
                Segment(start_s=hold.start_s, end_s=s.end_s, kind=HANDLER)]
    return tuple(out)


def _by_start(segment: Segment) -> float:
    return segment.start_s


def _segments(steps: Sequence[tuple[float, float, str]]) -> list[Segment]:
    return [Segment(start_s=a, end_s=b, kind=kind) for a, b, kind in steps if b > a >= 0]


def _batches(
    records: Sequence[StampedRequest],
    loop_batches: Sequence[int],
    closes_s: Sequence[float] | None,
) -> list[list[StampedRequest]]:
    order = sorted(range(len(records)), key=lambda i: records[i].handler_start)
    ordered = [records[i] for i in order]
    groups: list[list[StampedRequest]] = []
    if loop_batches:
        at = 0
        for size in loop_batches:
            if at >= len(ordered):
                break
            groups.append(ordered[at:at + size])
            at += size
        if at < len(ordered):  # the run ended inside the last iteration: its batch was not counted
            groups.append(ordered[at:])
        return groups
    if closes_s is None or len(closes_s) != len(records):
        raise InputError("blocking-loop batches need either loop_batches or one close per record")
    closes = [closes_s[i] for i in order]
    first_close = float("inf")
    for r, close in zip(ordered, closes, strict=True):
        if groups and r.handler_start < first_close:
            groups[-1].append(r)
        else:
            groups.append([r])
            first_close = float("inf")
        first_close = min(first_close, close)
    return groups


def plot_timeline(
    ax: Axes,
    timeline: Timeline,
    *,
    labels: Mapping[str, str],
    title: str = "",
    label_pt: float = 15,
) -> Axes:
    """Draw ``timeline`` as horizontal bars, slot 0 at the top, workers and the loop below.

    ``labels`` names the legend entries (keys: the segment kinds) and the lanes (keys ``slot``,
    ``worker``, ``loop``, ``pool``, ``time``, formatted with ``{index}``).
    """
    lanes = timeline.lanes
    height = 0.72
    y_ticks, y_names = [], []
    for row, lane in enumerate(lanes):
        y = len(lanes) - 1 - row
        spans = [(s.start_s, s.duration_s) for s in lane.segments]
        colours = [COLOURS[s.kind] for s in lane.segments]
        ax.broken_barh(spans, (y - height / 2, height), facecolors=colours,
                       edgecolors="white", linewidth=0.8)
        for s in lane.segments:
            if s.label and s.duration_s > 0.02 * max(timeline.end_s, 1e-9):
                ax.text(s.start_s + s.duration_s / 2, y, s.label, ha="center", va="center",
                        color="white", fontsize=label_pt * 0.8, fontweight="bold")
        y_ticks.append(y)
        y_names.append(labels[lane.role].format(index=lane.index))
    ax.set_yticks(y_ticks, y_names)
    ax.set_ylim(-0.7, len(lanes) - 0.3)
    ax.set_xlim(0, timeline.end_s * 1.01 if timeline.end_s > 0 else 1)
    ax.set_xlabel(labels["time"], fontsize=label_pt)
    ax.tick_params(labelsize=label_pt * 0.85)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=label_pt * 1.15)
    visible_s = 0.004 * timeline.end_s  # kinds thinner than a pixel everywhere get no legend
    present = {s.kind for lane in lanes for s in lane.segments if s.duration_s > visible_s}
    handles = [Patch(facecolor=COLOURS[k], label=labels[k]) for k in KINDS if k in present]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0),
              fontsize=label_pt * 0.8, frameon=False)
    return ax
