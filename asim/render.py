"""Rendering for the terminal and for files: predicted points (table, JSON, CSV), validate's
comparison table and calibrate's summary."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from asim.calibration.file import Calibration
from asim.grid import Prediction
from asim.sim.abreport import PERCENTS
from asim.sim.conn import near_backlog
from asim.sim.spec import CPU_DOMINATED_SLEEP_S, Scenario
from asim.size import Sizing, Targets
from asim.sweep import Outcome
from asim.validate.compare import MetricError, PointComparison
from asim.validate.memory import MemoryComparison, memory_summary
from asim.validate.report import console_rows

CSV_FIELDS = (
    "method",
    "server",
    "workers",
    "sleep_s",
    "concurrency",
    "requests",
    "keepalive",
    "cores",
    "time_taken_s",
    "requests_per_second",
    "time_per_request_ms",
    "time_per_request_all_ms",
    *(f"total_{k}_ms" for k in ("min", "mean", "sd", "median", "max")),
    *(f"p{p}_ms" for p in PERCENTS),
    "threads",  # after the columns of the first shapes: positional readers keep working
    "blocking_s",
    "bottleneck",
    "bottleneck_utilisation",
    "server_memory_mb",
)


def to_json(
    points: Sequence[Prediction],
    *,
    calibration: str | None = None,
    calibration_check: dict[str, object] | None = None,
) -> str:
    doc: dict[str, object] = {"points": [p.to_dict() for p in points]}
    if calibration_check is not None:  # the calibration's self-check (asim calibrate)
        doc = {"calibration_check": calibration_check, **doc}
    if calibration is not None:
        doc = {"calibration": calibration, **doc}
    return json.dumps(doc, indent=2)


def to_csv(points: Sequence[Prediction]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for p in points:
        d = p.to_dict()
        row = {k: d[k] for k in CSV_FIELDS if k in d}
        for k, v in (d["total_ms"] or {}).items():
            row[f"total_{k}_ms"] = v
        for k, v in (d["percentiles_ms"] or {}).items():
            row[f"p{k}_ms"] = v
        writer.writerow(row)
    return buf.getvalue()


@dataclass(frozen=True, kw_only=True)
class Column:
    """One column of the prediction table: its header, alignment and cell text."""

    header: str
    cell: Callable[[Prediction], str]
    justify: str = "right"

    def min_width(self, points: Sequence[Prediction]) -> int:
        """The narrowest this column can be without cutting a cell (headers may wrap at
        spaces, cells never do)."""
        words = max(cell_len(word) for word in self.header.split())
        return max([words, *(cell_len(row_cell(self, p, alt)) for p, alt in rows(points))])


# The table's short words for the resources (`asim.sim.usage`): "loop 97 %".
SHORT_RESOURCE = {"event loop": "loop", "thread pool": "pool", "accept queue": "backlog"}
ALTERNATIVE_MARK = "  ↳ "


def bottleneck_cell(p: Prediction) -> str:
    """The busiest resource and its busy share, e.g. ``loop 97 %``; ``-`` when unknown."""
    if p.bottleneck is None or p.bottleneck_utilisation is None:
        return "-"
    name = SHORT_RESOURCE.get(p.bottleneck, p.bottleneck)
    pct = p.bottleneck_utilisation * 100
    share = "<1" if 0 < pct < 0.5 else f"{pct:.0f}"
    return f"{_bound(p, '≤')}{name} {share} %"


def rows(points: Sequence[Prediction]) -> list[tuple[Prediction, str | None]]:
    """The table's rows: each point (label None), then its alternatives, one row each, labelled
    with their branch in a few words."""
    out: list[tuple[Prediction, str | None]] = []
    for p in points:
        out.append((p, None))
        out += [(a.prediction, a.label) for a in p.alternatives]
    return out


def row_cell(column: Column, p: Prediction, alternative: str | None) -> str:
    """``column``'s cell of a row; an alternative's row names its branch in the server column
    (the note under the table says it in words)."""
    if alternative and column.header == "server":
        return ALTERNATIVE_MARK + alternative
    return column.cell(p)


def _bound(p: Prediction, sign: str) -> str:
    return f"{sign} " if p.terms is not None and p.terms.is_bound else ""


def _percentile(q: int) -> Callable[[Prediction], str]:
    return lambda p: str(p.report.percentiles_ms[q]) if p.report else "-"


COLUMNS: tuple[Column, ...] = (
    Column(header="server", cell=lambda p: shape_cell(p.scenario), justify="left"),
    Column(header="method", cell=lambda p: p.method, justify="left"),
    Column(header="W", cell=lambda p: str(p.scenario.workers) if p.scenario.uses_workers
           else "-"),
    Column(header="sleep s", cell=lambda p: f"{p.scenario.sleep_s:g}"),
    Column(header="C", cell=lambda p: str(p.scenario.concurrency)),
    Column(header="time s", cell=lambda p: f"{_bound(p, '≥')}{p.time_taken_s:.3f}"),
    Column(header="RPS", cell=lambda p: f"{_bound(p, '≤')}{p.requests_per_second:.2f}"),
    Column(header="ms/req", cell=lambda p: f"{_bound(p, '≥')}{p.time_per_request_ms:.3f}"),
    Column(header="ms/req (all)",
           cell=lambda p: f"{_bound(p, '≥')}{p.time_per_request_all_ms:.3f}"),
    Column(header="p50 ms", cell=_percentile(50)),
    Column(header="p90 ms", cell=_percentile(90)),
    Column(header="p100 ms", cell=_percentile(100)),
    Column(header="busiest", cell=bottleneck_cell, justify="left"),
    Column(header="memory MiB", cell=lambda p: "-" if p.server_memory_mb is None
           else f"{p.server_memory_mb:.0f}"),
)
# What a narrow terminal loses first. RPS, ms/req and the grid's coordinates always stay: they
# are what ab's users read first; `--wide` (and csv, json) show everything. The server's memory
# is not ab's: it goes first.
LEAVE_OUT_ORDER = ("memory MiB", "method", "time s", "ms/req (all)", "p90 ms", "p100 ms",
                   "busiest", "p50 ms")


def frame_width(widths: Sequence[int]) -> int:
    """Characters a rich table with the default box needs for columns of ``widths``: one space
    of padding on each side of a cell, and a border before, between and after the columns."""
    return sum(w + 2 for w in widths) + len(widths) + 1


def column_widths(
    columns: Sequence[Column], points: Sequence[Prediction], width: int | None
) -> list[int]:
    """Each column's width: its widest cell (or header word), then, while ``width`` leaves room
    (always when None), its whole header on one line."""
    widths = [c.min_width(points) for c in columns]
    spare = None if width is None else width - frame_width(widths)
    for i, c in enumerate(columns):
        extra = cell_len(c.header) - widths[i]
        if extra > 0 and (spare is None or extra <= spare):
            widths[i] += extra
            spare = None if spare is None else spare - extra
    return widths


def fit_columns(
    points: Sequence[Prediction], width: int | None
) -> tuple[tuple[Column, ...], tuple[str, ...]]:
    """The columns to show in ``width`` characters (None: all of them) and the headers left
    out, in `LEAVE_OUT_ORDER`. The method column is left out only when every point has the
    same method. When even the fewest columns are wider than ``width``, those are kept and the
    lines run longer: a number is never cut."""
    columns = list(COLUMNS)
    left_out: list[str] = []
    for header in LEAVE_OUT_ORDER:
        if width is None or frame_width(column_widths(columns, points, width)) <= width:
            break
        if header == "method" and len({p.method for p in points}) > 1:
            continue
        columns = [c for c in columns if c.header != header]
        left_out.append(header)
    return tuple(columns), tuple(left_out)


def table(
    points: Sequence[Prediction],
    *,
    title: str,
    columns: Sequence[Column] = COLUMNS,
    widths: Sequence[int] | None = None,
) -> Table:
    """The rich table of ``points``; ``widths`` (default: `column_widths` without a limit) are
    fixed, so that rich never shrinks a column and cuts a number."""
    widths = widths or column_widths(columns, points, None)
    t = Table(title=title, title_justify="left", header_style="bold")
    for c, w in zip(columns, widths, strict=True):
        # A header may wrap at its spaces; a cell never wraps.
        t.add_column(Text(c.header, no_wrap=False), justify=c.justify,  # type: ignore[arg-type]
                     no_wrap=True, width=w)
    for p, alternative in rows(points):
        t.add_row(*(row_cell(c, p, alternative) for c in columns))
    return t


def shape_cell(s: Scenario) -> str:
    """The server column: the shape and the options it runs with, e.g. ``django-gthread t=4``."""
    threads = f" t={s.threads}" if s.threads is not None else ""
    blocking = f" B={s.blocking_s * 1e3:g} ms" if s.blocking_s is not None else ""
    return f"{s.server}{threads}{blocking}"


def finite_run_note(points: Sequence[Prediction]) -> str | None:
    """One sentence on how ab's finite run (DES) differs from steady state (MVA), if both are
    present: the largest gap in RPS and where it is."""
    des = {_key(p): p for p in points if p.method == "des"}
    gaps = []
    for p in points:
        if p.method == "mva" and _key(p) in des:
            d = des[_key(p)]
            gaps.append(((d.requests_per_second / p.requests_per_second - 1) * 100, d.scenario))
    if not gaps:
        return None
    gap, sc = min(gaps, key=lambda g: g[0])
    return (
        f"DES simulates ab's finite run (-n {sc.requests}): the first request runs alone and the "
        f"last wave is partial, so its RPS is {abs(gap):.0f} % below steady-state MVA at "
        f"{sc.server} C={sc.concurrency} S={sc.sleep_s:g}; MVA and bounds hold for long runs."
    )


def extrapolation_note(points: Sequence[Prediction]) -> str | None:
    """One sentence when some simulated points replicated a measured steady state."""
    shares = [p.extrapolated_requests / p.scenario.requests for p in points
              if p.extrapolated_requests]
    if not shares:
        return None
    runs = "1 simulation" if len(shares) == 1 else f"{len(shares)} simulations"
    return (
        f"{runs} replicated a measured steady state for up to {max(shares) * 100:.0f} % of "
        "the requests (an estimate within about 0.5 %); --exact simulates every request."
    )


def backlog_note(points: Sequence[Prediction]) -> str | None:
    """One sentence when a simulated run came near the listen backlog or overflowed it."""
    near = [p for p in points if p.report is not None
            and near_backlog(p.accept_queue_peak, p.accept_queue_capacity)]
    if not near:
        return None
    p = max(near, key=lambda q: (q.syns_dropped, q.accept_queue_peak / q.accept_queue_capacity))
    s = p.scenario
    what = (f"dropped {p.syns_dropped} SYNs" if p.syns_dropped
            else f"filled its accept queue to {p.accept_queue_peak} of "
                 f"{p.accept_queue_capacity}")
    more = f" (and {len(near) - 1} more point(s))" if len(near) > 1 else ""
    return (
        f"At {s.server} C={s.concurrency} S={s.sleep_s:g}{more} the model {what}: near the "
        "listen backlog real runs split between ones that lose SYNs (each waits a 1 s "
        "retransmission) and ones that do not, so expect either outcome."
    )


def alternatives_note(points: Sequence[Prediction]) -> str | None:
    """One sentence on the rows marked `ALTERNATIVE_MARK`: which branch of a race (at the
    listen backlog, or between workers for ab's first burst) the model's run takes, and the
    other one."""
    raced = [p for p in points if p.alternatives]
    if not raced:
        return None
    p = raced[0]
    s = p.scenario
    more = f" (and {len(raced) - 1} more point(s))" if len(raced) > 1 else ""
    others = "; ".join(a.condition for a in p.alternatives)
    return (
        f"↳ rows: another outcome a real run may take. At {s.server} C={s.concurrency} "
        f"S={s.sleep_s:g}{more} the model's run: {p.branch}; the row under it: {others}."
    )


def cpu_speed_note(
    points: Sequence[Prediction], spread_pct: float | None, *, calibrated: bool
) -> str | None:
    """One sentence when some points are CPU-dominated: they follow the machine's CPU speed,
    and how much that moved between repeated runs during calibration (``spread_pct``, None
    when the calibration did not record it or for the built-in costs, ``calibrated`` False)."""
    if not any(p.scenario.sleep_s <= CPU_DOMINATED_SLEEP_S for p in points):
        return None
    if not calibrated:
        moved = ("the built-in costs come from a 2-core VM where repeated runs of such points "
                 "spread by 10-40 %")
    elif spread_pct is None:
        moved = ("this calibration file does not record how its repeated runs spread (a "
                 "newer `asim calibrate` does); on the reference VM they spread by 10-40 %")
    else:
        moved = (f"in this calibration, repeats of one ab command spread by up to "
                 f"{spread_pct:.0f} %")
    return (
        f"Points with a sleep of {CPU_DOMINATED_SLEEP_S * 1e3:g} ms or less are CPU-dominated "
        f"and follow the machine's CPU speed: {moved}; real runs vary about that much, and a "
        "fresh `asim calibrate` tracks a machine whose speed drifts."
    )


def _key(p: Prediction) -> tuple:
    s = p.scenario
    return (s.server, s.workers, s.sleep_s, s.concurrency, s.requests, s.keepalive, s.cores)


def print_table(
    points: Sequence[Prediction],
    *,
    title: str,
    cpu_spread_pct: float | None = None,
    calibrated: bool = False,
    wide: bool = False,
    console: Console | None = None,
) -> None:
    """Print the table and its notes. In a terminal, columns that do not fit its width are
    left out (a note says which) unless ``wide``; piped output keeps every column."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=150)  # piped output: notes on long lines, like csv
    every = wide or not console.is_terminal
    columns, left_out = fit_columns(points, None if every else console.width)
    widths = column_widths(columns, points, console.width if console.is_terminal else None)
    saved_width = console.width
    # Longer lines (the terminal wraps them) rather than cut numbers.
    console.width = max(saved_width, frame_width(widths))
    try:
        console.print(table(points, title=title, columns=columns, widths=widths))
    finally:
        console.width = saved_width
    notes = (
        finite_run_note(points), extrapolation_note(points), backlog_note(points),
        alternatives_note(points),
        cpu_speed_note(points, cpu_spread_pct, calibrated=calibrated),
        left_out_note(points, left_out, saved_width),
    )
    for note in notes:
        if note:
            console.print(note)


def left_out_note(points: Sequence[Prediction], left_out: Sequence[str], width: int) -> str | None:
    """One sentence naming the columns a narrow terminal left out, and how to see them."""
    if not left_out:
        return None
    names = [
        f"method ({points[0].method})" if h == "method" else h for h in left_out
    ]
    return (
        f"Left out to fit {width} columns: {', '.join(names)}; --wide shows every column "
        "(so do --format csv and json)."
    )


def validate_table(comparisons: Sequence[PointComparison]) -> Table:
    """validate's terminal table: measured / model and the error for every point."""
    header, rows = console_rows(comparisons)
    out = Table(title="measured / model, error = (model − measured) / measured", show_lines=True)
    for name in header:
        first = name == header[0]
        out.add_column(name, justify="left" if first else "right", no_wrap=first)
    for row in rows:
        out.add_row(*row)
    return out


def validate_summary(errors: Sequence[MetricError]) -> list[str]:
    """One line per metric: the median and the largest error and where it was."""
    return [
        f"{e.metric.label}: median |error| {e.median_abs_pct:.1f} %, "
        f"max {e.max_abs_pct:.1f} % ({e.worst_point_id})"
        for e in errors
        if e.points
    ]


def validate_noise_summary(comparisons: Sequence[PointComparison]) -> list[str]:
    """The CPU-dominated points against their noise floor (`asim.validate.noise`), when a
    second pass measured it."""
    from asim.validate.noise import noise_floor, summary_lines

    return summary_lines(noise_floor(comparisons))


def memory_summary_line(comparisons: Sequence[MemoryComparison]) -> str:
    """validate's server memory in one line: how far the model is, over how many points."""
    s = memory_summary(comparisons)
    if not s["points"]:
        return "server memory: no run recorded it"
    return (f"server memory (peak anonymous PSS): median |error| {s['median_abs_pct']:.1f} %, "
            f"max {s['max_abs_pct']:.1f} % over {s['points']} points (goal 10 %)")


def calibration_summary(cal: Calibration) -> list[str]:
    """What `asim calibrate` prints about the costs it fitted, one line each."""
    c = cal.costs
    lines = [
        ("ab CPU per request, warm / cold extra",
         f"{c.ab_cpu_s * 1e6:.0f} / {c.ab_cold_cpu_s * 1e6:.0f} us"),
        ("event loop CPU per request, warm / cold extra",
         f"{c.loop_cpu_s * 1e6:.0f} / {c.loop_cold_cpu_s * 1e6:.0f} us"),
        ("gunicorn worker CPU per request, warm / cold extra",
         f"{c.worker_cpu_s * 1e6:.0f} / {c.worker_cold_cpu_s * 1e6:.0f} us"),
        ("cold time constant", f"{c.cold_tau_s * 1e3:.1f} ms"),
        ("time.sleep / epoll timer overshoot",
         f"{c.time_sleep_overshoot_s * 1e6:.0f} / {c.timer_overshoot_s * 1e6:.0f} us"),
        ("wake-up latency (fitted)", f"{c.wakeup_s * 1e6:.0f} us"),
    ]
    out = [f"  {label:52} {value}" for label, value in lines]
    spread = cal.cpu_spread_pct()
    if spread is not None:
        out.append(f"  {'run-to-run spread of the sleep-0 runs (max)':52} {spread:.0f} %"
                   "  (CPU-dominated predictions vary about that much)")
    if cal.memory_runs:
        for name in ("aiohttp", "django", "django-asgi"):
            m = cal.memory.of(name)
            out.append(f"  {name + ' memory: master + worker, per connection':52} "
                       f"{m.master_mb:.1f} + {m.worker_mb:.1f} MiB, {m.connection_kb:.1f} KiB")
    return out


# Streaming: the same text as `to_json` / `to_csv`, written point by point as a sweep delivers
# them (`asim.sweep`), plus the scenarios that failed.


def json_chunks(
    outcomes: Iterable[Outcome],
    *,
    calibration: str | None = None,
    calibration_check: dict[str, object] | None = None,
) -> Iterator[str]:
    """`to_json`'s text in pieces, one per point as it arrives; a ``failed`` list (scenario and
    error) is added after the points only when some scenario failed."""
    head = "{\n"
    if calibration is not None:
        head += f'  "calibration": {json.dumps(calibration)},\n'
    if calibration_check is not None:  # the calibration's self-check (asim calibrate)
        check = textwrap.indent(json.dumps(calibration_check, indent=2), "  ")[2:]
        head += f'  "calibration_check": {check},\n'
    yield head + '  "points": ['
    first, failed = True, []
    for outcome in outcomes:
        if outcome.failed:
            failed.append(outcome)
        for p in outcome.points:
            text = textwrap.indent(json.dumps(p.to_dict(), indent=2), "    ")
            yield ("\n" if first else ",\n") + text
            first = False
    tail = "]" if first else "\n  ]"
    if failed:
        records = [{"scenario": dataclasses.asdict(o.scenario), "label": o.scenario.label(),
                    "error": o.error} for o in failed]
        tail += ',\n  "failed": ' + textwrap.indent(json.dumps(records, indent=2), "  ")[2:]
    yield tail + "\n}\n"


def csv_chunks(outcomes: Iterable[Outcome]) -> Iterator[str]:
    """`to_csv`'s header, then its rows as the points arrive (failed scenarios have none)."""
    yield ",".join(CSV_FIELDS) + "\n"
    for outcome in outcomes:
        if outcome.points:
            yield to_csv(outcome.points).split("\n", 1)[1]


def failure_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per failed scenario: its label and the error."""
    return [f"{o.scenario.label()}: {o.error}" for o in outcomes if o.failed]


def stream(
    outcomes: Iterable[Outcome],
    *,
    fmt: str,
    calibration: str | None = None,
    calibration_check: dict[str, object] | None = None,
    write: Callable[[str], object] | None = None,
) -> list[Outcome]:
    """Write a sweep's JSON or CSV as its points arrive (a table waits for all of them: its
    columns are sized to fit); return every outcome."""
    if fmt not in ("json", "csv"):
        return list(outcomes)
    write = write or _write_stdout
    seen: list[Outcome] = []

    def kept() -> Iterator[Outcome]:
        for outcome in outcomes:
            seen.append(outcome)
            yield outcome

    chunks = (
        json_chunks(kept(), calibration=calibration, calibration_check=calibration_check)
        if fmt == "json" else csv_chunks(kept())
    )
    for chunk in chunks:
        write(chunk)
    return seen


@contextlib.contextmanager
def sweep_progress(total: int, *, what: str = "predicting") -> Iterator[Callable[[object], None]]:
    """A progress bar on stderr, shown only when both stdout and stderr are a terminal (never
    in piped or captured output); yields the callback that advances it by one task."""
    console = Console(stderr=True)
    if total < 2 or not (console.is_terminal and sys.stdout.isatty()):
        yield lambda _outcome: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda _outcome: bar.advance(task)


def _write_stdout(text: str) -> None:
    # sys.stdout at call time: a live progress bar redirects it to print above the bar.
    sys.stdout.write(text)
    sys.stdout.flush()


# `asim size`: one answer per shape (asim.size.Sizing). A metric is one entry here and one key
# of `asim.size.Trial.metrics` (e.g. a predicted memory column).
SIZE_METRICS: tuple[tuple[str, str, str], ...] = (
    ("requests_per_second", "RPS", "{:.1f}"),
    ("p50_ms", "p50 ms", "{}"),
    ("p99_ms", "p99 ms", "{}"),
    ("server_memory_mb", "memory MiB", "{:.0f}"),
)
SIZE_CSV_FIELDS = (
    "server", "sleep_s", "concurrency", "requests", "cores", "sized", "meets", "workers",
    *(m for m, _, _ in SIZE_METRICS), "below_workers",
    *(f"below_{m}" for m, _, _ in SIZE_METRICS), "why_not_smaller", "bottleneck",
)


def sizing_json(sizings: Sequence[Sizing], *, targets: Targets, calibration: str) -> str:
    doc = {"calibration": calibration,
           "targets": {"rate_rps": targets.rate_rps, "p99_ms": targets.p99_ms},
           "sizings": [z.to_dict() for z in sizings]}
    return json.dumps(doc, indent=2)


def sizing_csv(sizings: Sequence[Sizing]) -> str:
    """One row per shape: the answer (or the closest configuration when nothing meets), the
    size below it and why that one fails."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SIZE_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for z in sizings:
        shown, failing = z.found or z.closest, z.below or z.closest
        row = {k: getattr(z.base, k) for k in ("server", "sleep_s", "concurrency", "requests",
                                                "cores")}
        row.update(sized=z.knob or "", meets=z.meets,
                   workers=shown.workers if z.knob else "",
                   below_workers=z.below.workers if z.below else "",
                   why_not_smaller="; ".join(failing.misses) if failing else "",
                   bottleneck=z.bottleneck)
        for prefix, trial in (("", shown), ("below_", z.below)):
            metrics = (trial.metrics() if trial else None) or {}
            row.update({f"{prefix}{m}": metrics.get(m, "") for m, _, _ in SIZE_METRICS})
        writer.writerow(row)
    return buf.getvalue()


