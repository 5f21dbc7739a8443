"""The lab's Django ASGI application with the loop thread's CPU logged at each segment boundary
of a request (for tools/trace/asgi_segments.py; run at C = 1 so no other request interleaves).

Boundaries: the application called, every sync_to_async call submitted and returned, the view's
asyncio.sleep started and ended (the sleep is ASIM_SLEEP_S, told apart from other sleeps by its
length), the application returned. Each event is (the request's number, name,
time.thread_time() of the loop thread, time.perf_counter()); the list is written as JSON lines
to ASIM_SEGMENTS_OUT at exit.
"""

import asyncio
import atexit
import contextvars
import itertools
import json
import os
import threading
import time

from asgiref import sync

from asim.servers.djlab.asgi import application as django_application

OUT = os.environ["ASIM_SEGMENTS_OUT"]
SLEEP_S = float(os.environ["ASIM_SLEEP_S"])
EVENTS: list[tuple[int, str, float, float]] = []
LOOP_THREAD: list[int] = []
REQUEST: contextvars.ContextVar[int] = contextvars.ContextVar("request", default=-1)
NUMBERS = itertools.count()


def mark(name: str) -> None:
    if threading.get_ident() in LOOP_THREAD:
        EVENTS.append((REQUEST.get(), name, time.thread_time(), time.perf_counter()))


_call = sync.SyncToAsync.__call__


async def _traced_call(self, *args, **kwargs):
    mark("hop out")
    try:
        return await _call(self, *args, **kwargs)
    finally:
        mark("hop back")


sync.SyncToAsync.__call__ = _traced_call
_sleep = asyncio.sleep


async def _traced_sleep(delay, *args, **kwargs):
    if delay == SLEEP_S:
        mark("view sleeps")
        try:
            return await _sleep(delay, *args, **kwargs)
        finally:
            mark("view wakes")
    return await _sleep(delay, *args, **kwargs)


asyncio.sleep = _traced_sleep


async def application(scope, receive, send):
    if scope["type"] != "http":
        return await django_application(scope, receive, send)
    if not LOOP_THREAD:
        LOOP_THREAD.append(threading.get_ident())
    REQUEST.set(next(NUMBERS))  # the request's tasks inherit it
    mark("app called")
    await django_application(scope, receive, send)
    mark("app returns")


@atexit.register
def _dump() -> None:
    with open(OUT, "w") as f:
        for event in EVENTS:
            f.write(json.dumps(event) + "\n")
