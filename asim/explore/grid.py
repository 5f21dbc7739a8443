"""What the explore page asks for, as scenarios, and the model's answers as JSON-ready dicts.

The page (and anyone who types a URL) sends text fields; `parse_query` turns them into a
validated `Query` with the CLI's own error messages (the option names of `asim predict`), and
`predict_payload` runs `asim.grid.predict` on its scenarios, the same call `asim predict` makes,
adding the text ab would print for every simulated point. `timeline_payload` simulates a small
run of one shape for the page's Gantt chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from asim.errors import InputError
from asim.explore.abprint import ab_text, lab_wire
from asim.grid import BOUNDS, DES, MVA, Prediction, predict, scenarios
from asim.lecture.build import simulated_timeline
from asim.lecture.timeline import KINDS
from asim.limits import check_sleeps, parse_numbers
from asim.sim.costs import Costs
from asim.sim.shapes import NAMES, check_options
from asim.sim.spec import Scenario

SHAPES: tuple[str, ...] = NAMES  # the page offers every shape of the registry
OVERLAYS: tuple[str, ...] = (MVA, BOUNDS)  # drawn over the simulated lines on request

# A change on the page should answer within a few seconds even on a busy laptop: a simulated
# request costs about 20-100 us of CPU (less when the run repeats a steady state), so the page
# caps the sum of -n over its simulated points (benchmarks/explore.py times the answers).
MAX_SIMULATED_REQUESTS = 50_000
MAX_CONCURRENCY_VALUES = 40
MAX_OPTION_VALUES = 8  # values of W, of T and of B: each is one more line per shape

# The Gantt chart shows a small run of the clicked shape: up to this many ab slots, each sending
# a few requests, so the lanes stay readable on a projector.
TIMELINE_MAX_CLIENTS = 20
TIMELINE_REQUESTS_PER_CLIENT = 3

DEFAULTS: Mapping[str, str] = {
    "server": "aiohttp,django",
    "workers": "1",
    "threads": "",  # empty: each shape's default, as `asim predict` without --threads
    "blocking": "",
    "sleep": "0.1",
    "requests": "100",
    "c_from": "5",
    "c_to": "40",
    "c_step": "5",
    "keepalive": "0",
    "cores": "2",
    "method": "",
}


@dataclass(frozen=True, kw_only=True)
class Query:
    """One state of the page's controls: the grid `asim predict` would run for it."""

    servers: tuple[str, ...]
    workers: tuple[int, ...]
    sleep_s: float
    requests: int
    concurrencies: tuple[int, ...]
    keepalive: bool
    cores: int
    overlays: tuple[str, ...] = ()
    threads: tuple[int | None, ...] = (None,)  # None: the shape's default
    blockings_s: tuple[float | None, ...] = (None,)

    def scenarios(self) -> list[Scenario]:
        """The grid in `asim.grid.scenarios` order; InputError for a point ab would refuse."""
        return scenarios(
            servers=self.servers, workers=self.workers, sleeps_s=check_sleeps([self.sleep_s]),
            concurrencies=self.concurrencies, requests=self.requests,
            keepalive=self.keepalive, cores=self.cores, threads=self.threads,
            blockings_s=self.blockings_s,
        )


def parse_query(fields: Mapping[str, str]) -> Query:
    """A `Query` from the page's fields (missing ones take `DEFAULTS`); InputError names the
    field the way `asim predict` names its option."""
    unknown = sorted(set(fields) - set(DEFAULTS) - {"lang"})
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r}; fields are {', '.join(DEFAULTS)}")
    f = {**DEFAULTS, **fields}
    servers = tuple(s.strip() for s in f["server"].split(",") if s.strip())
    if not servers:
        raise InputError("--server: choose at least one of " + ", ".join(SHAPES))
    for name in servers:
        if name not in SHAPES:
            raise InputError(f"unknown server {name!r}; choose from {', '.join(SHAPES)}")
    workers = _values("--workers", f["workers"], int)
    threads = (None,) if not f["threads"].strip() else _values("--threads", f["threads"], int)
    blockings_s = ((None,) if not f["blocking"].strip()
                   else _values("--blocking", f["blocking"], float))
    (sleep_s,) = parse_numbers("--sleep", f["sleep"], float, single=True)
    (requests,) = parse_numbers("--requests", f["requests"], int, single=True)
    (cores,) = parse_numbers("--cores", f["cores"], int, single=True)
    if cores < 1:
        raise InputError(f"--cores must be >= 1, got {cores}")
    (c_from,) = parse_numbers("--concurrency from", f["c_from"], int, single=True)
    (c_to,) = parse_numbers("--concurrency to", f["c_to"], int, single=True)
    (c_step,) = parse_numbers("--concurrency step", f["c_step"], int, single=True)
    overlays = tuple(m.strip() for m in f["method"].split(",") if m.strip())
    for m in overlays:
        if m not in OVERLAYS:
            raise InputError(f"unknown method {m!r}; the page overlays {' and '.join(OVERLAYS)}")
    return Query(
        servers=servers, workers=workers, sleep_s=sleep_s, requests=requests,
        concurrencies=concurrency_range(c_from, c_to, c_step),
        keepalive=_flag("--keepalive", f["keepalive"]), cores=cores, overlays=overlays,
        threads=threads, blockings_s=blockings_s,
    )


def _values(option: str, text: str, kind: type) -> tuple:
    values = tuple(parse_numbers(option, text, kind))
    if len(values) > MAX_OPTION_VALUES:
        raise InputError(f"{option}: at most {MAX_OPTION_VALUES} values, got {len(values)}")
    return values