def sizing_table(sizings: Sequence[Sizing], *, title: str) -> Table:
    """Per shape a row for the answer and a row for the size below it (or, when nothing meets,
    for the largest size tried), with what it misses and what caps it."""
    t = Table(title=title, title_justify="left", header_style="bold", show_lines=True)
    t.add_column("server", justify="left")
    t.add_column("workers", justify="right")
    for _, header, _ in SIZE_METRICS:
        t.add_column(header, justify="right")
    t.add_column("verdict", justify="left", ratio=1)
    for z in sizings:
        rows = []
        if z.found:
            what = ("meets every target" if not z.knob
                    else "the fewest that meet every target" if z.below
                    else "meets every target with the fewest possible")
            rows.append((z.found, what))
        if z.below:
            rows.append((z.below, f"fails: {'; '.join(z.below.misses)}; capped by "
                                  f"{z.bottleneck}"))
        if z.closest:
            limit = (f"no size up to {z.limit} workers meets the targets"
                     if z.knob else "the one event loop does not meet the targets")
            rows.append((z.closest, f"{limit}: {'; '.join(z.closest.misses)}; capped by "
                                    f"{z.bottleneck}"))
        for i, (trial, verdict) in enumerate(rows):
            metrics = trial.metrics() or {}
            t.add_row(z.base.server if i == 0 else "",
                      str(trial.workers) if z.knob else "-",
                      *(fmt.format(metrics[m]) if metrics.get(m) is not None else "-"
                        for m, _, fmt in SIZE_METRICS),
                      verdict)
    return t


def print_sizing(
    sizings: Sequence[Sizing],
    *,
    title: str,
    cpu_spread_pct: float | None = None,
    calibrated: bool = False,
) -> None:
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)  # piped output keeps whole columns
    console.print(sizing_table(sizings, title=title))
    notes = dict.fromkeys(n for z in sizings for n in z.notes)  # once each, in order
    shown = [t.point for z in sizings for t in (z.found, z.below, z.closest) if t and t.point]
    for note in (*notes, backlog_note(shown),
                 cpu_speed_note(shown, cpu_spread_pct, calibrated=calibrated)):
        if note:
            console.print(f"- {note}")
