"""The shapes beyond the lab in the model: what each serialises and what it overlaps, with
costs at zero or one CPU figure set, so the expected numbers follow from the shape alone."""

from __future__ import annotations

from dataclasses import replace

import pytest
import simpy

from asim.sim import threads
from asim.sim.costs import DJANGO_ASGI_LOOP_SHARES, DJANGO_ASGI_ROUND_TRIPS, Costs
from asim.sim.eventloop import LoopApp
from asim.sim.machine import Cpu, Thread
from asim.sim.model import simulate
from asim.sim.spec import Scenario
from asim.sim.threads import Gil

ZERO = Costs(**{f: 0.0 for f in Costs.__dataclass_fields__ if f != "source"})
S = 0.1


def rps(costs: Costs = ZERO, **scenario) -> float:
    return simulate(Scenario(**scenario), costs=costs).report.requests_per_second


def test_the_gil_runs_one_thread_of_a_process_at_a_time_on_many_cores():
    # Two threads of one process with 1 ms of Python each on two cores: one after the other;
    # threads of two processes: side by side.
    env = simpy.Environment()
    cpu = Cpu(env, 2)
    gil = Gil(env, cpu, handoff_s=0.0, off_lock=0.0)
    done: list[float] = []
    for i in range(2):
        gil.run(Thread(f"t{i}"), 1e-3, lambda: done.append(env.now))
    env.run()
    assert done == pytest.approx([1e-3, 2e-3])
    env = simpy.Environment()
    cpu = Cpu(env, 2)
    done = []
    for i in range(2):
        Gil(env, cpu, handoff_s=0.0, off_lock=0.0).run(Thread(f"t{i}"), 1e-3,
                                                       lambda: done.append(env.now))
    env.run()
    assert done == pytest.approx([1e-3, 1e-3])


def test_the_part_of_a_burst_in_the_kernel_runs_beside_the_next_holder():
    # 10 % of each 1 ms burst runs without the lock, after it: the second thread takes the lock
    # at 0.9 ms, while the first finishes its kernel part on the other core.
    env = simpy.Environment()
    gil = Gil(env, Cpu(env, 2), handoff_s=0.0, off_lock=0.1)
    done: list[float] = []
    for i in range(2):
        gil.run(Thread(f"t{i}"), 1e-3, lambda: done.append(env.now))
    env.run()
    assert done == pytest.approx([1e-3, 1.9e-3])
    assert gil.busy_s == pytest.approx(1.8e-3)


def test_a_burst_that_others_wait_on_pays_for_its_blocking_calls():
    # Thread a makes 10 calls in its 1 ms burst; b waits from 0.5 ms on, so the half of a's
    # calls made while b waited cost 5 x 10 us, added to b's burst, the next one under the lock.
    env = simpy.Environment()
    gil = Gil(env, Cpu(env, 2), handoff_s=0.0, release_cpu_s=10e-6, off_lock=0.0)
    done: dict[str, float] = {}
    gil.run(Thread("a", calls_per_s=10 / 1e-3), 1e-3, lambda: done.setdefault("a", env.now))
    env.run(until=0.5e-3)
    gil.run(Thread("b", calls_per_s=10 / 1e-3), 1e-3, lambda: done.setdefault("b", env.now))
    env.run()
    assert done["a"] == pytest.approx(1e-3)
    assert done["b"] == pytest.approx(2e-3 + 5 * 10e-6)
    assert gil.released == pytest.approx(5)
    assert gil.busy_s == pytest.approx(2e-3 + 5 * 10e-6)


def test_a_burst_nobody_waits_on_pays_nothing_for_its_calls():
    env = simpy.Environment()
    gil = Gil(env, Cpu(env, 2), handoff_s=0.0, release_cpu_s=10e-6, off_lock=0.0)
    done: list[float] = []
    for _ in range(2):
        gil.run(Thread("a", calls_per_s=1e4), 1e-3, lambda: done.append(env.now))
        env.run()
    assert done == pytest.approx([1e-3, 2e-3])
    assert gil.released == 0


