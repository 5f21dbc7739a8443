"""The ab parser against real ab outputs, and ab's arithmetic re-done from its own -g rows.

Every input comes from tests/fixtures/ab (made by running ab; see its README). The checks hold
for any real run, so regenerating the fixtures keeps them meaningful: nothing here depends on
the particular numbers a run produced.
"""

from __future__ import annotations

import math
import re
import statistics

import pytest
from conftest import AB_FIXTURES

from asim.errors import AbParseError
from asim.lab.abrun import read_run
from asim.sim.abreport import PERCENTS, AbReport, TimesRow, round_ms
from asim.sim.abtext import (
    GNUPLOT_HEADER,
    GnuplotRow,
    gnuplot_samples,
    parse_ab_output,
    parse_ab_text,
    parse_gnuplot,
)

MANIFEST = AB_FIXTURES / "manifest.json"


def _names(*, report: bool | None = None, tsv: bool = False) -> list[str]:
    import json

    data = json.loads(MANIFEST.read_text())
    return [
        name for name, e in data.items()
        if not name.startswith("_")
        and (report is None or e["report"] == report)
        and (not tsv or e["has_tsv"])
    ]


REPORTS = _names(report=True)
WITH_TSV = _names(report=True, tsv=True)
NOT_REPORTS = _names(report=False)


def text_of(name: str) -> str:
    return (AB_FIXTURES / f"{name}.txt").read_text()


def rows_of(name: str) -> tuple[GnuplotRow, ...]:
    return parse_gnuplot((AB_FIXTURES / f"{name}.tsv").read_text())


def printed(text: str, key: str) -> str:
    """The value of one ``Key:   value`` line of ab's report, found independently of the parser."""
    m = re.search(rf"^{re.escape(key)}:\s+(.+?)\s*$", text, re.M)
    assert m, f"fixture lacks {key!r}"
    return m.group(1)


def test_fixtures_cover_the_shapes_asked_for():
    assert len(REPORTS) >= 10 and len(WITH_TSV) == len(REPORTS) and NOT_REPORTS


# ---------------------------------------------------------------- the report itself


@pytest.mark.parametrize("name", REPORTS)
def test_every_fixture_parses_to_what_its_command_asked(name, ab_manifest):
    entry = ab_manifest[name]
    text = text_of(name)
    parsed = parse_ab_text(text)
    report = parsed.report
    assert report == parse_ab_output(text)
    assert report.complete_requests == entry["requests"]
    assert report.concurrency == entry["concurrency"]
    assert report.failed_requests == int(printed(text, "Failed requests"))
    assert parsed.document_path == "/" + entry["path"]
    assert str(parsed.server_port) in entry["ab_command"]
    assert parsed.server_hostname == "127.0.0.1"
    assert parsed.total_transferred_bytes >= parsed.html_transferred_bytes > 0
    assert report.time_taken_s == float(printed(text, "Time taken for tests").split()[0])
    assert report.requests_per_second == float(printed(text, "Requests per second").split()[0])
    if entry["server"] == "django":
        assert parsed.server_software == "gunicorn"
    else:
        assert parsed.server_software.startswith("Python/")


@pytest.mark.parametrize("name", REPORTS)
def test_rate_lines_follow_abs_formulas_from_the_time_taken(name):
    r = parse_ab_output(text_of(name))
    taken_s = r.time_taken_s  # printed with 3 decimals: +-0.0005 s
    done, c = r.complete_requests, r.concurrency
    assert r.requests_per_second == pytest.approx(done / taken_s, abs=0.005 + done * 0.0005
                                                  / (taken_s - 0.0005) ** 2)
    assert r.time_per_request_ms == pytest.approx(c * taken_s * 1000 / done,
                                                  abs=0.0005 + c * 0.5 / done)
    assert r.time_per_request_all_ms == pytest.approx(taken_s * 1000 / done,
                                                      abs=0.0005 + 0.5 / done)


