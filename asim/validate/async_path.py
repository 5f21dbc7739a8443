"""Task 10's conclusions: the seed's closing question ("what does Django need to be fully
async?") answered with the numbers of a study that has Django's async path in it.

Every number is a study point's measured median with the model's value beside it; a point not
measured yet is given by the model alone and says so. Ratios are taken between measured values
when both points were measured, else between the model's. The sentences are chosen by the
numbers (e.g. whether a blocking slice made the loop the bottleneck), not fixed text about the
outcome; a study without the servers a sentence compares gets no such sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from asim.validate.compare import METRICS_BY_KEY, PointComparison
from asim.validate.study import X_CONCURRENCY, Series, Study

RPS = METRICS_BY_KEY["rps"]
P50 = METRICS_BY_KEY["p50"]
OVERLAP_IN_SERVICE = 1.5  # RPS × sleep above this: the requests' sleeps overlap
FLAT_RATIO = 1.25  # throughput within this factor from the second point on: a plateau
LOOP_BOUND_BUSY = 0.5  # a blocking slice busier than this share of the loop's time bounds it


@dataclass(frozen=True, kw_only=True)
class Rps:
    """One point's requests/s: measured (median of the repeats) and predicted."""

    observed: float | None
    predicted: float | None

    @property
    def value(self) -> float | None:
        """What ratios use: the measurement when there is one, else the model."""
        return self.observed if self.observed is not None else self.predicted

    def text(self) -> str:
        if self.observed is None:
            return f"{self.predicted:.1f} (model; not measured)"
        if self.predicted is None:
            return f"{self.observed:.1f}"
        return f"{self.observed:.1f} (model {self.predicted:.1f})"


def _rps(study: Study, series: Series, x: float, found: Mapping[str, PointComparison]) -> (
    Rps | None
):
    c = found.get(study.point(series, x).id)
    if c is None:
        return None
    value = Rps(observed=c.observed_value(RPS), predicted=c.predicted_value(RPS))
    return value if value.value else None


def _ratio(a: Rps, b: Rps) -> float:
    """a / b, both measured or both by the model (a measured one against a predicted one would
    mix the model's error into the ratio)."""
    if a.observed is not None and b.observed is not None:
        return a.observed / b.observed
    return a.predicted / b.predicted  # type: ignore[operator]


def _times(ratio: float) -> str:
    return f"×{ratio:.1f}" if ratio >= 1 else f"÷{1 / ratio:.1f}"


def _find(study: Study, server: str) -> list[Series]:
    return [s for s in study.series if s.server == server]


def _last_x(study: Study, found: Mapping[str, PointComparison], *series: Series) -> float | None:
    """The largest concurrency at which every one of ``series`` has a number."""
    for x in reversed(study.xs):
        if all(_rps(study, s, x, found) is not None for s in series):
            return x
    return None


def async_path_question(study: Study) -> str:
    """The heading of `async_path_sentences`: the seed's question when Django's async path is in
    the study, else what the study's event loops show."""
    if any(s.server in ("django-asgi", "django-asgi-sync") for s in study.series):
        return "What Django needs to be fully async, in numbers"
    return "A blocking call in an event loop, in numbers"


def async_path_sentences(
    study: Study, comparisons: Sequence[PointComparison]
) -> list[str]:
    """Sentences answering the seed's closing question, for a concurrency study at one sleep
    with Django's async path (`django-asgi`, `django-asgi-sync`) or an event loop with a
    blocking call (`aiohttp-executor`, `aiohttp-mixed`) in it; [] for any other study."""
    if study.x != X_CONCURRENCY or len(study.sleeps_s) != 1 or study.sleeps_s[0] <= 0:
        return []
    found = {c.point.id: c for c in comparisons}
    sleep_s = study.sleeps_s[0]
    aio = next(iter(_find(study, "aiohttp")), None)
    sync = next(iter(_find(study, "django")), None)
    asgi = next(iter(_find(study, "django-asgi")), None)
    asgi_sync = next(iter(_find(study, "django-asgi-sync")), None)
    out: list[str] = []
    if asgi is not None:
        out += _asgi_sentences(study, found, sleep_s, asgi, sync, aio)
    if asgi_sync is not None:
        out += _asgi_sync_sentences(study, found, sleep_s, asgi_sync, sync, asgi)
    for executor in _find(study, "aiohttp-executor"):
        out += _executor_sentences(study, found, sleep_s, executor, aio)
    if aio is not None:
        for mixed in _find(study, "aiohttp-mixed"):
            out += _slice_sentences(study, found, mixed, aio)
    if out:
        out += _summary(study, found, aio=aio, sync=sync, asgi=asgi, asgi_sync=asgi_sync)
    return out


