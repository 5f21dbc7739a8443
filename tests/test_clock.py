"""`Clock` runs delayed calls in SimPy's own order, event by event, with the same event ids."""

from __future__ import annotations

import gc
import random

import pytest
import simpy

from asim.sim.machine import Clock, Cpu, Thread, call_later


def _trace(env: simpy.Environment, seed: int) -> list[tuple[float, str]]:
    """Fire a random cascade of delayed calls and SimPy timeouts, with ties in time, and
    return what fired when (and the next event id, which counts the events scheduled)."""
    rng = random.Random(seed)
    fired: list[tuple[float, str]] = []
    finished = env.event()

    def fire(name: str, depth: int) -> None:
        fired.append((env.now, name))
        if depth >= 6:
            return
        for k in range(rng.randint(0, 3)):
            delay = rng.choice((0.0, 0.5, 1.0, rng.random()))  # many exact ties
            if rng.random() < 0.25:
                timeout = env.timeout(delay)
                timeout.callbacks.append(lambda _e, n=f"{name}.t{k}": fired.append((env.now, n)))
            else:
                call_later(env, delay, fire, f"{name}.{k}", depth + 1)

    for i in range(5):
        call_later(env, rng.random(), fire, str(i), 0)
    call_later(env, 4.0, finished.succeed)
    env.run(until=finished)
    fired.append((env.now, f"next id {next(env._eid)}"))
    return fired


@pytest.mark.parametrize("seed", range(20))
def test_clock_fires_what_simpy_fires_in_the_same_order(seed: int) -> None:
    assert _trace(Clock(), seed) == _trace(simpy.Environment(), seed)


def test_cpu_bursts_on_a_clock_end_as_on_simpy() -> None:
    def bursts(env: simpy.Environment) -> list[tuple[str, float]]:
        cpu = Cpu(env, 2, switch_loss=0.1)
        threads = [Thread(f"t{i}", cold_s=1e-3, tau_s=0.01) for i in range(5)]
        ends: list[tuple[str, float]] = []

        def again(thread: Thread, left: int) -> None:
            ends.append((thread.name, env.now))
            if left:
                call_later(env, 0.002 * (left % 3), cpu.run, thread, 0.001 * left, again,
                           thread, left - 1)

        for i, thread in enumerate(threads):
            cpu.run(thread, 0.0005 * (i + 1), again, thread, 6)
        env.run()
        return ends

    assert bursts(Clock()) == bursts(simpy.Environment())


def test_a_skip_ahead_moves_the_waiting_entries_and_the_slot() -> None:
    env = Clock()
    fired: list[float] = []
    call_later(env, 1.0, lambda: fired.append(env.now))  # waits in the slot
    call_later(env, 2.0, lambda: fired.append(env.now))  # on the heap
    assert env.newest_event_id() == 1
    env.shift(10.0)
    assert env.now == 10.0 and env.peek() == 11.0
    env.run()
    assert fired == [11.0, 12.0]


def test_the_run_restores_the_garbage_collector() -> None:
    env = Clock()
    finished = env.event()
    seen: list[bool] = []
    call_later(env, 1.0, lambda: (seen.append(gc.isenabled()), finished.succeed()))
    assert gc.isenabled()
    env.run(until=finished)
    assert seen == [False] and gc.isenabled()


def test_a_run_that_runs_dry_fails_as_simpy_does() -> None:
    env = Clock()
    call_later(env, 1.0, lambda: None)
    with pytest.raises(RuntimeError, match='"until" event was not triggered'):
        env.run(until=env.event())
    assert gc.isenabled()
