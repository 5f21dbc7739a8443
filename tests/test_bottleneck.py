"""Where a predicted point's bottleneck is (`asim.sim.usage`): exact shares in tiny cases, the
physics of the lab's points, the skip ahead leaving them unchanged, and the theory's answer."""

from __future__ import annotations

import json

import pytest

from asim.calibration.file import resolve
from asim.grid import DES, METHODS, Prediction, predict
from asim.render import bottleneck_cell, to_csv, to_json
from asim.sim.costs import Costs
from asim.sim.model import simulate
from asim.sim.shapes import NAMES, THREADS, WORKERS, shape
from asim.sim.spec import Scenario
from asim.sim.usage import (
    ACCEPT_QUEUE,
    CORES,
    EVENT_LOOP,
    GIL,
    RESOURCES,
    THREAD_POOL,
    Meter,
    Usage,
    busiest,
    usages,
)
from asim.sim.usage import WORKERS as WORKER_POOL

ZERO = Costs(**{f: 0.0 for f in Costs.__dataclass_fields__ if f != "source"})
BUILT_IN = resolve("none").costs


def point(**scenario) -> Prediction:
    return predict(Scenario(cores=2, **scenario), costs=BUILT_IN)[0]


def share(run, resource: str) -> float:
    return {u.resource: u.utilisation for u in run.usage}[resource]


# -- exact shares of tiny runs (no CPU: every busy second is a hold) -----------------------------

def test_one_client_keeps_one_of_two_sync_workers_busy():
    # C = 1: a request holds one worker from accept to ab's close, the other never works.
    run = simulate(Scenario(server="django", workers=2, sleep_s=0.1, concurrency=1,
                            requests=10, cores=2), costs=ZERO)
    assert share(run, WORKER_POOL) == pytest.approx(0.5)


def test_a_blocking_sleep_keeps_the_loop_busy_without_cpu():
    run = simulate(Scenario(server="aiohttp-blocking", sleep_s=0.1, concurrency=2,
                            requests=10, cores=2), costs=ZERO)
    assert share(run, EVENT_LOOP) == pytest.approx(1.0)
    assert share(run, CORES) == 0.0
    assert run.bottleneck == Usage(resource=EVENT_LOOP, utilisation=pytest.approx(1.0))


def test_an_awaited_sleep_leaves_the_loop_idle():
    run = simulate(Scenario(server="aiohttp", sleep_s=0.1, concurrency=5, requests=20,
                            cores=2), costs=ZERO)
    assert share(run, EVENT_LOOP) == 0.0


def test_an_executor_of_two_threads_with_four_clients_is_always_busy():
    # Each item holds a pool thread for S; four clients keep both threads busy but for ab's
    # first request, which runs alone: 1 of 2 threads for S, then 2 of 2 for 10 S.
    run = simulate(Scenario(server="aiohttp-executor", threads=2, sleep_s=0.1, concurrency=4,
                            requests=21, cores=2), costs=ZERO)
    assert share(run, THREAD_POOL) == pytest.approx((0.5 * 1 + 10) / 11)


# -- the physics of the lab's points, built-in costs --------------------------------------------

def test_aiohttp_without_sleep_saturates_its_loop():
    p = point(server="aiohttp", sleep_s=0.0, concurrency=50, requests=1000)
    assert p.bottleneck == EVENT_LOOP
    assert p.bottleneck_utilisation > 0.95


def test_one_django_worker_behind_forty_clients_is_always_busy():
    p = point(server="django", workers=1, sleep_s=0.1, concurrency=40, requests=100)
    assert p.bottleneck == WORKER_POOL
    assert p.bottleneck_utilisation > 0.95


def test_aiohttp_with_a_long_sleep_is_mostly_idle():
    p = point(server="aiohttp", sleep_s=0.1, concurrency=40, requests=100)
    assert p.bottleneck_utilisation < 0.2


def test_djangos_asgi_path_keeps_its_process_busy_as_clients_grow():
    # The loop and the sync_to_async threads share one GIL: the process's Python is what
    # fills up (issue 12: CPU-dominated at C = 40 though the sleep is 0.1 s).
    light = point(server="django-asgi", sleep_s=0.1, concurrency=5, requests=100)
    heavy = point(server="django-asgi", sleep_s=0.1, concurrency=40, requests=100)
    assert heavy.bottleneck in (GIL, EVENT_LOOP)
    assert heavy.bottleneck_utilisation > 2 * light.bottleneck_utilisation
    steady = predict(heavy.scenario, method="mva", costs=BUILT_IN)[0]
    assert steady.bottleneck == EVENT_LOOP
    assert steady.bottleneck_utilisation > 0.9