def _p50(study, series, x, found) -> str:
    c = found[study.point(series, x).id]
    observed, predicted = c.observed_value(P50), c.predicted_value(P50)
    if observed is None:
        return f"{predicted:.0f} ms (model; not measured)"
    return f"{observed:.0f} ms" + ("" if predicted is None else f" (model {predicted:.0f})")


def _asgi_sentences(study, found, sleep_s, asgi, sync, aio) -> list[str]:
    out = []
    if sync is not None and (x := _last_x(study, found, asgi, sync)) is not None:
        a, s = _rps(study, asgi, x, found), _rps(study, sync, x, found)
        out.append(
            f"At C = {x:g} Django's async view under uvicorn ({asgi.label}) served {a.text()} "
            f"requests/s against the sync gunicorn worker's {s.text()}, {_times(_ratio(a, s))}:"
            f" RPS × sleep = {a.value * sleep_s:.1f} requests in their sleep at once against "
            f"{s.value * sleep_s:.1f}."
        )
    if aio is not None and (x := _last_x(study, found, asgi, aio)) is not None:
        a, r = _rps(study, asgi, x, found), _rps(study, aio, x, found)
        out.append(
            f"aiohttp, on the same asyncio loop, served {r.text()} there, "
            f"{_times(_ratio(r, a))} Django's async view; a request itself (Total p50) took "
            f"{_p50(study, asgi, x, found)} in Django against {_p50(study, aio, x, found)} in "
            f"aiohttp, with the same {sleep_s * 1000:g} ms sleep: the difference is Django's "
            "ASGI path's own work per request, queued on the one loop and the process's one "
            "GIL, not waiting for IO."
        )
    return out


def _asgi_sync_sentences(study, found, sleep_s, asgi_sync, sync, asgi) -> list[str]:
    x = _last_x(study, found, asgi_sync)
    if x is None:
        return []
    v = _rps(study, asgi_sync, x, found)
    in_service = v.value * sleep_s
    sentence = (
        f"The seed's sync view, unchanged, under uvicorn ({asgi_sync.label}, which Django runs "
        f"through sync_to_async) served {v.text()} requests/s at C = {x:g}: "
        f"RPS × sleep = {in_service:.1f}"
    )
    if in_service > OVERLAP_IN_SERVICE:
        sentence += (", so the blocking sleeps of different requests overlap: they do not "
                     "queue for one shared thread (asgiref runs each request's sync code in a "
                     "thread of its own)")
    else:
        sentence += ": the sync views run one at a time"
    if sync is not None and (s := _rps(study, sync, x, found)) is not None:
        sentence += f"; {_times(_ratio(v, s))} the sync gunicorn worker"
    if asgi is not None and (a := _rps(study, asgi, x, found)) is not None:
        diff = (_ratio(v, a) - 1) * 100
        sentence += f", {abs(diff):.0f} % {'above' if diff >= 0 else 'below'} the async view"
    return [sentence + "."]


