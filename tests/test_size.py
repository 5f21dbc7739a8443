"""`asim size`: the search finds the smallest meeting size, agrees with `asim predict` there and
one below, says plainly when nothing meets, and survives non-monotone landscapes."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asim.calibration.file import Calibration, save
from asim.grid import predict
from asim.sim.costs import Costs
from asim.sim.spec import Scenario
from asim.size import Targets, Trial, search, size

ASIM = [sys.executable, "-m", "asim"]
BASE = Scenario(server="django", sleep_s=0.05, concurrency=40, requests=400, cores=2)


def asim(*args):
    return subprocess.run([*ASIM, *args], capture_output=True, text=True, timeout=120)


def exhaustive(base, targets, limit):
    """Every size by the simulation: which meet."""
    return {w: not targets.misses(predict(replace(base, workers=w))[0])
            for w in range(1, limit + 1)}


@pytest.mark.parametrize(("rate_rps", "p99_ms"), [(100, 2000), (300, 200), (500, 120),
                                                  (700, 60), (10, 5000)])
def test_the_answer_is_the_exhaustive_grids_smallest_meeting_size(rate_rps, p99_ms):
    targets = Targets(rate_rps=rate_rps, p99_ms=p99_ms)
    z = size(BASE, targets)
    grid = exhaustive(BASE, targets, BASE.concurrency)
    smallest = min((w for w, ok in grid.items() if ok), default=None)
    assert (z.found.workers if z.found else None) == smallest
    if z.found:
        assert z.found.meets and grid[z.found.workers]
        if z.found.workers > 1:
            assert z.below.workers == z.found.workers - 1 and not z.below.meets
            assert z.below.misses and z.bottleneck
    # A bisection, not the grid: a handful of simulations out of 40 sizes.
    assert len(z.trials) <= 12


def test_parallel_batches_find_the_same_size():
    targets = Targets(rate_rps=500, p99_ms=120)
    assert size(BASE, targets, width=3).found.workers == size(BASE, targets).found.workers


def test_no_size_up_to_the_limit_is_said_plainly_with_the_bottleneck():
    z = size(BASE, Targets(rate_rps=500, p99_ms=300), max_workers=8)
    assert not z.meets and z.found is None and z.closest.workers == 8
    assert "RPS" in " ".join(z.closest.misses)
    assert z.bottleneck.startswith("the 8 workers") or "CPU cores" in z.bottleneck
    assert any("--max-workers" in n for n in z.notes)


def test_an_event_loop_is_simulated_once_and_names_its_one_core_ceiling():
    loop = Scenario(server="aiohttp", sleep_s=0.0, concurrency=50, requests=500, cores=2)
    ok = size(loop, Targets(rate_rps=100, p99_ms=1000))
    assert ok.meets and ok.knob is None and ok.below is None and len(ok.trials) == 1
    too_much = size(loop, Targets(rate_rps=100_000, p99_ms=1000))
    assert not too_much.meets
    assert "event loop's one core" in too_much.bottleneck
    blocking = size(replace(loop, server="aiohttp-blocking", sleep_s=0.05),
                    Targets(rate_rps=100, p99_ms=1000))
    assert not blocking.meets and "blocking sleep" in blocking.bottleneck


def test_a_latency_target_is_a_throughput_target_in_a_closed_loop():
    z = size(replace(BASE, concurrency=200, requests=2000), Targets(rate_rps=100, p99_ms=250))
    # Little's law: 200 clients within 250 ms need 800 requests/s, far above the 100 asked.
    assert any("800 requests/s" in n for n in z.notes)
    assert z.found.point.requests_per_second > 200 / 0.25


def test_a_handler_slower_than_the_latency_target_cannot_be_sized():
    z = size(replace(BASE, sleep_s=0.5), Targets(rate_rps=1, p99_ms=100))
    assert not z.meets
    assert any("no configuration can keep p99 within 100 ms" in n for n in z.notes)


def fake_trials(landscape):
    """A search driver over a synthetic meets/fails landscape (sizes 1..len)."""
    trials = {}

    def run(sizes):
        for w in sizes:
            trials[w] = Trial(scenario=replace(BASE, workers=w), point=None,
                              misses=() if landscape[w - 1] else ("fails",))
    return trials, run


@settings(max_examples=200, deadline=None)
@given(landscape=st.lists(st.booleans(), min_size=1, max_size=80),
       start=st.integers(1, 80), width=st.integers(1, 4))
def test_bisection_ends_on_a_simulated_failing_neighbour_even_when_not_monotone(
        landscape, start, width):
    limit = len(landscape)
    start = min(start, limit)
    trials, run = fake_trials(landscape)
    run([w for w in (start - 1, start) if w >= 1])
    search(run, trials, limit, width)
    meeting = [w for w, t in trials.items() if t.meets]
    if meeting:
        w = min(meeting)
        assert landscape[w - 1]
        assert w == 1 or (w - 1 in trials and not landscape[w - 2])
    else:
        assert limit in trials and not landscape[limit - 1]
    if all(landscape[i] <= landscape[i + 1] for i in range(limit - 1)) and any(landscape):
        assert min(meeting) == landscape.index(True) + 1  # monotone: the true threshold


def test_size_agrees_with_predict_at_the_answer_and_one_below(tmp_path):
    # A calibration unlike the built-in costs: both commands must use it.
    cal = tmp_path / "cal.json"
    save(Calibration(costs=Costs(worker_request_cpu_s=0.0009, worker_cold_cpu_s=0.0005),
                     created="test"), cal)
    common = ["--sleep", "0.05", "-c", "120", "-n", "1200", "--cores", "2",
              "--calibration", str(cal), "--format", "json"]
    out = asim("size", "--server", "django,aiohttp", "--target-rps", "400", "--p99-ms", "300",
               *common)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert str(cal) in doc["calibration"]
    assert doc["targets"] == {"rate_rps": 400.0, "p99_ms": 300.0}
    django, aiohttp = doc["sizings"]
    w = django["found"]["workers"]
    assert django["below"]["workers"] == w - 1 and django["below"]["misses"]
    pred = asim("predict", "--server", "django", "--workers", f"{w - 1},{w}", *common)
    assert pred.returncode == 0, pred.stderr
    below, found = json.loads(pred.stdout)["points"]
    for mine, theirs in ((django["found"], found), (django["below"], below)):
        assert mine["predicted"] == {"requests_per_second": theirs["requests_per_second"],
                                     "p50_ms": theirs["percentiles_ms"]["50"],
                                     "p99_ms": theirs["percentiles_ms"]["99"],
                                     "server_memory_mb": theirs["server_memory_mb"]}
    loop = json.loads(asim("predict", "--server", "aiohttp", *common).stdout)["points"][0]
    assert aiohttp["sized"] is None and aiohttp["meets"] is True
    assert aiohttp["found"]["predicted"]["requests_per_second"] == loop["requests_per_second"]


def test_table_and_csv_say_the_answer_and_why_the_size_below_fails():
    args = ["size", "--server", "django", "--sleep", "0.05", "-c", "200", "--target-rps",
            "500", "--p99-ms", "300", "--calibration", "none", "--cores", "2"]
    table = asim(*args)
    assert table.returncode == 0, table.stderr
    assert "the fewest that meet every target" in table.stdout and "fails: p99" in table.stdout
    csv_out = asim(*args, "--format", "csv")
    header, row = csv_out.stdout.strip().split("\n")
    assert header.startswith("server,") and row.startswith("django,")
    assert "True" in row and "p99" in row


@pytest.mark.parametrize(("args", "needle"), [
    (["--target-rps", "0"], "rate_rps must be a positive"),
    (["--p99-ms", "-1"], "p99_ms must be a positive"),
    (["--server", "nginx"], "unknown server 'nginx'"),
    (["--max-workers", "0"], "--max-workers must be between"),
    (["--format", "xml"], "--format"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    base = {"--server": "django", "--target-rps": "100", "--p99-ms": "500",
            "--max-workers": "64", "--format": "table"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for kv in base.items() for x in kv]
    out = asim("size", "--sleep", "0.05", "-c", "20", "--calibration", "none", *flat)
    assert out.returncode == 2, out.stdout + out.stderr
    assert needle in out.stderr and out.stderr.count("\n") == 1


def test_help_says_what_is_sized_and_that_threads_come_later():
    out = asim("size", "--help")
    assert out.returncode == 0
    assert "workers" in out.stdout and "--threads" in out.stdout


def test_a_real_non_monotone_edge_is_found_and_reported():
    # Many workers on 2 cores: p99 falls to about 114 ms near 160 workers and rises to 147 ms
    # at 200, so MVA (steady state) sees no answer and the limit fails; the powers of two find
    # the window and the bisection its lower edge.
    base = replace(BASE, concurrency=200, requests=2000)
    z = size(base, Targets(rate_rps=500, p99_ms=125))
    assert z.mva_estimate is None and z.meets
    assert not z.below.meets and z.below.workers == z.found.workers - 1
    assert any("not monotone" in n for n in z.notes)
    assert any("powers of two" in n for n in z.notes)
    assert not [t for t in z.trials if t.workers == base.concurrency][0].meets


def test_too_few_clients_is_named_as_the_limit_not_the_server():
    # One client waiting ~100 ms per request cannot make 50 requests/s, whatever the workers.
    one = replace(BASE, sleep_s=0.1, concurrency=1, requests=10)
    z = size(one, Targets(rate_rps=50, p99_ms=200))
    assert not z.meets
    assert any("needs more clients (-c)" in n for n in z.notes)


def test_sizing_through_a_dask_cluster_gives_the_same_answer():
    distributed = pytest.importorskip("distributed")
    from asim.sweep import Job, Sweep

    targets = Targets(rate_rps=500, p99_ms=120)
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, Sweep(scheduler=client) as sweep:
        z = size(BASE, targets, evaluate=lambda batch: list(sweep.run(batch, Job())),
                 width=sweep.width)
    serial = size(BASE, targets)
    assert z.found.point == serial.found.point and z.below.point == serial.below.point
