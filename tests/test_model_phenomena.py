"""Each phenomenon the model follows, shown in the model (docs/notes/measurements.md has how each
was seen in the real system)."""

import pytest
import simpy

from asim.sim.costs import Costs
from asim.sim.machine import Cpu, Thread, call_later
from asim.sim.model import simulate
from asim.sim.spec import Scenario

ZERO = Costs(**{f: 0.0 for f in Costs.__dataclass_fields__ if f != "source"})


def test_bursts_run_to_completion_and_wait_their_turn_for_a_core():
    # Three threads wake together on two cores with 1 ms of CPU each: two run at once and finish
    # at 1 ms, the third waits and finishes at 2 ms (not all three at 1.5 ms). A burst that had
    # to wait pays the switching loss on its CPU.
    env = simpy.Environment()
    cpu = Cpu(env, 2)
    done: list[float] = []
    for i in range(3):
        cpu.run(Thread(f"t{i}"), 1e-3, lambda: done.append(env.now))
    env.run()
    assert done == pytest.approx([1e-3, 1e-3, 2e-3])
    env = simpy.Environment()
    cpu = Cpu(env, 1, switch_loss=0.5)
    done = []
    for i in range(2):
        cpu.run(Thread(f"t{i}"), 1e-3, lambda: done.append(env.now))
    env.run()
    assert done == pytest.approx([1e-3, 3e-3])


def test_a_queued_burst_pays_no_cold_penalty_on_one_core():
    # The cold penalty is for a thread whose burst starts after the whole machine idled. On one
    # core, a burst that waited in the run queue starts the instant another ends: the core has
    # not idled, however long ago it last did, so it runs for its own CPU only.
    env = simpy.Environment()
    cpu = Cpu(env, 1)
    done: list[float] = []
    a, b = Thread("a"), Thread("b", cold_s=1e-3, tau_s=1e-3)
    cpu.run(b, 1e-3, lambda: None)  # b has run once, so it has an idle gap from now on
    env.run()
    call_later(env, 0.05, lambda: (cpu.run(a, 1e-3, lambda: done.append(env.now)),
                                   cpu.run(b, 1e-3, lambda: done.append(env.now))))
    env.run()
    # a starts on an idle machine (a has no cold cost); b waits and starts at a's end.
    assert done == pytest.approx([0.052, 0.053])


def test_k_cores_serve_k_times_the_cpu_bound_throughput():
    # Four gunicorn workers doing 1 ms of CPU each per request, no sleep: on one core they take
    # turns (throughput = 1 / 1 ms), on four cores each has its own (4 / 1 ms).
    costs = Costs(**{**ZERO.to_dict(), "worker_request_cpu_s": 1e-3})
    rps = {
        k: simulate(
            Scenario(
                server="django", workers=4, sleep_s=0.0, concurrency=8, requests=4000, cores=k
            ),
            costs=costs,
        ).report.requests_per_second
        for k in (1, 2, 4)
    }
    assert rps[1] == pytest.approx(1000, rel=0.02)
    assert rps[2] == pytest.approx(2000, rel=0.02)
    assert rps[4] == pytest.approx(4000, rel=0.02)


def test_ab_competes_with_the_server_for_cores():
    # ab's own CPU on a single core slows the server down; with a second core it does not.
    costs = Costs(**{**ZERO.to_dict(), "worker_request_cpu_s": 1e-3, "ab_connect_cpu_s": 1e-3})
    sc = dict(server="django", workers=2, sleep_s=0.0, concurrency=4, requests=2000)
    one = simulate(Scenario(**sc, cores=1), costs=costs).report.requests_per_second
    three = simulate(Scenario(**sc, cores=3), costs=costs).report.requests_per_second
    assert one == pytest.approx(500, rel=0.03)  # 2 ms of CPU per request on one core
    assert three == pytest.approx(1000, rel=0.03)  # ab's 1 ms per request is the bottleneck


