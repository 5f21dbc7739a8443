"""report.md of a results folder: the lab's tables, the charts, the model's errors and conclusions.

The conclusions are computed from the measurements: for every server of every task, how its
throughput and time per request moved along the varied parameter, what that says about how many
requests it serves at once, and how the servers of a task compare. Nothing in them is fixed text
about the outcome; a different machine or a different grid gives different sentences.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from asim.sim.shapes import WORKERS, shape
from asim.validate.async_path import async_path_question, async_path_sentences
from asim.validate.branches import branch_lines
from asim.validate.compare import (
    METRICS,
    METRICS_BY_KEY,
    Metric,
    PointComparison,
    by_id,
    error_summary,
)
from asim.validate.fidelity import accuracy_lines
from asim.validate.noise import noise_lines
from asim.validate.study import X_CONCURRENCY, Plan, Series, Study, StudyPoint, format_sleep

RPS = METRICS_BY_KEY["rps"]
TPR = METRICS_BY_KEY["tpr"]
TPR_ALL = METRICS_BY_KEY["tpr_all"]
P50 = METRICS_BY_KEY["p50"]
FLAT_RATIO = 1.25  # a change smaller than this factor end to end is called "about the same"
SAME_PCT = 15.0  # two servers within this many percent are said to behave alike


def fmt_value(metric: Metric, value: float | None) -> str:
    if value is None:
        return "–"
    if metric.key == "rps":
        return f"{value:.1f}"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def fmt_error(error: float | None) -> str:
    return "–" if error is None else f"{round(error, 1) + 0.0:+.1f} %"  # no "-0.0"


def fmt_observed(c: PointComparison, metric: Metric) -> str:
    """Median, and the range when there are several repeats."""
    value = c.observed_value(metric)
    text = fmt_value(metric, value)
    rng = c.observed_range(metric)
    if rng is not None and len(c.observed) > 1:
        text += f" ({fmt_value(metric, rng[0])}–{fmt_value(metric, rng[1])})"
    if c.flagged:
        text += " ⚠"
    return text


def x_cell(study: Study, x: float) -> str:
    return f"{int(x)}" if study.x == X_CONCURRENCY else f"{format_sleep(x)} s"


def x_text(study: Study, x: float) -> str:
    return f"{int(x)} clients" if study.x == X_CONCURRENCY else f"a {format_sleep(x)} s sleep"


# ---------------------------------------------------------------- tables


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def study_tables(study: Study, comparisons: Sequence[PointComparison]) -> list[str]:
    """The seed's results table (RPS and both time-per-request lines) and a percentile table."""
    found = by_id(comparisons)
    x_head = "Clients (-c)" if study.x == X_CONCURRENCY else "Sleep"
    main_rows, pct_rows = [], []
    for series in study.series:
        for x in study.xs:
            c = found.get(study.point(series, x).id)
            if c is None:
                continue
            row = [series.label, x_cell(study, x)]
            for m in (RPS, TPR, TPR_ALL):
                row += [
                    fmt_observed(c, m),
                    fmt_value(m, c.predicted_value(m)) + branch_mark(c, m),
                    fmt_error(c.error(m)),
                ]
            main_rows.append(row)
            prow = [series.label, x_cell(study, x)]
            for key in ("p50", "p90", "p100"):
                m = METRICS_BY_KEY[key]
                prow.append(
                    f"{fmt_value(m, c.observed_value(m))} / "
                    f"{fmt_value(m, c.predicted_value(m))} ({fmt_error(c.error(m))})"
                )
            pct_rows.append(prow)
    head = ["Server", x_head]
    for name in ("RPS", "Time per request, ms", "Across all concurrent, ms"):
        head += [f"{name}: measured", "model", "error"]
    lines = _table(head, main_rows)
    lines += ["", "Total time of a request, measured / model in ms (error):", ""]
    lines += _table(["Server", x_head, "p50", "p90", "p100 (longest)"], pct_rows)
    return lines


def branch_mark(c: PointComparison, metric: Metric) -> str:
    """Which branch the model's RPS cell shows, for a point the model predicts several ways."""
    branch = c.matched()
    if not c.alternatives or branch is None or metric is not RPS:
        return ""
    return f" ({branch.name})"


def error_table(comparisons: Sequence[PointComparison]) -> list[str]:
    rows = []
    for e in error_summary(comparisons):
        rows.append(
            [
                f"{e.metric.label} ({e.metric.unit})",
                str(e.points),
                "–" if e.median_abs_pct is None else f"{e.median_abs_pct:.1f} %",
                "–" if e.max_abs_pct is None else f"{e.max_abs_pct:.1f} %",
                e.worst_point_id or "–",
            ]
        )
    header = ["Metric", "Points", "Median \\|error\\|", "Max \\|error\\|", "Worst point"]
    return _table(header, rows)