def concurrency_range(c_from: int, c_to: int, c_step: int) -> tuple[int, ...]:
    """``c_from, c_from + c_step, ...`` up to ``c_to``, which is always included."""
    if c_from < 1:
        raise InputError(f"--concurrency from must be >= 1, got {c_from}")
    if c_to < c_from:
        raise InputError(f"--concurrency to ({c_to}) is below from ({c_from})")
    if c_step < 1:
        raise InputError(f"--concurrency step must be >= 1, got {c_step}")
    whole, part = divmod(c_to - c_from, c_step)
    count = whole + 1 + (part != 0)  # counted, not listed: c_to may be huge
    if count > MAX_CONCURRENCY_VALUES:
        raise InputError(
            f"--concurrency {c_from} to {c_to} step {c_step} gives {count} values; "
            f"the page draws at most {MAX_CONCURRENCY_VALUES} (take a larger step)"
        )
    steps = tuple(range(c_from, c_to + 1, c_step))
    return (*steps, c_to) if part else steps


def check_work(grid: Sequence[Scenario]) -> None:
    """InputError when the grid asks the simulation for more than `MAX_SIMULATED_REQUESTS`."""
    total = sum(s.requests for s in grid)
    if total > MAX_SIMULATED_REQUESTS:
        raise InputError(
            f"{len(grid)} points × -n {grid[0].requests} = {total} simulated requests is more "
            f"than the page runs per change ({MAX_SIMULATED_REQUESTS}): take fewer shapes, "
            "fewer C values or a smaller -n (`asim predict` has no such limit)"
        )


def predict_payload(query: Query, costs: Costs, *, calibration: str) -> dict[str, object]:
    """The model's points for ``query``: `Prediction.to_dict` records, as `asim predict --format
    json` prints them, with ``ab_text`` on the simulated ones."""
    grid = query.scenarios()
    check_work(grid)
    points = predict(grid, method=(DES, *query.overlays), costs=costs)
    return {"calibration": calibration, "points": [point_record(p) for p in points],
            "defaults": shape_defaults(query.servers, query.cores)}


def shape_defaults(servers: Sequence[str], cores: int) -> dict[str, dict[str, object]]:
    """The threads and blocking slice each shape runs with when none is given, on ``cores``
    (None where it has no such option): the page reads a measured run that recorded none
    as one of these, as `asim validate` ran it."""
    out: dict[str, dict[str, object]] = {}
    for name in servers:
        threads, blocking_s = check_options(name, threads=None, blocking_s=None, cores=cores)
        out[name] = {"threads": threads, "blocking_s": blocking_s}
    return out


def point_record(point: Prediction) -> dict[str, object]:
    """`Prediction.to_dict` and, for a simulated point, the text ab would print for it."""
    record = point.to_dict()
    if point.report is not None:
        s = point.scenario
        record["ab_text"] = ab_text(point.report, requests=s.requests, keepalive=s.keepalive,
                                    wire=lab_wire(s))
    return record


def timeline_scenario(scenario: Scenario) -> Scenario:
    """The small run of ``scenario``'s shape that the Gantt chart shows."""
    clients = min(scenario.concurrency, TIMELINE_MAX_CLIENTS)
    requests = min(scenario.requests, clients * TIMELINE_REQUESTS_PER_CLIENT)
    return Scenario(
        server=scenario.server, workers=scenario.workers, sleep_s=scenario.sleep_s,
        concurrency=clients, requests=requests, keepalive=scenario.keepalive,
        cores=scenario.cores, threads=scenario.threads, blocking_s=scenario.blocking_s,
    )


def point_scenario(fields: Mapping[str, str]) -> Scenario:
    """The one scenario a clicked point names: the page's fields with a single server, a
    single W, T and B and ``c`` for its concurrency."""
    f = dict(fields)
    c = f.pop("c", None)
    if c is None:
        raise InputError("missing field 'c' (the point's concurrency)")
    (concurrency,) = parse_numbers("--concurrency", c, int, single=True)
    f.update(c_from=str(concurrency), c_to=str(concurrency), c_step="1")
    query = parse_query(f)
    if len(query.servers) != 1 or len(query.workers) != 1:
        raise InputError("a point names one server and one W")
    if len(query.threads) != 1 or len(query.blockings_s) != 1:
        raise InputError("a point names one T and one B")
    return query.scenarios()[0]


def timeline_payload(scenario: Scenario, costs: Costs) -> dict[str, object]:
    """Lanes of the small run of ``scenario``'s shape, segments as ``[start_ms, end_ms, kind,
    label]`` with ``kind`` an index into ``kinds``."""
    small = timeline_scenario(scenario)
    tl = simulated_timeline(small, costs)
    lanes = [
        {"role": lane.role, "index": lane.index,
         "segments": [[round(s.start_s * 1e3, 3), round(s.end_s * 1e3, 3),
                       KINDS.index(s.kind), s.label] for s in lane.segments]}
        for lane in tl.lanes
    ]
    return {"server": small.server, "workers": small.workers, "threads": small.threads,
            "blocking_s": small.blocking_s, "sleep_s": small.sleep_s,
            "concurrency": small.concurrency, "requests": small.requests,
            "keepalive": small.keepalive, "cores": small.cores,
            "end_ms": round(tl.end_s * 1e3, 3), "kinds": list(KINDS), "lanes": lanes}


def _flag(option: str, text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("0", "false", "off", "no", ""):
        return False
    raise InputError(f"{option}: {text!r} is not on or off")