@pytest.mark.parametrize("name", REPORTS)
def test_table_rows_are_ordered(name):
    r = parse_ab_output(text_of(name))
    for row in (r.connect, r.processing, r.waiting, r.total):
        assert row.min_ms <= row.median_ms <= row.max_ms
        assert row.min_ms <= row.mean_ms <= row.max_ms
        assert row.sd_ms >= 0
    values = [r.percentiles_ms[p] for p in PERCENTS]
    assert values == sorted(values)
    assert r.percentiles_ms[100] == r.total.max_ms


@pytest.mark.parametrize("name", REPORTS)
def test_abs_own_warnings_are_read_and_match_its_rule(name):
    """ab warns when |mean - median| of a row exceeds its sd (ERROR beyond 2 sd)."""
    parsed = parse_ab_text(text_of(name))
    said = {re.search(r"for (the .+?) are", w).group(1): w.split(":")[0] for w in parsed.warnings}
    rows = {"the initial connection time": parsed.report.connect,
            "the processing time": parsed.report.processing,
            "the waiting time": parsed.report.waiting,
            "the total time": parsed.report.total}
    for what, row in rows.items():
        d = abs(row.mean_ms - row.median_ms)
        if abs(d - row.sd_ms) <= 0.05 or abs(d - 2 * row.sd_ms) <= 0.1:
            continue  # the printed sd is rounded to 0.1 ms; too close to ab's threshold to judge
        expected = "ERROR" if d > 2 * row.sd_ms else "WARNING" if d > row.sd_ms else None
        assert said.get(what) == expected, (what, row)
    assert all("\n" not in w for w in parsed.warnings)


def test_one_request_has_no_percentile_table_and_every_percentile_is_that_request():
    text = text_of("aio_n1")
    assert "Percentage of the requests" not in text
    r = parse_ab_output(text)
    assert r.complete_requests == 1
    assert set(r.percentiles_ms.values()) == {r.total.max_ms}
    assert r.total.sd_ms == 0


def test_keep_alive_line_is_read_only_when_printed():
    ka = parse_ab_output(text_of("aio_keepalive_c5"))
    assert ka.keepalive_requests == int(printed(text_of("aio_keepalive_c5"),
                                                "Keep-Alive requests"))
    assert 0 < ka.keepalive_requests <= ka.complete_requests
    assert parse_ab_output(text_of("aio_c5")).keepalive_requests is None


def test_non_2xx_line_is_read_and_flagged():
    text = text_of("django_404_c2")
    r = parse_ab_output(text)
    assert r.non_2xx_responses == int(printed(text, "Non-2xx responses")) == r.complete_requests
    report, _, problems = read_run(text, "", 0, requests=r.complete_requests)
    assert report == r
    assert any("non-2xx" in p for p in problems)


def test_progress_lines_go_to_stderr_and_are_not_problems(ab_manifest):
    err = (AB_FIXTURES / "aio_n200_c20.err").read_text()
    assert "Completed 100 requests" in err and "Finished 200 requests" in err
    text = text_of("aio_n200_c20")
    report, parsed, problems = read_run(text, err, 0, requests=200)
    assert report is not None and parsed is not None and problems == ()


def test_a_run_with_fewer_requests_than_asked_is_flagged():
    text = text_of("aio_c5")
    _, _, problems = read_run(text, "", 0, requests=101)
    assert problems == ("100 requests completed of 101",)


@pytest.mark.parametrize("name", NOT_REPORTS)
def test_a_failed_run_is_not_a_report(name, ab_manifest):
    text = text_of(name)
    err = (AB_FIXTURES / f"{name}.err").read_text()
    with pytest.raises(AbParseError):
        parse_ab_output(text)
    code = ab_manifest[name]["returncode"]
    assert code != 0
    report, parsed, problems = read_run(text, err, code, requests=ab_manifest[name]["requests"])
    assert report is None and parsed is None
    assert len(problems) == 1 and f"code {code}" in problems[0]
    assert err.strip().splitlines()[-1] in problems[0]


# ---------------------------------------------------------------- ab's arithmetic from -g rows