def _executor_sentences(study, found, sleep_s, executor, aio) -> list[str]:
    line = [(x, v) for x in study.xs if (v := _rps(study, executor, x, found)) is not None]
    if len(line) < 3:
        return []
    tail = [v.value for _, v in line[1:]]
    x0, x1 = line[1][0], line[-1][0]
    last = line[-1][1]
    if max(tail) / min(tail) > FLAT_RATIO:
        return [
            f"{executor.label} grew to {last.text()} requests/s at C = {x1:g} (RPS × sleep = "
            f"{last.value * sleep_s:.1f}): its pool did not run out of threads here."
        ]
    pool = (f"--threads {executor.threads}" if executor.threads
            else "the default pool is min(32, cores + 4)")
    sentence = (
        f"{executor.label} (run_in_executor: the loop stays free, the sleep blocks a pool "
        f"thread) levels off from C = {x0:g} on at {last.text()} requests/s at C = {x1:g}: "
        f"RPS × sleep = {last.value * sleep_s:.1f}, a pool's worth of threads ({pool}), "
        "however many clients wait"
    )
    if aio is not None and (r := _rps(study, aio, x1, found)) is not None:
        sentence += f"; plain aiohttp served {_times(_ratio(r, last))} that"
    return [sentence + "."]


def _slice_sentences(study, found, mixed, aio) -> list[str]:
    x = _last_x(study, found, mixed, aio)
    if x is None or mixed.blocking_s is None:
        return []
    m, r = _rps(study, mixed, x, found), _rps(study, aio, x, found)
    loss = (1 - _ratio(m, r)) * 100
    blocking_ms = mixed.blocking_s * 1000
    busy = m.value * mixed.blocking_s
    sentence = (
        f"A blocking slice of {blocking_ms:g} ms per request (time.sleep before the await) left "
        f"aiohttp {m.text()} requests/s at C = {x:g} against {r.text()} without it: "
        f"{'a loss of ' + format(loss, '.0f') + ' %' if loss >= 0.5 else 'no loss'}"
    )
    if busy > LOOP_BOUND_BUSY:
        sentence += (
            f"; the slices alone hold the loop's one thread {100 * busy:.0f} % of the time "
            f"(RPS × B), so the loop, {1000 / m.value:.1f} ms per request, is the bottleneck"
        )
    else:
        sentence += f"; the slices hold the loop {100 * busy:.0f} % of the time (RPS × B)"
    return [sentence + "."]


def _summary(study, found, *, aio, sync, asgi, asgi_sync) -> list[str]:
    """The closing question in one sentence, from the same numbers."""
    parts = []
    if sync is not None:
        gains = []
        for view, name in ((asgi, "an async view"), (asgi_sync, "the unchanged sync view")):
            if view is not None and (x := _last_x(study, found, view, sync)) is not None:
                ratio = _ratio(_rps(study, view, x, found), _rps(study, sync, x, found))
                gains.append(f"{_times(ratio)} with {name}")
        if gains:
            parts.append(
                "running Django as an ASGI application already lifts the sync worker's "
                f"one-request-at-a-time limit ({', '.join(gains)} at the largest C)"
            )
    if asgi is not None and aio is not None and (x := _last_x(study, found, asgi, aio)):
        ratio = _ratio(_rps(study, aio, x, found), _rps(study, asgi, x, found))
        parts.append(
            f"what remains is the cost of Django's own async path per request (aiohttp "
            f"{_times(ratio)} at C = {x:g}), which only a leaner request path removes"
        )
    mixed = sorted((s for s in _find(study, "aiohttp-mixed") if s.blocking_s),
                   key=lambda s: s.blocking_s)
    losses = []
    if aio is not None:
        for s in mixed:
            if (x := _last_x(study, found, s, aio)) is not None:
                loss = (1 - _ratio(_rps(study, s, x, found), _rps(study, aio, x, found))) * 100
                losses.append(f"{s.blocking_s * 1000:g} ms cost {max(loss, 0):.0f} %")
    if losses:
        parts.append(
            "every synchronous call left in a request (the ORM, the cache, contrib apps, "
            "third-party libraries) either takes a thread through sync_to_async or blocks the "
            f"loop, where per request {' and '.join(losses)} of the throughput"
        )
    if not parts:
        return []
    text = "; ".join(parts)
    return [f"In numbers, the seed's closing question: {text}."]