class Peers:
    switch_cpu_s = 10e-6


def test_a_burst_pays_a_switch_per_call_and_per_peer_waiting_while_a_core_is_free():
    # Thread a makes 10 calls in its 1 ms burst; two threads of its pool wait from 0.5 ms on:
    # the 5 calls made while they waited cost 2 x 5 x 10 us, added to b's burst, the next one;
    # c waits through all of b's: 1 x 10 x 10 us.
    env = simpy.Environment()
    gil = Gil(env, Cpu(env, 2), handoff_s=0.0, release_cpu_s=0.0, off_lock=0.0)
    pool = Peers()
    done: list[float] = []
    gil.run(Thread("a", calls_per_s=1e4, peers=pool), 1e-3, lambda: done.append(env.now))
    env.run(until=0.5e-3)
    for name in "bc":
        gil.run(Thread(name, calls_per_s=1e4, peers=pool), 1e-3, lambda: done.append(env.now))
    env.run()
    assert gil.switched == pytest.approx(20)
    assert done == pytest.approx([1e-3, 2.1e-3, 3.2e-3])


def test_no_switch_is_paid_when_no_core_is_free_for_the_waiter_or_the_waiter_is_no_peer():
    # The same with the second core busy all along (another process), then with a waiter of
    # another kind (gthread's main thread): the calls cost no switch.
    env = simpy.Environment()
    cpu = Cpu(env, 2)
    cpu.run(Thread("other process"), 10e-3, lambda: None)
    gil = Gil(env, cpu, handoff_s=0.0, release_cpu_s=0.0, off_lock=0.0)
    pool = Peers()
    gil.run(Thread("a", calls_per_s=1e4, peers=pool), 1e-3, lambda: None)
    env.run(until=0.5e-3)
    gil.run(Thread("b", calls_per_s=1e4, peers=pool), 1e-3, lambda: None)
    env.run()
    assert gil.switched == 0
    env = simpy.Environment()
    gil = Gil(env, Cpu(env, 2), handoff_s=0.0, release_cpu_s=0.0, off_lock=0.0)
    gil.run(Thread("a", calls_per_s=1e4, peers=pool), 1e-3, lambda: None)
    env.run(until=0.5e-3)
    gil.run(Thread("main", calls_per_s=1e4), 1e-3, lambda: None)
    env.run()
    assert gil.switched == 0


def test_gthread_pays_for_its_pool_threads_switches_from_the_second_thread_on(monkeypatch):
    # Sleep 0, C = 20, one worker: with one thread no pool thread waits for another, with two or
    # more each of a pool thread's calls may hand the lock to a waiting peer (docs/notes/
    # measurements.md section 54: 0.82 and 0.74 of one thread's RPS with two and four).
    def rps_of(threads_: int, switch_cpu_s: float) -> float:
        with monkeypatch.context() as patch:
            patch.setattr(threads, "VIEW_SWITCH_CPU_S", switch_cpu_s)
            return simulate(Scenario(server="django-gthread", sleep_s=0.0, concurrency=20,
                                     requests=2000, threads=threads_)).report.requests_per_second

    assert rps_of(1, threads.VIEW_SWITCH_CPU_S) == rps_of(1, 0.0)
    free = [rps_of(t, 0.0) / rps_of(1, 0.0) for t in (2, 4)]
    paid = [rps_of(t, threads.VIEW_SWITCH_CPU_S) / rps_of(1, 0.0) for t in (2, 4)]
    assert free[0] > 0.9 and free[1] > 0.9
    assert 0.75 < paid[0] < 0.9
    assert 0.6 < paid[1] < paid[0]


