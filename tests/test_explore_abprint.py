"""The text ab would print, written by `asim.explore.abprint`: checked against real ab outputs
(tests/fixtures/ab) and against the model's own reports, read back with asim's ab parser."""

from __future__ import annotations

import pytest

from asim.explore.abprint import (
    BODY_BYTES,
    GUNICORN_RESPONSE_BYTES,
    LOOP_KEEPALIVE_RESPONSE_BYTES,
    LOOP_RESPONSE_BYTES,
    Wire,
    ab_text,
    lab_wire,
)
from asim.grid import predict
from asim.sim.abreport import TimesRow
from asim.sim.abtext import parse_ab_text
from asim.sim.spec import Scenario
from tests.conftest import AB_FIXTURES

FIXTURES = sorted(p.stem for p in AB_FIXTURES.glob("*.txt") if p.stem != "refused")


def _comparable(text: str) -> list[str]:
    """ab's lines without the two that a parsed report cannot reproduce exactly: the transfer
    rate (ab divides by the unrounded time) and the SANE warnings (ab compares with the
    unrounded standard deviation)."""
    lines = text.splitlines()
    out, skip = [], False
    for line in lines:
        if skip:
            skip = False
            continue
        if line.startswith(("WARNING: The median", "ERROR: The median")):
            skip = True
            continue
        if not line.startswith("Transfer rate:"):
            out.append(line)
    return out


@pytest.mark.parametrize("name", FIXTURES)
def test_a_real_ab_report_is_written_back_line_for_line(name):
    text = (AB_FIXTURES / f"{name}.txt").read_text()
    parsed = parse_ab_text(text)
    r = parsed.report
    wire = Wire(software=parsed.server_software, host=parsed.server_hostname,
                port=parsed.server_port, path=parsed.document_path,
                document_length_bytes=parsed.document_length_bytes,
                response_bytes=parsed.total_transferred_bytes // r.complete_requests)
    written = ab_text(r, requests=r.complete_requests,
                      keepalive=r.keepalive_requests is not None, wire=wire)
    assert _comparable(written) == _comparable(text)
    # ab divided by the unrounded time; the text keeps it to the millisecond
    rounding = 0.0005 / r.time_taken_s
    again = parse_ab_text(written)
    assert again.transfer_rate_kbytes_s == pytest.approx(parsed.transfer_rate_kbytes_s,
                                                         rel=rounding, abs=0.01)


def test_the_lab_wire_matches_what_the_real_servers_sent():
    sizes = {}
    for name in FIXTURES:
        parsed = parse_ab_text((AB_FIXTURES / f"{name}.txt").read_text())
        if parsed.report.non_2xx_responses:
            continue  # a 404 page, not the lab's handler
        assert parsed.document_length_bytes == BODY_BYTES
        kind = (parsed.server_software, parsed.report.keepalive_requests is not None)
        sizes.setdefault(kind, set()).add(
            parsed.total_transferred_bytes // parsed.report.complete_requests)
    loop = lab_wire(Scenario(server="aiohttp"))
    assert sizes[(loop.software, False)] == {LOOP_RESPONSE_BYTES}
    assert sizes[(loop.software, True)] == {LOOP_KEEPALIVE_RESPONSE_BYTES}
    assert sizes[("gunicorn", False)] == {GUNICORN_RESPONSE_BYTES}
    assert lab_wire(Scenario(server="django")).software == "gunicorn"


@pytest.mark.parametrize("mean, median, sd, expected", [
    (105, 103, 2.0, ""),
    (105, 103, 1.96, "WARNING: The median and mean for the total time are not within"),
    (105, 101, 1.96, "ERROR: The median and mean for the total time are more than twice"),
])
def test_ab_warns_when_mean_and_median_are_far_apart_in_standard_deviations(
    mean, median, sd, expected
):
    row = TimesRow(min_ms=100, mean_ms=mean, sd_ms=sd, median_ms=median, max_ms=110)
    zero = TimesRow(min_ms=0, mean_ms=0, sd_ms=0.0, median_ms=0, max_ms=0)
    (point,) = predict(Scenario(server="aiohttp", concurrency=5, requests=20, cores=2))
    report = point.report
    fake = type(report)(**{**{f: getattr(report, f) for f in (
        "concurrency", "complete_requests", "time_taken_s", "requests_per_second",
        "time_per_request_ms", "time_per_request_all_ms", "percentiles_ms")},
        "connect": zero, "processing": zero, "waiting": zero, "total": row})
    text = ab_text(fake, requests=20, keepalive=False, wire=lab_wire(point.scenario))
    lines = [ln for ln in text.splitlines() if "median and mean" in ln]
    assert (lines[0].startswith(expected) if expected else lines == [])
    if expected:
        assert parse_ab_text(text).warnings[0].startswith(expected)


@pytest.mark.parametrize("scenario", [
    Scenario(server="aiohttp", concurrency=10, requests=100, sleep_s=0.1, cores=2),
    Scenario(server="django", workers=2, concurrency=7, requests=151, sleep_s=0.02, cores=1),
    Scenario(server="aiohttp-blocking", concurrency=5, requests=40, sleep_s=0.01,
             keepalive=True, cores=2),
    Scenario(server="aiohttp", concurrency=1, requests=1, sleep_s=0.0, cores=2),
], ids=lambda s: s.label())
def test_the_model_text_reads_back_as_the_models_report(scenario):
    (point,) = predict(scenario)
    r = point.report
    text = ab_text(r, requests=scenario.requests, keepalive=scenario.keepalive,
                   wire=lab_wire(scenario))
    back = parse_ab_text(text).report
    assert (back.connect, back.processing, back.waiting, back.total) == tuple(
        TimesRow(min_ms=x.min_ms, mean_ms=x.mean_ms, sd_ms=round(x.sd_ms, 1),
                 median_ms=x.median_ms, max_ms=x.max_ms)
        for x in (r.connect, r.processing, r.waiting, r.total))
    assert back.percentiles_ms == r.percentiles_ms
    assert back.complete_requests == r.complete_requests == scenario.requests
    assert back.requests_per_second == pytest.approx(r.requests_per_second, abs=0.005)
    assert back.time_per_request_ms == pytest.approx(r.time_per_request_ms, abs=0.0005)
    assert back.time_taken_s == pytest.approx(r.time_taken_s, abs=0.0005)
    assert (back.keepalive_requests is not None) == scenario.keepalive
    banner = "(be patient)\n" if scenario.requests > 150 else "(be patient).....done\n"
    assert banner in text
