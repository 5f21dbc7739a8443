"""The text ab would print, written by `asim.explore.abprint`: checked against real ab outputs
(tests/fixtures/ab, the committed `asim validate` runs in figures/, and - marked live - each of
the lab's servers asked once) and against the model's own reports, read back with asim's ab
parser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from asim.explore.abprint import BODY_BYTES, LAB_SERVERS, Wire, ab_text, lab_wire
from asim.grid import predict
from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server
from asim.sim.abreport import TimesRow
from asim.sim.abtext import parse_ab_text
from asim.sim.shapes import NAMES
from asim.sim.spec import Scenario
from asim.validate.store import ResultsDir
from tests.conftest import AB_FIXTURES

FIXTURES = sorted(p.stem for p in AB_FIXTURES.glob("*.txt") if p.stem != "refused")
REPO = Path(__file__).resolve().parent.parent
# `asim validate` folders with their raw ab texts committed: the seed's shapes and the new ones
RESULTS = (REPO / "figures", REPO / "figures" / "shapes")


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


def _assert_wire(text: str, scenario: Scenario) -> None:
    """ab's header block and byte counts in ``text`` are what `lab_wire` says for it."""
    parsed = parse_ab_text(text)
    wire = lab_wire(scenario)
    done = parsed.report.complete_requests
    assert parsed.server_software == wire.software, scenario.label()
    assert parsed.document_length_bytes == wire.document_length_bytes == BODY_BYTES
    assert parsed.total_transferred_bytes == done * wire.response_bytes, scenario.label()
    assert parsed.html_transferred_bytes == done * BODY_BYTES


def _committed_runs() -> list[tuple[str, Scenario]]:
    """Every committed real ab text of the lab's handler with the scenario it ran."""
    runs = []
    manifest = json.loads((AB_FIXTURES / "manifest.json").read_text())
    for name in FIXTURES:
        entry = manifest[name]
        if entry["path"] or not entry["report"]:
            continue  # a 404 page, not the lab's handler
        runs.append(((AB_FIXTURES / f"{name}.txt").read_text(), Scenario(
            server=entry["server"], workers=entry["workers"], sleep_s=entry["sleep_s"],
            concurrency=entry["concurrency"], requests=entry["requests"],
            keepalive=entry["keepalive"])))
    for folder in RESULTS:
        store = ResultsDir.open(folder)
        for record in store.records():
            if record.observed is not None:
                runs.append(((folder / record.raw_path).read_text(), record.point.scenario()))
    return runs


def test_the_lab_wire_matches_every_committed_real_run():
    runs = _committed_runs()
    assert {s.server for _, s in runs} == set(NAMES)  # every shape was measured at least once
    assert {(s.server, s.keepalive) for _, s in runs} >= {
        ("aiohttp", True), ("aiohttp-executor", True), ("django-gthread", True)}
    for text, scenario in runs:
        _assert_wire(text, scenario)


def test_every_shape_has_a_lab_wire():
    assert set(LAB_SERVERS) == set(NAMES)


@pytest.mark.live
@pytest.mark.skipif(shutil.which("ab") is None, reason="needs ApacheBench (apt install "
                    "apache2-utils)")
@pytest.mark.parametrize("name", NAMES)
def test_the_lab_wire_is_what_each_real_server_sends(name):
    """Each of the lab's servers, started for real, sends what `lab_wire` says, with and
    without -k (uvicorn's answer to ab -k is the one no committed run shows)."""
    with running_server(ServerSpec(kind=name, sleep_s=0.0)) as server:
        for keepalive in (False, True):
            run = run_ab(server.url, requests=3, concurrency=1, keepalive=keepalive)
            assert run.ok, run.problems
            _assert_wire(run.raw_text, Scenario(server=name, concurrency=1, requests=3,
                                                keepalive=keepalive))


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
    Scenario(server="django-gthread", workers=2, threads=8, concurrency=20, requests=200,
             sleep_s=0.05, keepalive=True, cores=2),
    Scenario(server="aiohttp-executor", threads=3, concurrency=10, requests=60, sleep_s=0.02),
    Scenario(server="aiohttp-mixed", blocking_s=0.004, concurrency=10, requests=60,
             sleep_s=0.02),
    Scenario(server="django-asgi-sync", workers=2, concurrency=10, requests=60, sleep_s=0.02),
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
    # ab prints 2 or 3 decimals: half a unit of the last one off at most (a tie included,
    # with a little room for the binary fraction).
    assert back.requests_per_second == pytest.approx(r.requests_per_second, abs=0.005 + 1e-9)
    assert back.time_per_request_ms == pytest.approx(r.time_per_request_ms, abs=0.0005 + 1e-9)
    assert back.time_taken_s == pytest.approx(r.time_taken_s, abs=0.0005 + 1e-9)
    assert (back.keepalive_requests is not None) == scenario.keepalive
    banner = "(be patient)\n" if scenario.requests > 150 else "(be patient).....done\n"
    assert banner in text