def test_the_executors_items_pay_no_switch(monkeypatch):
    # Its items are a few lines of Python beside the loop (section 54): the cost is a view's.
    scenario = Scenario(server="aiohttp-executor", sleep_s=0.0, concurrency=20, requests=2000)
    paid = simulate(scenario).report.requests_per_second
    with monkeypatch.context() as patch:
        patch.setattr(threads, "VIEW_SWITCH_CPU_S", 0.0)
        assert simulate(scenario).report.requests_per_second == paid


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_an_executor_serves_threads_sleeps_at_a_time(threads):
    # Each request holds a pool thread for S: C = 8 clients get T / S requests per second.
    got = rps(server="aiohttp-executor", threads=threads, sleep_s=S, concurrency=8,
              requests=8 * 20)
    assert got == pytest.approx(threads / S, rel=0.05)


def test_the_default_executor_has_min_32_cores_plus_4_threads():
    assert Scenario(server="aiohttp-executor", cores=2).threads == 6
    assert Scenario(server="aiohttp-executor", cores=64).threads == 32


@pytest.mark.parametrize("blocking_s", [0.005, 0.02])
def test_a_blocking_slice_serialises_on_the_loop_while_the_await_overlaps(blocking_s):
    # Many clients: the loop is held B per request, so the rate tends to 1 / B; the awaited
    # sleep overlaps and does not count.
    got = rps(server="aiohttp-mixed", blocking_s=blocking_s, sleep_s=S, concurrency=100,
              requests=4000)
    assert got == pytest.approx(1 / blocking_s, rel=0.05)
    # One client: B and S add up.
    one = rps(server="aiohttp-mixed", blocking_s=blocking_s, sleep_s=S, concurrency=1,
              requests=20)
    assert one == pytest.approx(1 / (S + blocking_s), rel=0.02)


@pytest.mark.parametrize("threads", [1, 4])
def test_gthread_overlaps_threads_sleeps(threads):
    got = rps(server="django-gthread", threads=threads, sleep_s=S, concurrency=20,
              requests=20 * 10)
    assert got == pytest.approx(threads / S, rel=0.05)


def test_gthread_workers_race_for_connections_and_keep_what_they_accept():
    # Every worker's main thread accepts whatever it can and queues it in its own pool, so two
    # workers of three threads serve more than one worker would and at most twice as much:
    # connections are not spread by free threads.
    one = rps(server="django-gthread", workers=1, threads=3, sleep_s=S, concurrency=20,
              requests=400)
    two = rps(server="django-gthread", workers=2, threads=3, sleep_s=S, concurrency=20,
              requests=400)
    assert one == pytest.approx(3 / S, rel=0.05)
    assert one < two <= 2 * one * 1.01


@pytest.mark.parametrize("server", ["django-asgi", "django-asgi-sync"])
def test_django_under_uvicorn_overlaps_every_sleep_until_its_cpu_saturates(server):
    # Every request has a thread of its own (sync view) or a timer (async view): nothing bounds
    # the overlap but the loop's CPU, one core's worth per uvicorn worker.
    assert rps(server=server, sleep_s=S, concurrency=40, requests=4000) == pytest.approx(
        40 / S, rel=0.05
    )
    cpu = Costs(**{**ZERO.to_dict(), "asgi_framework_cpu_s": 2e-3})
    one = rps(cpu, server=server, sleep_s=S, concurrency=200, requests=4000)
    two = rps(cpu, server=server, workers=2, sleep_s=S, concurrency=200, requests=4000)
    assert one == pytest.approx(1 / 2e-3, rel=0.05)  # one loop: 2 ms of CPU a request
    # Two loops on two cores: each accepts every connection queued when it wakes, so they
    # share the load unevenly, more than one loop's worth and at most two.
    assert 1.5 * one < two <= 2 * one * 1.01


def test_the_gil_bounds_a_process_whose_threads_need_cpu(monkeypatch):
    # gthread with 4 threads per worker and 1 ms of view CPU: one worker is held to 1000 RPS
    # by a plain GIL (no releases, switches or kernel part) whatever the threads; two workers
    # on two cores double it.
    for name in ("GIL_RELEASE_CPU_S", "VIEW_SWITCH_CPU_S", "GIL_OFF_LOCK"):
        monkeypatch.setattr(threads, name, 0.0)
    cpu = Costs(**{**ZERO.to_dict(), "worker_request_cpu_s": 1e-3})
    one = rps(cpu, server="django-gthread", workers=1, threads=4, sleep_s=0.0, concurrency=8,
              requests=2000)
    two = rps(cpu, server="django-gthread", workers=2, threads=4, sleep_s=0.0, concurrency=8,
              requests=2000)
    assert one == pytest.approx(1000, rel=0.05)
    assert two == pytest.approx(2000, rel=0.05)