@pytest.mark.parametrize("name", WITH_TSV)
def test_gnuplot_rows_are_one_per_request_sorted_by_total(name):
    rows = rows_of(name)
    r = parse_ab_output(text_of(name))
    assert len(rows) == r.complete_requests
    totals = [row.ttime_ms for row in rows]
    assert totals == sorted(totals)
    for row in rows:
        # dtime is round(time - ctime), so it is within 1 ms of the difference of the roundings
        assert abs(row.dtime_ms - (row.ttime_ms - row.ctime_ms)) <= 1
    starts = [row.start_epoch_s for row in rows]
    assert max(starts) - min(starts) <= math.ceil(r.time_taken_s) + 1


def _check_row(printed_row: TimesRow, values_ms: list[int], *, exact_median: bool) -> None:
    """``values_ms`` are ab's rounded per-request values of one column."""
    ordered = sorted(values_ms)
    done = len(ordered)
    # rounding is monotone, so min, max and order statistics survive it exactly
    assert printed_row.min_ms == ordered[0]
    assert printed_row.max_ms == ordered[-1]
    assert abs(printed_row.mean_ms - statistics.fmean(ordered)) <= 1.0
    if exact_median:
        assert printed_row.median_ms == ordered[done // 2]
    else:
        assert abs(printed_row.median_ms - (ordered[done // 2] + ordered[done // 2 + 1]) / 2) <= 1
    sd = statistics.stdev(ordered) if done > 1 else 0.0
    assert abs(printed_row.sd_ms - sd) <= 0.5 + 0.05 + 1e-9


@pytest.mark.parametrize("name", WITH_TSV)
def test_printed_table_is_abs_arithmetic_on_its_own_rows(name):
    r = parse_ab_output(text_of(name))
    rows = rows_of(name)
    done = len(rows)
    even = done == 1 or done % 2 == 0  # ab's median quirk averages two elements for odd done
    _check_row(r.connect, [x.ctime_ms for x in rows], exact_median=even)
    _check_row(r.processing, [x.dtime_ms for x in rows], exact_median=even)
    _check_row(r.waiting, [x.wait_ms for x in rows], exact_median=even)
    _check_row(r.total, [x.ttime_ms for x in rows], exact_median=even)
    totals = [x.ttime_ms for x in rows]
    for p in PERCENTS:
        index = done - 1 if p == 100 else done * p // 100
        assert r.percentiles_ms[p] == totals[index], p


def test_odd_fixture_exercises_the_median_quirk():
    rows = rows_of("aio_n101_c10")
    assert len(rows) % 2 == 1


@pytest.mark.parametrize("name", WITH_TSV)
def test_report_from_samples_reproduces_the_printed_report(name):
    printed_report = parse_ab_output(text_of(name))
    rows = rows_of(name)
    rebuilt = AbReport.from_samples(
        gnuplot_samples(rows),
        concurrency=printed_report.concurrency,
        time_taken_us=round(printed_report.time_taken_s * 1e6),
        failed_requests=printed_report.failed_requests,
        non_2xx_responses=printed_report.non_2xx_responses,
    )
    assert rebuilt.complete_requests == printed_report.complete_requests
    assert rebuilt.percentiles_ms == printed_report.percentiles_ms
    for name_ in ("connect", "waiting", "total"):
        a, b = rebuilt.row(name_), printed_report.row(name_)
        assert (a.min_ms, a.max_ms) == (b.min_ms, b.max_ms), name_
        assert abs(a.mean_ms - b.mean_ms) <= 1 and abs(a.median_ms - b.median_ms) <= 1, name_
    # Processing from samples is ttime - ctime of rounded values, not ab's round(time - ctime)
    a, b = rebuilt.processing, printed_report.processing
    for field in ("min_ms", "max_ms", "mean_ms", "median_ms"):
        assert abs(getattr(a, field) - getattr(b, field)) <= 1, field
    # the time taken is printed to the ms, so the rates rebuilt from it carry that much error
    rel = 0.0006 / printed_report.time_taken_s + 0.001
    for field in ("requests_per_second", "time_per_request_ms", "time_per_request_all_ms"):
        assert getattr(rebuilt, field) == pytest.approx(getattr(printed_report, field),
                                                        rel=rel, abs=0.006), field


def test_samples_from_rows_are_microseconds_of_abs_milliseconds():
    rows = rows_of("aio_c5")
    samples = gnuplot_samples(rows)
    assert [s.time_us for s in samples] == [r.ttime_ms * 1000 for r in rows]
    assert min(s.start_us for s in samples) == 0
    assert all(s.start_us % 1_000_000 == 0 for s in samples)
    assert round_ms(samples[-1].time_us) == rows[-1].ttime_ms
    assert gnuplot_samples([]) == []


# ---------------------------------------------------------------- text that is not ab's report


def _without(text: str, pattern: str) -> str:
    out = re.sub(pattern, "", text, flags=re.M)
    assert out != text
    return out


GOOD = text_of("aio_c5")
BROKEN = {
    "empty": "",
    "other program": "HTTP/1.1 200 OK\nServer: gunicorn\n\nHello, Anonymous\n",
    "cut before the table": GOOD.split("Connection Times")[0],
    "no complete requests": _without(GOOD, r"^Complete requests:.*\n"),
    "no total row": _without(GOOD, r"^Total:  .*\n"),
    "a percentile missing": _without(GOOD, r"^\s+90%.*\n"),
    "no rate lines": _without(GOOD, r"^(Requests per second|Time per request):.*\n"),
    "garbled number": GOOD.replace("Complete requests:      100", "Complete requests:      1OO"),
    "garbled unit": re.sub(r"(Time taken for tests:\s+[\d.]+) seconds", r"\1 minutes", GOOD),
    "no requests done": GOOD.replace("Complete requests:      100",
                                     "Complete requests:      0"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_text_that_is_not_a_report_gives_a_one_line_parse_error(case):
    with pytest.raises(AbParseError) as info:
        parse_ab_output(BROKEN[case])
    message = str(info.value)
    assert message and "\n" not in message


def test_an_aborted_run_says_how_many_requests_were_done():
    head = GOOD.split("\n\n\nServer Software")[0]
    aborted = head + "\nTotal of 37 requests completed\n"
    with pytest.raises(AbParseError, match="Total of 37 requests completed"):
        parse_ab_output(aborted)


def test_parser_rejects_non_text():
    with pytest.raises(AbParseError):
        parse_ab_output(GOOD.encode())  # type: ignore[arg-type]


GOOD_TSV = (AB_FIXTURES / "aio_c5.tsv").read_text()
BROKEN_TSV = {
    "empty": "",
    "not tab separated": GOOD_TSV.replace("\t", ","),
    "report instead": GOOD,
    "short row": GOOD_TSV.rstrip("\n").rsplit("\t", 1)[0] + "\n",
    "non-integer": GOOD_TSV.replace("\t0\t", "\tx\t", 1),
}


@pytest.mark.parametrize("case", sorted(BROKEN_TSV))
def test_broken_gnuplot_file_gives_a_parse_error(case):
    with pytest.raises(AbParseError) as info:
        parse_gnuplot(BROKEN_TSV[case])
    assert "\n" not in str(info.value)


def test_gnuplot_header_is_abs():
    assert GOOD_TSV.splitlines()[0].split("\t") == list(GNUPLOT_HEADER)
    assert math.isfinite(parse_gnuplot(GOOD_TSV)[0].ttime_ms)


@pytest.mark.parametrize("done", [1, 2, 3, 10, 11, 1000, 1001])
def test_rows_and_percentiles_by_selection_equal_those_of_the_sorted_column(done):
    # The report picks order statistics by selection; ab sorts. Same elements either way.
    import numpy as np

    from asim.sim.abreport import percentiles_from_us

    rng = np.random.default_rng(done)
    values = rng.integers(0, 5_000_000, size=done)
    ordered = np.sort(values)
    row = TimesRow.from_us(values)
    if done > 1 and done % 2:
        median = (int(ordered[done // 2]) + int(ordered[done // 2 + 1])) // 2
    else:
        median = int(ordered[done // 2])
    assert (row.min_ms, row.median_ms, row.max_ms) == (
        round_ms(int(ordered[0])), round_ms(median), round_ms(int(ordered[-1]))
    )
    table = percentiles_from_us(values)
    for p in PERCENTS:
        index = done - 1 if p >= 100 else done * p // 100
        assert table[p] == round_ms(int(ordered[index]))
