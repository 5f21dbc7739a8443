"""Each server shape as the closed queueing network one request travels through (think time 0).

Warm CPU queues; what a request pays only when the system is idle enough for caches to go cold
(and the loop's select() round per step) is a delay: it adds latency at light load and vanishes
under load, so it must not lower the throughput ceiling. `asim.sim.theory` solves these networks
(MVA) or bounds them; `asim.sim.shapes` names which network belongs to which shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asim.sim.costs import DJANGO_ASGI_ROUND_TRIPS, Costs
from asim.sim.mva import Network, Station, flow_equivalent_station

if TYPE_CHECKING:
    from asim.sim.spec import Scenario


def _sleep_with_overshoot_s(sleep_s: float, overshoot_s: float) -> float:
    # A zero sleep never reaches the timer, so it cannot overshoot.
    return sleep_s + overshoot_s if sleep_s > 0 else 0.0


def event_loop_network(scenario: Scenario, costs: Costs) -> Network:
    """aiohttp: the loop's CPU and ab's CPU queue, the sleep is a pure wait; with one core the
    loop and ab share it, so their CPU is one station."""
    ab = Station.queue("ab", costs.ab_cpu_s)
    wait = Station.delay(
        "wait",
        _sleep_with_overshoot_s(scenario.sleep_s, costs.asyncio_sleep_overshoot_s)
        + costs.loop_light_load_extra_s
        + costs.ab_cold_cpu_s,
    )
    if scenario.cores >= 2:
        stations = (Station.queue("loop", costs.loop_cpu_s), ab, wait)
    else:
        stations = (Station.queue("cpu", costs.loop_cpu_s + costs.ab_cpu_s), wait)
    return Network(stations=stations)


def blocking_loop_network(scenario: Scenario, costs: Costs) -> Network:
    """aiohttp with time.sleep: the sleep holds the loop, one server of sleep plus CPU."""
    hold_s = _sleep_with_overshoot_s(scenario.sleep_s, costs.time_sleep_overshoot_s)
    # After each blocking sleep the loop itself resumes cold: that is on its critical path.
    cold_s = costs.loop_cold_cpu_s if scenario.sleep_s > 0 else 0.0
    loop = Station.queue("loop", hold_s + costs.loop_cpu_s + cold_s)
    ab = Station.queue("ab", costs.ab_cpu_s)
    return Network(stations=(loop, ab, Station.delay("ab cold", costs.ab_cold_cpu_s)))


def worker_pool_network(scenario: Scenario, costs: Costs) -> Network:
    """gunicorn sync workers: W servers, each held for a whole request (`workers_station`)."""
    ab = Station.queue("ab", costs.ab_cpu_s)
    return Network(
        stations=(
            workers_station(scenario, costs),
            ab,
            Station.delay("ab cold", costs.ab_cold_cpu_s),
        )
    )


def workers_station(scenario: Scenario, costs: Costs) -> Station:
    """The gunicorn sync workers as one station holding a worker per request in service.

    A worker is held for its CPU and the sleep (and, as it waits for ab's close, ab's reaction,
    which the model folds into the CPU figures). With at
    least as many cores as workers nobody waits for a core, so the workers are W plain servers;
    with fewer, the CPU part queues for K cores inside a flow-equivalent server.
    """
    sleep_s = _sleep_with_overshoot_s(scenario.sleep_s, costs.time_sleep_overshoot_s)
    workers = scenario.workers
    if scenario.cores >= workers:
        return Station.multi_server("workers", worker_hold_s(scenario, costs), workers)
    inner = Network(
        stations=(
            Station.multi_server("cores", costs.worker_cpu_s + _worker_cold_s(scenario, costs),
                                 scenario.cores),
            Station.delay("sleep", sleep_s),
        )
    )
    return flow_equivalent_station("workers", inner, workers)


def worker_hold_s(scenario: Scenario, costs: Costs) -> float:
    """How long one request holds a gunicorn worker when no worker waits for a core."""
    sleep_s = _sleep_with_overshoot_s(scenario.sleep_s, costs.time_sleep_overshoot_s)
    return costs.worker_cpu_s + _worker_cold_s(scenario, costs) + sleep_s


def _worker_cold_s(scenario: Scenario, costs: Costs) -> float:
    # A worker wakes from every sleep of its view with cold caches, whatever the load.
    return costs.worker_cold_cpu_s if scenario.sleep_s > 0 else 0.0


def executor_network(scenario: Scenario, costs: Costs) -> Network:
    """aiohttp with run_in_executor: the process's GIL, a queue of the loop's CPU (plus the
    hand-off's two callbacks) and the pool item's Python, which share it, and ab's queue; the
    pool is T servers each held for the sleep and the item's CPU (the item's CPU counted twice,
    as its thread holds its place through it). The GIL's releases while threads wait
    (`asim.sim.threads`) are left out: they depend on how many wait."""
    ab = Station.queue("ab", costs.ab_cpu_s)
    loop = Station.queue(
        "GIL", costs.loop_cpu_s + 2 * costs.loop_callback_cpu_s + costs.loop_handoff_cpu_s
        + costs.pool_item_cpu_s
    )
    hold_s = costs.time_sleep_s(scenario.sleep_s) + costs.pool_item_cpu_s + costs.wakeup_s
    pool = Station.multi_server("pool", hold_s, scenario.threads)
    wait = Station.delay("wait", costs.loop_light_load_extra_s + costs.ab_cold_cpu_s)
    return Network(stations=(loop, pool, ab, wait))


def mixed_loop_network(scenario: Scenario, costs: Costs) -> Network:
    """aiohttp with a blocking slice: the loop is held for B and its CPU, the await is a
    pure wait."""
    ab = Station.queue("ab", costs.ab_cpu_s)
    loop = Station.queue("loop", costs.time_sleep_s(scenario.blocking_s) + costs.loop_cpu_s)
    wait = Station.delay(
        "wait",
        _sleep_with_overshoot_s(scenario.sleep_s, costs.asyncio_sleep_overshoot_s)
        + costs.loop_light_load_extra_s
        + costs.ab_cold_cpu_s,
    )
    return Network(stations=(loop, ab, wait))


def asgi_network(scenario: Scenario, costs: Costs) -> Network:
    """Django under uvicorn with an async view (`_asgi_loops`)."""
    return _asgi_loops(scenario, costs, sync_view=False)


def asgi_sync_network(scenario: Scenario, costs: Costs) -> Network:
    """Django under uvicorn with the seed's sync view (`_asgi_loops`)."""
    return _asgi_loops(scenario, costs, sync_view=True)