def console_rows(comparisons: Sequence[PointComparison]) -> tuple[list[str], list[list[str]]]:
    """Header and rows for a terminal table: measured / model and the error, per metric."""
    header = ["Point"] + [f"{m.short} ({m.unit})" for m in METRICS]
    rows = []
    for c in comparisons:
        p = c.point
        workers = f" w={p.workers}" if shape(p.server).takes(WORKERS) else ""
        keepalive = " -k" if p.keepalive else ""
        name = (
            f"{p.server}{workers}{' ⚠' if c.flagged else ''}\n"
            f"S={format_sleep(p.sleep_s)} c={p.concurrency} n={p.requests}{keepalive}"
        )
        branch = c.matched()
        if c.alternatives and branch is not None:
            name += f"\nmodel: {branch.name} branch"
        row = [name]
        for m in METRICS:
            row.append(
                f"{fmt_value(m, c.observed_value(m))} / {fmt_value(m, c.predicted_value(m))}"
                f"\n{fmt_error(c.error(m))}"
            )
        rows.append(row)
    return header, rows


# ---------------------------------------------------------------- conclusions


@dataclass(frozen=True, kw_only=True)
class Conclusion:
    """The answer to one question of the lab, in sentences computed from the data."""

    question: str
    sentences: tuple[str, ...]


def _observed_line(
    study: Study, series: Series, found: Mapping[str, PointComparison], metric: Metric
) -> list[tuple[float, float]]:
    line = []
    for x in study.xs:
        c = found.get(study.point(series, x).id)
        value = None if c is None else c.observed_value(metric)
        if value is not None:
            line.append((x, value))
    return line


def _ratio_text(ratio: float) -> str:
    return f"×{ratio:.1f}" if ratio >= 1 else f"÷{1 / ratio:.1f}"


def _concurrency_sentences(
    study: Study, series: Series, found: Mapping[str, PointComparison]
) -> list[str]:
    rps = _observed_line(study, series, found, RPS)
    tpr = _observed_line(study, series, found, TPR)
    if len(rps) < 2:
        return []
    (x0, r0), (x1, r1) = rps[0], rps[-1]
    t0, t1 = tpr[0][1], tpr[-1][1]
    sleep_s = study.sleeps_s[0]
    x_ratio, r_ratio, t_ratio = x1 / x0, r1 / r0, t1 / t0
    out = [
        f"From {x0:g} to {x1:g} concurrent clients ({_ratio_text(x_ratio)}), {series.label} went "
        f"from {r0:.1f} to {r1:.1f} requests/s ({_ratio_text(r_ratio)}), and the time per "
        f"request from {t0:.0f} to {t1:.0f} ms ({_ratio_text(t_ratio)})."
    ]
    if r_ratio >= 0.5 * x_ratio:
        how = (
            "in proportion to the clients"
            if r_ratio >= 0.85 * x_ratio
            else "with the clients, if less than in proportion"
        )
        sentence = f"Throughput grows {how}, so the requests are served at once"
        last = found[study.point(series, x1).id]
        p50 = last.observed_value(P50)
        if p50 is not None:
            sentence += f": at {x1:g} clients a request itself still takes {p50:.0f} ms (Total p50"
            sentence += f"; the sleep is {sleep_s * 1000:g} ms)" if sleep_s > 0 else ")"
            if t1 > 1.2 * p50:
                sentence += (
                    f", while ab's time per request, C × time taken / n, is {t1:.0f} ms: a run "
                    f"of {study.requests} requests starts with one request alone and ends with a "
                    "part-filled wave, which weighs more the more clients there are"
                )
        out.append(sentence + ".")
    elif r_ratio <= FLAT_RATIO:
        level = statistics.mean(v for _, v in rps)
        at_once = level * sleep_s
        out.append(
            f"Throughput stays at about {level:.1f} requests/s"
            + (
                f", i.e. {at_once:.1f} request(s) in service at a time (RPS × sleep)"
                if sleep_s > 0
                else ""
            )
            + f"; every extra client only waits: the time per request grows {_ratio_text(t_ratio)}"
            f" while the clients grow {_ratio_text(x_ratio)}."
        )
    else:
        out.append(
            f"Throughput grows, but less than the clients ({_ratio_text(r_ratio)} against "
            f"{_ratio_text(x_ratio)}): the server saturates part of the way."
        )
    return out


