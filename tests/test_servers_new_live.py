"""The five server shapes beyond the seed: their commands, their options, and their coarse physics.

The spec and command tests start nothing. The live tests start the real servers on 127.0.0.1
(aiohttp, gunicorn gthread, uvicorn) and run the real ab with a few dozen requests. Their bounds
come from sleeps, which never end early, so a slow or loaded machine can only make a run
longer: lower bounds are exact physics; upper bounds, where there are any, leave a serialised
alternative far outside.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
from conftest import group_members

from asim.errors import InputError
from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server, server_command
from asim.servers import READY_MARK
from asim.sim.spec import machine_cores

AIOHTTP_EXECUTOR, AIOHTTP_MIXED = "aiohttp-executor", "aiohttp-mixed"
DJANGO_GTHREAD, DJANGO_ASGI, DJANGO_ASGI_SYNC = "django-gthread", "django-asgi", "django-asgi-sync"

NEW_KINDS = (AIOHTTP_EXECUTOR, AIOHTTP_MIXED, DJANGO_GTHREAD, DJANGO_ASGI, DJANGO_ASGI_SYNC)
PY = sys.executable

live = pytest.mark.live


# ---------------------------------------------------------------- the spec (no processes)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"kind": "aiohttp", "threads": 2}, "threads .--threads. apply to"),
        ({"kind": "django", "threads": 2}, "got 2 for django"),
        ({"kind": "django-asgi", "threads": 2}, "got 2 for django-asgi"),
        ({"kind": "aiohttp-mixed", "threads": 2}, "threads .--threads. apply to"),
        ({"kind": "aiohttp-executor", "blocking_s": 0.01}, "blocking .--blocking. applies to"),
        ({"kind": "django-gthread", "blocking_s": 0.01}, "blocking .--blocking. applies to"),
        ({"kind": "aiohttp-executor", "workers": 2}, "workers .--workers. apply to"),
        ({"kind": "aiohttp-mixed", "workers": 2}, "workers .--workers. apply to"),
        ({"kind": "aiohttp-executor", "threads": 0}, "threads must be between 1"),
        ({"kind": "django-gthread", "threads": -1}, "threads must be between 1"),
        ({"kind": "django-gthread", "threads": 2.5}, "threads must be between 1"),
        ({"kind": "aiohttp-mixed", "blocking_s": -0.001}, "blocking must be between 0 and 25"),
        ({"kind": "aiohttp-mixed", "blocking_s": 25.5}, "blocking must be between 0 and 25"),
        ({"kind": "aiohttp-mixed", "blocking_s": float("nan")}, "blocking must be between"),
        ({"kind": "django-asgi", "workers": 0}, "workers must be between"),
    ],
)
def test_an_option_a_shape_does_not_take_or_a_bad_value_is_one_line(fields, needle):
    with pytest.raises(InputError, match=needle) as info:
        ServerSpec(**{"sleep_s": 0.1, **fields})
    assert "\n" not in str(info.value)


def test_the_option_message_names_the_shapes_that_take_it():
    with pytest.raises(InputError, match=r"apply to aiohttp-executor, django-gthread only"):
        ServerSpec(kind="aiohttp", sleep_s=0.1, threads=4)


def test_the_defaults_are_the_servers_own():
    assert ServerSpec(kind=AIOHTTP_EXECUTOR, sleep_s=0).threads == min(32, machine_cores() + 4)
    assert ServerSpec(kind=AIOHTTP_EXECUTOR, sleep_s=0, threads=3).threads == 3
    assert ServerSpec(kind=DJANGO_GTHREAD, sleep_s=0).threads == 1  # gunicorn's --threads
    assert ServerSpec(kind=AIOHTTP_MIXED, sleep_s=0).blocking_s == 0.001
    assert ServerSpec(kind=DJANGO_ASGI, sleep_s=0).threads is None
    assert ServerSpec(kind=DJANGO_GTHREAD, sleep_s=0.1, workers=2, threads=4).label() == (
        "django-gthread w=2 t=4 S=0.1")
    assert ServerSpec(kind=AIOHTTP_MIXED, sleep_s=0.1).label() == "aiohttp-mixed B=0.001 S=0.1"


# ---------------------------------------------------------------- the commands


def test_the_seeds_three_commands_are_unchanged():
    assert server_command(ServerSpec(kind="aiohttp", sleep_s=0.1), 8088) == (
        [PY, "-m", "asim.servers.aio", "--sleep", "0.1", "--host", "127.0.0.1", "--port", "8088"],
        {})
    assert server_command(ServerSpec(kind="aiohttp-blocking", sleep_s=0), 8088) == (
        [PY, "-m", "asim.servers.aio", "--sleep", "0.0", "--host", "127.0.0.1", "--port", "8088",
         "--blocking"], {})
    assert server_command(ServerSpec(kind="django", sleep_s=0.1, workers=2), 8089) == (
        [PY, "-m", "gunicorn", "-c", "python:asim.servers.gunicorn_conf", "--workers", "2",
         "--bind", "127.0.0.1:8089", "asim.servers.djlab.wsgi"], {"ASIM_SLEEP_S": "0.1"})


@pytest.mark.parametrize(
    ("spec", "argv", "env"),
    [
        (ServerSpec(kind=AIOHTTP_EXECUTOR, sleep_s=0.1),  # asyncio's default pool, spelled out
         ["-m", "asim.servers.aio", "--sleep", "0.1", "--host", "127.0.0.1", "--port", "9000",
          "--executor", "--threads", str(min(32, machine_cores() + 4))], {}),
        (ServerSpec(kind=AIOHTTP_EXECUTOR, sleep_s=0.1, threads=4),
         ["-m", "asim.servers.aio", "--sleep", "0.1", "--host", "127.0.0.1", "--port", "9000",
          "--executor", "--threads", "4"], {}),
        (ServerSpec(kind=AIOHTTP_MIXED, sleep_s=0.1),
         ["-m", "asim.servers.aio", "--sleep", "0.1", "--host", "127.0.0.1", "--port", "9000",
          "--mixed", "0.001"], {}),
        (ServerSpec(kind=DJANGO_GTHREAD, sleep_s=0.1, workers=2, threads=8),
         ["-m", "gunicorn", "-c", "python:asim.servers.gunicorn_conf", "--workers", "2",
          "--bind", "127.0.0.1:9000", "--worker-class", "gthread", "--threads", "8",
          "asim.servers.djlab.wsgi"], {"ASIM_SLEEP_S": "0.1"}),
        (ServerSpec(kind=DJANGO_ASGI, sleep_s=0.1, workers=3),
         ["-m", "uvicorn", "asim.servers.djlab.asgi:application", "--host", "127.0.0.1",
          "--port", "9000", "--workers", "3", "--loop", "asyncio", "--http", "h11",
          "--no-access-log", "--log-level", "warning"],
         {"ASIM_SLEEP_S": "0.1", "ASIM_DJANGO_VIEW": "async"}),
        (ServerSpec(kind=DJANGO_ASGI_SYNC, sleep_s=0.1),
         ["-m", "uvicorn", "asim.servers.djlab.asgi:application", "--host", "127.0.0.1",
          "--port", "9000", "--workers", "1", "--loop", "asyncio", "--http", "h11",
          "--no-access-log", "--log-level", "warning"],
         {"ASIM_SLEEP_S": "0.1", "ASIM_DJANGO_VIEW": "sync"}),
    ],
)
def test_each_new_shape_runs_its_documented_command(spec, argv, env):
    assert server_command(spec, 9000) == ([PY, *argv], env)


def test_the_new_shapes_have_no_request_trace(tmp_path):
    with pytest.raises(InputError, match="trace exists for"), \
            running_server(ServerSpec(kind=DJANGO_ASGI, sleep_s=0), trace_file=tmp_path / "t"):
        pytest.fail("started a shape whose trace does not exist")


# ---------------------------------------------------------------- live servers


@live
@pytest.mark.parametrize("kind", NEW_KINDS)
def test_each_new_shape_answers_sleeps_and_is_gone_afterwards(kind, ab_path, assert_server_gone):
    sleep_s = 0.05
    with running_server(ServerSpec(kind=kind, sleep_s=sleep_s)) as server:
        assert server.alive() and server.pids()[0] == server.pid
        one = run_ab(server.url, requests=6, concurrency=1)
        four = run_ab(server.url, requests=20, concurrency=4)
        pgid, port = server.pid, server.port
    for run in (one, four):
        assert run.ok, run.problems
        assert run.text.document_length_bytes == len("Hello, Anonymous")
        assert run.report.total.min_ms >= sleep_s * 1000
    assert one.report.time_per_request_ms >= sleep_s * 1000  # C = 1: one sleep after another
    assert_server_gone(pgid, "127.0.0.1", port)


@live
@pytest.mark.parametrize("kind", [DJANGO_GTHREAD, DJANGO_ASGI])
def test_every_worker_is_ready_and_all_are_stopped(kind, ab_path, assert_server_gone, tmp_path):
    spec = ServerSpec(kind=kind, sleep_s=0.01, workers=2)
    with running_server(spec, log_dir=tmp_path) as server:
        assert server.log_path.read_text().count(READY_MARK) == 2
        # gunicorn: master + 2 workers; uvicorn: supervisor, multiprocessing's resource
        # tracker and 2 workers
        assert len(server.pids()) == (3 if kind == DJANGO_GTHREAD else 4)
        run = run_ab(server.url, requests=20, concurrency=4)
        pgid, port = server.pid, server.port
    assert run.ok, run.problems
    assert_server_gone(pgid, "127.0.0.1", port)


@live
def test_a_pool_of_two_threads_serves_four_sleeps_in_two_rounds(ab_path):
    """aiohttp-executor T=2, S=0.2, C=4: the pool, not the loop, bounds the throughput."""
    sleep_s, requests = 0.2, 8
    with running_server(ServerSpec(kind=AIOHTTP_EXECUTOR, sleep_s=sleep_s, threads=2)) as s:
        small = run_ab(s.url, requests=requests, concurrency=4).checked()
    with running_server(ServerSpec(kind=AIOHTTP_EXECUTOR, sleep_s=sleep_s)) as s:
        default = run_ab(s.url, requests=requests, concurrency=4).checked()
    # 8 sleeps on 2 threads: 4 rounds; each batch of 4 takes at least 2 sleeps
    assert small.time_taken_s >= requests / 2 * sleep_s
    assert small.time_per_request_ms >= 2 * sleep_s * 1000
    # the default pool (min(32, cores + 4) >= 5 threads) runs all 4 at once: 2 rounds
    assert default.time_taken_s < requests / 2 * sleep_s * 0.85


@live
def test_the_blocking_slices_of_aiohttp_mixed_run_one_after_another(ab_path):
    """B = 20 ms blocks the loop: 40 requests need >= 0.8 s however many wait at once."""
    sleep_s, blocking_s, requests = 0.1, 0.02, 40
    spec = ServerSpec(kind=AIOHTTP_MIXED, sleep_s=sleep_s, blocking_s=blocking_s)
    with running_server(spec) as server:
        report = run_ab(server.url, requests=requests, concurrency=10).checked()
    # were the slices concurrent, 4 rounds of (B + S) would take ~0.48 s
    assert report.time_taken_s >= requests * blocking_s
    assert report.requests_per_second <= 1 / blocking_s
    assert report.total.min_ms >= (sleep_s + blocking_s) * 1000


@live
def test_gthread_threads_overlap_the_sleeps(ab_path):
    """django-gthread W=1 T=4 at C=4, S=0.2: four views sleep at once in one worker."""
    sleep_s, requests = 0.2, 16
    spec = ServerSpec(kind=DJANGO_GTHREAD, sleep_s=sleep_s, threads=4)
    with running_server(spec) as server:
        report = run_ab(server.url, requests=requests, concurrency=4).checked()
    assert report.time_taken_s >= requests / 4 * sleep_s  # 4 threads: 4 rounds at least
    assert report.requests_per_second > 2 / sleep_s  # one thread would give 1 / S = 5 RPS


def _thread_census(pid: int, stop: threading.Event, out: dict[str, object]) -> None:
    before = set(os.listdir(f"/proc/{pid}/task"))
    seen, peak_new = set(before), 0
    while not stop.is_set():
        now = set(os.listdir(f"/proc/{pid}/task"))
        seen |= now
        peak_new = max(peak_new, len(now - before))  # threads made since, alive at once
        time.sleep(0.002)
    out.update(before=len(before), peak_new=peak_new, new=len(seen - before))


@live
@pytest.mark.parametrize("kind", [DJANGO_ASGI_SYNC, DJANGO_ASGI])
def test_django_under_uvicorn_runs_each_request_in_a_new_thread(kind, ab_path):
    """What Django 5.2 + asgiref do: every request enters its own ThreadSensitiveContext, whose
    executor is a new one-thread pool, so the seed's sync view (``sync_to_async``,
    thread_sensitive=True) gets a thread of its own per request rather than one shared thread,
    and the sleeps overlap. The async view needs no thread for its sleep, but Django still hops
    into a new per-request thread for its sync signal receivers and ``response.close()``."""
    sleep_s, requests = 0.2, 16
    with running_server(ServerSpec(kind=kind, sleep_s=sleep_s)) as server:
        run_ab(server.url, requests=4, concurrency=4).checked()
        stop, census = threading.Event(), {}
        watcher = threading.Thread(target=_thread_census, args=(server.pid, stop, census))
        watcher.start()
        try:
            report = run_ab(server.url, requests=requests, concurrency=4).checked()
        finally:
            stop.set()
            watcher.join()
        time.sleep(0.3)
        after = len(os.listdir(f"/proc/{server.pid}/task"))
        assert group_members(server.pid) == [server.pid]  # one uvicorn process
    assert report.requests_per_second > 2 / sleep_s  # one shared thread would give 1 / S
    assert census["new"] >= requests  # at least one new thread per request
    if kind == DJANGO_ASGI_SYNC:
        # Four views sleep in four new threads at once (counted apart from the warm-up's
        # threads, which may still be ending when the census begins).
        assert census["peak_new"] >= 4
    # ... and they end with their requests (the warm-up's may still have been ending when the
    # census began, so the count afterwards is at most the count before)
    assert after <= census["before"]