def _asgi_loops(scenario: Scenario, costs: Costs, *, sync_view: bool) -> Network:
    """W loops, each one server of the loop's CPU and Django's ASGI path (its threads' Python
    shares the process's GIL, so it is counted on the loop), the sleep a pure wait (an async
    view's timer, or a sync view's own thread: no bound on either). Django's round trips have
    no wake-ups (`asim.sim.eventloop.LoopApp`); the sync view's own trip has two."""
    loop_s = (costs.loop_cpu_s + costs.asgi_framework_cpu_s
              + DJANGO_ASGI_ROUND_TRIPS * (costs.asgi_thread_cpu_s + costs.loop_callback_cpu_s))
    view_wakeups = 0
    if sync_view:
        loop_s += (costs.asgi_view_thread_cpu_s + costs.loop_callback_cpu_s
                   + costs.asgi_view_handoff_cpu_s)
        view_wakeups = 2
    overshoot_s = (
        costs.time_sleep_overshoot_s if sync_view else costs.asyncio_sleep_overshoot_s
    )
    loops = Station.multi_server("loops", loop_s, scenario.workers)
    ab = Station.queue("ab", costs.ab_cpu_s)
    wait = Station.delay(
        "wait",
        _sleep_with_overshoot_s(scenario.sleep_s, overshoot_s) + view_wakeups * costs.wakeup_s
        + costs.loop_light_load_extra_s + costs.ab_cold_cpu_s,
    )
    return Network(stations=(loops, ab, wait))


def gthread_network(scenario: Scenario, costs: Costs) -> Network:
    """gunicorn gthread: W × T threads, each held for a whole request like a sync worker. A
    request's Python (its thread's and the main thread's accept) runs under its process's GIL,
    so at most one per worker and one per core at a time; the threads are a flow-equivalent
    server of that CPU and the sleep (as `workers_station` with fewer cores than workers). What
    the GIL's releases cost while other threads wait (`asim.sim.threads`) depends on how many
    wait and is left out, so the GIL's demand stays a lower bound (`--method bounds`)."""
    ab = Station.queue("ab", costs.ab_cpu_s)
    cpu_s = costs.worker_cpu_s + costs.gthread_accept_cpu_s
    sleep_s = _sleep_with_overshoot_s(scenario.sleep_s, costs.time_sleep_overshoot_s)
    inner = Network(
        stations=(
            Station.multi_server("GIL", cpu_s, min(scenario.workers, scenario.cores)),
            Station.delay("sleep", sleep_s + costs.wakeup_s),
        )
    )
    threads = flow_equivalent_station("threads", inner, scenario.workers * scenario.threads)
    # A thread back from its sleep runs cold only on an idle machine: a delay outside the
    # threads, so that it adds latency at light load without lowering their ceiling.
    cold = Station.delay("cold", costs.ab_cold_cpu_s + _worker_cold_s(scenario, costs))
    return Network(stations=(threads, ab, cold))