def _sleep_sentences(
    study: Study, series: Series, found: Mapping[str, PointComparison]
) -> list[str]:
    rps = [(x, v) for x, v in _observed_line(study, series, found, RPS) if x > 0]
    tpr = dict(_observed_line(study, series, found, TPR))
    if len(rps) < 2:
        return []
    (s0, r0), (s1, r1) = rps[0], rps[-1]
    clients = study.concurrencies[0]
    out = [
        f"From a {format_sleep(s0)} s to a {format_sleep(s1)} s sleep ({_ratio_text(s1 / s0)}), "
        f"{series.label} went from {r0:.1f} to {r1:.1f} requests/s ({_ratio_text(r1 / r0)}), "
        f"and the time per request from {tpr[s0]:.0f} to {tpr[s1]:.0f} ms."
    ]
    in_service = [v * s for s, v in rps]
    spread = max(in_service) / min(in_service)
    mean_in = statistics.mean(in_service)
    if spread <= FLAT_RATIO:
        share = (
            f"all {clients} clients are served at once"
            if mean_in >= 0.7 * clients
            else f"about {mean_in:.1f} of the {clients} clients are served at a time"
        )
        low, high = f"{min(in_service):.1f}", f"{max(in_service):.1f}"
        out.append(
            f"RPS × sleep stays at {low if low == high else low + '–' + high}, so throughput is "
            f"inversely proportional to the IO time: {share}."
        )
    else:
        out.append(
            f"RPS × sleep moves from {in_service[0]:.1f} to {in_service[-1]:.1f}: throughput is "
            "not simply inversely proportional to the IO time here."
        )
    return out


def _pair_sentences(
    study: Study, a: Series, b: Series, found: Mapping[str, PointComparison]
) -> list[str]:
    ra = dict(_observed_line(study, a, found, RPS))
    rb = dict(_observed_line(study, b, found, RPS))
    xs = [x for x in study.xs if x in ra and x in rb and rb[x] > 0]
    if not xs:
        return []
    diffs = [(ra[x] / rb[x] - 1) * 100 for x in xs]
    if max(abs(d) for d in diffs) <= SAME_PCT:
        return [
            f"{a.label} and {b.label} have the same throughput within "
            f"{max(abs(d) for d in diffs):.1f} % at every point."
        ]
    last = xs[-1]
    return [
        f"At {x_text(study, last)} {a.label} served {_ratio_text(ra[last] / rb[last])} the "
        f"requests per second of {b.label} ({ra[last]:.1f} against {rb[last]:.1f})."
    ]


# Up to this many series a study compares every pair; beyond it (task 10 has seven) every series
# is compared with the first, the study's reference line, so the paragraph stays readable.
ALL_PAIRS_MAX_SERIES = 3


def _pairs(series: Sequence[Series]) -> list[tuple[Series, Series]]:
    if len(series) <= ALL_PAIRS_MAX_SERIES:
        return [(a, b) for i, a in enumerate(series) for b in series[i + 1 :]]
    return [(series[0], b) for b in series[1:]]


def _blocking_sentences(study: Study, comparisons: Sequence[PointComparison]) -> list[str]:
    """Compare blocking aiohttp with the non-blocking one at the same points, if measured."""
    if study.x != X_CONCURRENCY:
        return []
    found = by_id(comparisons)
    blocking = Series(server="aiohttp-blocking")
    if blocking not in study.series:
        return []
    pairs = []
    for x in study.xs:
        p = study.point(blocking, x)
        twin = StudyPoint(
            server="aiohttp",
            sleep_s=p.sleep_s,
            concurrency=p.concurrency,
            requests=p.requests,
            keepalive=p.keepalive,
        )
        cb, ca = found.get(p.id), found.get(twin.id)
        vb = None if cb is None else cb.observed_value(RPS)
        va = None if ca is None else ca.observed_value(RPS)
        if va is not None and vb:
            pairs.append((x, va, vb))
    if not pairs:
        return []
    x, va, vb = pairs[-1]
    sentence = (
        f"The same aiohttp server with `await asyncio.sleep` made {va:.1f} requests/s at "
        f"{x:g} clients, {_ratio_text(va / vb)} the {vb:.1f} of the blocking `time.sleep`"
    )
    in_service = vb * study.sleeps_s[0]
    if abs(in_service - 1) <= 0.2:
        sentence += (
            f": with RPS × sleep = {in_service:.2f}, the blocked event loop serves one "
            "request at a time, like a single sync worker"
        )
    return [sentence + "."]