@pytest.mark.parametrize("cores", [2, 8])
def test_one_event_loop_never_uses_more_than_one_core(cores):
    # However many cores, one event loop thread caps throughput at 1 / (loop CPU per request).
    sc = Scenario(server="aiohttp", sleep_s=0.0, concurrency=200, requests=20_000, cores=cores)
    run = simulate(sc, keep_records=False)
    c = Costs()
    per_request_floor_s = (
        c.loop_accept_cpu_s + c.loop_request_cpu_s + c.loop_response_cpu_s + c.loop_close_cpu_s
        + 8 * c.loop_callback_cpu_s
    )
    assert run.report.requests_per_second <= 1 / per_request_floor_s


def test_asyncio_sleep_overshoot_follows_epoll_millisecond_rounding():
    # A timer 100.3 ms away is waited for with a 101 ms epoll timeout (rounded up), so one
    # request at C = 1 takes 101 ms plus the timer's lateness; a whole-ms sleep does not round.
    costs = Costs(**{**ZERO.to_dict(), "timer_overshoot_s": 50e-6})
    one = dict(server="aiohttp", concurrency=1, requests=1)
    odd = simulate(Scenario(sleep_s=0.1003, **one), costs=costs)
    whole = simulate(Scenario(sleep_s=0.1, **one), costs=costs)
    assert odd.report.time_taken_s == pytest.approx(0.101 + 50e-6, abs=1e-9)
    assert whole.report.time_taken_s == pytest.approx(0.100 + 50e-6, abs=1e-9)


def test_time_sleep_overshoot_adds_to_every_blocking_request():
    costs = Costs(**{**ZERO.to_dict(), "time_sleep_overshoot_s": 200e-6})
    run = simulate(Scenario(server="django", sleep_s=0.05, concurrency=1, requests=10), costs=costs)
    assert run.report.time_taken_s == pytest.approx(10 * 0.0502, rel=1e-9)


def test_gunicorn_worker_stays_busy_until_ab_closes():
    # Graceful close: the worker accepts the next connection only after ab has closed the last
    # one (ab's close costs 300 us here, so the next accept is that much later).
    costs = Costs(**{**ZERO.to_dict(), "ab_close_cpu_s": 300e-6})
    run = simulate(Scenario(server="django", sleep_s=0.01, concurrency=2, requests=4), costs=costs)
    recs = sorted(run.records, key=lambda r: r.accepted)
    for prev, nxt in zip(recs, recs[1:], strict=False):
        assert nxt.accepted >= prev.fin_sent + 300e-6 - 1e-12


def test_every_idle_worker_wakes_and_the_worker_that_finished_last_keeps_serving():
    # At C = 1 ab's next connect arrives while the worker that served the last request is still
    # closing: the idle workers are all woken from select() (the thundering herd) but the
    # finishing worker calls accept() at once and wins, as in the server traces.
    n, workers = 200, 4
    run = simulate(
        Scenario(server="django", workers=workers, sleep_s=0.0, concurrency=1, requests=n)
    )
    served = sorted(
        sum(1 for r in run.records if r.worker == w) for w in {r.worker for r in run.records}
    )
    assert served[-1] >= 0.9 * n
    assert run.worker_wakes / n == pytest.approx(workers - 1, abs=0.1)
    # Each wake costs CPU: more idle workers, slower requests.
    one = simulate(Scenario(server="django", sleep_s=0.0, concurrency=1, requests=n))
    assert one.worker_wakes / n < 0.1
    assert run.report.time_taken_s > one.report.time_taken_s


