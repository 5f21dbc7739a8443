"""Server memory on the real servers: coarse physics, and the model within a factor of two.

Memory is not disturbed by CPU load the way throughput is, but other programs and Python's
allocator still move it by a few per cent; these tests check what holds on any machine: more
workers take more memory, more held connections take more memory, and the prediction is within
a factor of two of the measurement.
"""

from __future__ import annotations

import pytest

from asim.lab.memory import PeakSampler, group_memory, measure_memory
from asim.lab.procs import ServerSpec, running_server
from asim.sim.memory import server_memory_mb
from asim.sim.spec import Scenario

pytestmark = pytest.mark.live


def _predicted(server: str, workers: int, c: int) -> float:
    return server_memory_mb(Scenario(server=server, workers=workers, sleep_s=0.5,
                                     concurrency=max(c, 1), requests=max(c, 1), cores=2))


def test_more_workers_take_more_memory_and_the_model_is_within_a_factor_two():
    one = measure_memory("django", workers=1, sleep_s=0.0)
    three = measure_memory("django", workers=3, sleep_s=0.0)
    per_worker = (three.idle_mb - one.idle_mb) / 2
    assert per_worker > 5  # a Django process is tens of MiB
    for run in (one, three):
        predicted = _predicted("django", run.workers, 1)
        assert predicted / 2 < run.idle_mb < predicted * 2
    # RSS counts the pages workers share with their master once per process: never less
    assert three.idle_rss_mb > three.idle_mb


def test_held_connections_take_memory_in_the_event_loop():
    run = measure_memory("aiohttp", concurrency=500, sleep_s=1.0)
    assert run.peak_mb > run.idle_mb + 1  # 500 connections hold MiB, not KiB
    predicted = _predicted("aiohttp", 1, 500)
    assert predicted / 2 < run.peak_mb < predicted * 2


def test_the_sampler_follows_the_group_and_keeps_its_peak():
    with running_server(ServerSpec(kind="django", sleep_s=0.0, workers=2)) as srv:
        reading = group_memory(srv.pids())
        assert reading.processes == 3 and reading.threads >= 3
        with PeakSampler(srv.pids, every_s=0.01) as sampler:
            pass
        assert sampler.samples >= 2
        assert sampler.peak is not None and sampler.peak.processes == 3