def _accuracy_sentence(study: Study, comparisons: Sequence[PointComparison]) -> str | None:
    ids = {p.id for p in study.points()}
    errors = [abs(e) for c in comparisons if c.point.id in ids and (e := c.error(RPS)) is not None]
    if not errors:
        return None
    return (
        f"The model's requests/s are within {max(errors):.1f} % of the measurements at every "
        f"point of this task (median {statistics.median(errors):.1f} %)."
    )


def conclusions(plan: Plan, comparisons: Sequence[PointComparison]) -> list[Conclusion]:
    """Answers, from the data, to "how does each server behave as the varied parameter grows"."""
    found = by_id(comparisons)
    answered: set[tuple[str, ...]] = set()
    result = []
    for study in plan.studies:
        varied = (
            "the number of concurrent clients"
            if study.x == X_CONCURRENCY
            else "the IO time (sleep)"
        )
        for series in study.series:
            key = tuple(sorted(study.point(series, x).id for x in study.xs))
            if key in answered:
                continue
            answered.add(key)
            if study.x == X_CONCURRENCY:
                sentences = _concurrency_sentences(study, series, found)
            else:
                sentences = _sleep_sentences(study, series, found)
            if series.server == "aiohttp-blocking":
                sentences += _blocking_sentences(study, comparisons)
            if sentences:
                result.append(
                    Conclusion(
                        question=f"How {series.label} behaves as {varied} grows ({study.name})",
                        sentences=tuple(sentences),
                    )
                )
        pair_sentences = []
        for a, b in _pairs(study.series):
            pair_sentences += _pair_sentences(study, a, b, found)
        accuracy = _accuracy_sentence(study, comparisons)
        if accuracy:
            pair_sentences.append(accuracy)
        if pair_sentences:
            result.append(
                Conclusion(
                    question=f"The servers side by side ({study.name})",
                    sentences=tuple(pair_sentences),
                )
            )
        async_path = async_path_sentences(study, comparisons)
        if async_path:
            result.append(
                Conclusion(
                    question=f"{async_path_question(study)} ({study.name})",
                    sentences=tuple(async_path),
                )
            )
    return result


# ---------------------------------------------------------------- the document


def render_markdown(
    plan: Plan,
    comparisons: Sequence[PointComparison],
    *,
    figures: Mapping[str, Sequence[str]],
    meta: Mapping[str, str],
    backlog_edges: Mapping[str, str] | None = None,
) -> str:
    """The whole report.md; ``figures`` maps a study name to its image file names,
    ``backlog_edges`` a point id to what the model saw near the listen backlog."""
    lines = [f"# asim validate: {plan.name}", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += [
        f"- each point measured {plan.repeats} time(s); measured = the median over the repeats"
        + (" (min–max in brackets)" if plan.repeats > 1 else ""),
        "- model = `asim predict` for the same command; error = (model − measured) / measured",
    ]
    if plan.passes > 1 and plan.pass_points(2):
        lines.append(
            f"- the CPU-dominated points measured again in {plan.passes - 1} later pass(es) "
            "(the noise floor, under the accuracy goals); the tables show the first pass"
        )
    lines.append("")
    for study in plan.studies:
        lines += [f"## {study.title}", "", f"_{study.fixed_text}_", ""]
        lines += study_tables(study, comparisons)
        lines.append("")
        for name in figures.get(study.name, ()):
            lines += [f"![{study.name}: {name}]({name})", ""]
    lines += ["## How far the model is from the measurements", ""]
    lines += error_table(comparisons)
    lines += ["", "### Against the accuracy goals", ""]
    lines += accuracy_lines(comparisons)
    lines += branch_lines(comparisons, backlog_edges or {})
    noise = noise_lines(comparisons)
    if noise:
        lines += ["", "### CPU-dominated points against measuring again (noise floor)", ""]
        lines += noise
    lines += ["", "## Conclusions", ""]
    for c in conclusions(plan, comparisons):
        lines += [f"### {c.question}", "", " ".join(c.sentences), ""]
    flagged = [c for c in comparisons if c.flagged]
    if flagged:
        lines += ["## Flagged points", ""]
        for c in flagged:
            reasons = list(c.problems)
            if c.failed_runs:
                reasons.append(f"{c.failed_runs} run(s) without a report (see raw/)")
            if not c.observed:
                reasons.append("no measurement")
            lines.append(f"- `{c.point.id}`: " + "; ".join(reasons))
        lines.append("")
    return "\n".join(lines)