@pytest.mark.parametrize(("server", "kept"), [("aiohttp", True), ("django-asgi", False),
                                             ("django-asgi-sync", False)])
def test_ab_k_keeps_connections_under_aiohttp_but_not_under_uvicorn(server, kept):
    # ab -k sends HTTP/1.0 with "Connection: Keep-Alive": aiohttp keeps such a connection,
    # uvicorn's h11 closes it (the real ab prints "Keep-Alive requests: 0" against uvicorn).
    run = simulate(Scenario(server=server, sleep_s=0.0, concurrency=5, requests=100,
                            keepalive=True))
    assert (run.report.keepalive_requests == 100) is kept
    assert (run.report.keepalive_requests == 0) is not kept


@pytest.mark.parametrize("server", ["django-asgi", "django-asgi-sync"])
def test_djangos_round_trips_cost_their_threads_cpu_and_no_wake_up(server):
    # Fifteen sync_to_async round trips, each one burst of the request's thread with no
    # wake-up on either side: at C = 1 they lengthen the cycle by fifteen bursts, whatever the
    # wake-up costs (the sync view's own trip has its wake-ups in both runs).
    base = Costs(**{**ZERO.to_dict(), "wakeup_s": 30e-6})
    trips = replace(base, asgi_thread_cpu_s=100e-6)

    def cycle_s(costs: Costs) -> float:
        return 1 / rps(costs, server=server, sleep_s=0.0, concurrency=1, requests=200)

    assert cycle_s(trips) - cycle_s(base) == pytest.approx(
        DJANGO_ASGI_ROUND_TRIPS * 100e-6, rel=0.01)


def test_djangos_loop_cpu_is_split_around_its_trips_and_adds_up():
    # Django's 10 ms on the loop, split by the traced shares: at C = 1 every piece waits for
    # the one before, so the cycle is the whole 10 ms.
    assert DJANGO_ASGI_LOOP_SHARES == (0.15, 0.67, 0.18)
    cpu = Costs(**{**ZERO.to_dict(), "asgi_framework_cpu_s": 10e-3})
    report = simulate(Scenario(server="django-asgi", sleep_s=0.0, concurrency=1, requests=50),
                      costs=cpu).report
    assert report.time_per_request_ms == pytest.approx(10.0, rel=0.01)


@pytest.mark.parametrize(("fields", "message"), [
    ({"framework_shares": (0.5, 0.6, 0.0)}, "adding up to 1"),
    ({"framework_shares": (0.5, 0.5, 0.0)}, "trips a share"),
    ({"framework_shares": (0.5, 0.0, 0.5), "trips_before": 1}, "trips_after is 0"),
])
def test_a_loop_app_refuses_shares_it_cannot_place(fields, message):
    with pytest.raises(ValueError, match=message):
        LoopApp(**fields)


def test_a_call_pays_for_two_waiting_peers_at_most():
    # A release wakes one waiter: three peers waiting cost a call no more than two do.
    env = simpy.Environment()
    gil = Gil(env, Cpu(env, 4), handoff_s=0.0, release_cpu_s=0.0, off_lock=0.0)
    pool = Peers()
    gil.run(Thread("a", calls_per_s=1e4, peers=pool), 1e-3, lambda: None)
    env.run(until=0.5e-3)
    for name in "bcd":
        gil.run(Thread(name, calls_per_s=1e4, peers=pool), 1e-3, lambda: None)
    env.run(until=1.05e-3)
    assert gil.switched == pytest.approx(2 * 5)