def test_the_cold_penalty_counts_only_time_the_whole_machine_idled():
    # A thread back after 50 ms off the CPU pays its cold penalty when every core idled
    # meanwhile, and none when another thread was running on the machine as it started.
    def finish_of_cold_burst(with_neighbour: bool) -> float:
        env = simpy.Environment()
        cpu = Cpu(env, 2)
        cold = Thread("worker", cold_s=1e-3, tau_s=1e-3)
        done: list[float] = []
        cpu.run(cold, 1e-4, lambda: None)  # ran once, then sleeps
        if with_neighbour:
            call_later(env, 0.01, cpu.run, Thread("busy"), 0.1, lambda: None)
        call_later(env, 0.05, cpu.run, cold, 1e-4, lambda: done.append(env.now))
        env.run()
        return done[0] - 0.05

    assert finish_of_cold_burst(with_neighbour=False) == pytest.approx(1e-4 + 1e-3, rel=1e-3)
    assert finish_of_cold_burst(with_neighbour=True) == pytest.approx(1e-4)


def test_cold_threads_pay_extra_cpu_after_long_gaps():
    # The same requests cost more when the processes idle between them.
    c = Costs()
    hot = simulate(Scenario(server="django", sleep_s=0.0, concurrency=1, requests=200))
    cold = simulate(Scenario(server="django", sleep_s=0.05, concurrency=1, requests=20))
    hot_overhead = hot.report.time_taken_s / 200
    cold_overhead = cold.report.time_taken_s / 20 - 0.05 - c.time_sleep_overshoot_s
    assert cold_overhead > hot_overhead + 0.5 * c.worker_cold_cpu_s


def test_gunicorn_timeout_kills_the_worker_with_a_500_and_forks_a_new_one():
    # A 40 s view under gunicorn's 30 s timeout, with ab told to wait 60 s: the arbiter kills
    # the worker at its first check after 30 s, the client gets a 500, and the next request
    # waits for a fresh worker to boot.
    c = Costs()
    sc = Scenario(server="django", sleep_s=40, concurrency=1, requests=2, ab_timeout_s=60)
    run = simulate(sc, costs=c)
    first, second = sorted(run.records, key=lambda r: r.start)
    assert 31.0 <= first.done < 31.1
    assert run.report.non_2xx_responses == 2
    assert second.accepted >= first.done + c.worker_boot_s
    # With ab's default -s 30 ab gives up first: nothing arrives for 30 s.
    from asim.errors import PredictedAbortError

    with pytest.raises(PredictedAbortError):
        simulate(Scenario(server="django", sleep_s=40, concurrency=1, requests=2))


def test_ab_counts_500s_as_non_2xx_and_length_changes_as_failures():
    # Sleeps of 28 s +- 17 % under a 30 s timeout: some views outlive the arbiter's check.
    # ab counts every non-2xx, and every body whose length differs from the first response's.
    from asim.sim.model import Jitter

    sc = Scenario(server="django", sleep_s=28, concurrency=2, requests=12, ab_timeout_s=120)
    run = simulate(sc, jitter=Jitter(kind="uniform", cv=0.1), seed=3)
    statuses = [r.status_ok for r in sorted(run.records, key=lambda r: r.done)]
    assert 0 < statuses.count(False) < len(statuses)  # the seed gives a mix
    assert run.report.non_2xx_responses == statuses.count(False)
    assert run.report.failed_requests == sum(1 for s in statuses[1:] if s != statuses[0])


@pytest.mark.parametrize("c", [1, 5, 20])
def test_keepalive_reuses_connections_and_no_request_waits_for_another(c):
    # With -k aiohttp keeps the socket; ab writes the next request as soon as it has read the
    # body, sometimes before start() has looped: that request must not wait for a later one.
    run = simulate(
        Scenario(server="aiohttp", sleep_s=0.02, concurrency=c, requests=200, keepalive=True)
    )
    rep = run.report
    assert rep.keepalive_requests == 200
    assert rep.connect.max_ms == 0
    assert rep.total.max_ms < 2 * 20
    assert len({r.slot for r in run.records}) == c


def test_gunicorn_ignores_keepalive():
    run = simulate(
        Scenario(server="django", sleep_s=0.01, concurrency=2, requests=20, keepalive=True)
    )
    assert run.report.keepalive_requests == 0