def test_four_workers_without_sleep_on_two_cores_wait_for_the_cores():
    p = point(server="django", workers=4, sleep_s=0.0, concurrency=40, requests=2000)
    assert p.bottleneck == CORES
    assert p.bottleneck_utilisation > 0.95


def test_a_small_executor_pool_is_the_limit():
    p = point(server="aiohttp-executor", threads=2, sleep_s=0.1, concurrency=20, requests=200)
    assert p.bottleneck == THREAD_POOL
    assert p.bottleneck_utilisation > 0.9


def test_an_overflowing_burst_makes_the_accept_queue_the_limit():
    p = point(server="aiohttp", sleep_s=0.5, concurrency=300, requests=600)
    assert p.syns_dropped > 0
    assert (p.bottleneck, p.bottleneck_utilisation) == (ACCEPT_QUEUE, 1.0)


def test_a_saturated_server_is_named_before_the_queue_it_fills():
    found = usages([], [], run_s=1.0, accept_queue_peak=129, accept_queue_capacity=129)
    assert busiest(found) == Usage(resource=ACCEPT_QUEUE, utilisation=1.0)
    loop = Meter(EVENT_LOOP, 1, lambda: 0.0)
    found = usages([loop], [0.99], run_s=1.0, accept_queue_peak=129, accept_queue_capacity=129)
    assert busiest(found).resource == EVENT_LOOP


# -- the skip ahead, every shape, every method ----------------------------------------------------

@pytest.mark.parametrize("scenario", [
    dict(server="aiohttp", sleep_s=0.0, concurrency=50, requests=1000),
    dict(server="django", workers=2, sleep_s=0.02, concurrency=10, requests=3000),
    dict(server="django-gthread", workers=1, threads=4, sleep_s=0.05, concurrency=8,
         requests=3000),
    dict(server="aiohttp-executor", threads=4, sleep_s=0.02, concurrency=10, requests=3000),
    dict(server="django-asgi", sleep_s=0.02, concurrency=10, requests=3000),
], ids=lambda s: s["server"])
def test_skipping_repeated_cycles_leaves_every_share_unchanged(scenario):
    s = Scenario(cores=2, **scenario)
    skipped = simulate(s, costs=BUILT_IN, keep_records=False)
    full = simulate(s, costs=BUILT_IN, keep_records=False, fast_forward=False)
    assert skipped.skipped_requests > 0
    assert [u.resource for u in skipped.usage] == [u.resource for u in full.usage]
    for a, b in zip(skipped.usage, full.usage, strict=True):
        assert a.utilisation == pytest.approx(b.utilisation, rel=1e-6, abs=1e-9)


def _options(name: str) -> dict[str, object]:
    sh = shape(name)
    return {"workers": 2} if sh.takes(WORKERS) and not sh.takes(THREADS) else {}


@pytest.mark.parametrize("name", NAMES)
def test_every_shape_and_method_names_a_resource_and_a_share(name):
    points = predict(Scenario(server=name, sleep_s=0.01, concurrency=10, requests=200, cores=2,
                              **_options(name)), method=METHODS, costs=BUILT_IN)
    for p in points:
        assert p.bottleneck in RESOURCES
        assert 0.0 <= p.bottleneck_utilisation <= 1.0
        record = json.loads(to_json([p]))["points"][0]
        assert record["bottleneck"] == p.bottleneck
        assert record["bottleneck_utilisation"] == pytest.approx(p.bottleneck_utilisation,
                                                                 abs=1e-4)
    des = next(p for p in points if p.method == DES)
    row = to_csv([des]).splitlines()
    header, values = row[0].split(","), row[1].split(",")
    assert values[header.index("bottleneck")] == des.bottleneck


def test_the_table_cell_is_short():
    p = point(server="aiohttp", sleep_s=0.0, concurrency=50, requests=1000)
    assert bottleneck_cell(p) == "loop 100 %"
    bound = predict(p.scenario, method="bounds", costs=BUILT_IN)[0]
    assert bottleneck_cell(bound).startswith("≤ loop ")
