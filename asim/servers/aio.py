"""The lab's aiohttp server: ``handle`` waits S seconds and answers ``Hello, Anonymous``.

    python -m asim.servers.aio --sleep S [--blocking | --executor [--threads T] | --mixed B]
                               --host H --port P

As in the seed (servers/aio/server.py) the routes are ``/`` and ``/{name}`` and the server is
started by ``web.run_app`` with its defaults: backlog 128, keep-alive timeout 75 s, shutdown
timeout 60 s, and the ``aiohttp.access`` logger. That logger has no handler and inherits the root
logger's WARNING level, so aiohttp 3.14 checks ``isEnabledFor(INFO)`` once per connection and
never formats an access line - exactly what the seed's script does.

``--blocking`` is the lab's task 9: the handler calls ``time.sleep(S)`` and freezes the event
loop for S seconds. Two more handlers answer what a reader asks next:

- ``--executor``: ``await loop.run_in_executor(pool, time.sleep, S)``. Without ``--threads`` the
  pool is asyncio's default executor (``None``: a ThreadPoolExecutor of ``min(32, cores + 4)``
  threads, made on first use); ``--threads T`` passes a ThreadPoolExecutor of T threads.
- ``--mixed B``: ``time.sleep(B)`` then ``await asyncio.sleep(S)``, a handler with B seconds of
  blocking work (a synchronous driver call, say) in front of its wait.

With ``ASIM_TRACE_FILE`` set, each request appends a line to that file (see
`asim.servers.trace`); without it the handlers are the seed's, untouched.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from asim.servers import trace

Handler = Callable[[web.Request], Awaitable[web.Response]]
TEXT = "Hello, Anonymous"


def make_handler(sleep_s: float, *, blocking: bool = False) -> Handler:
    """The seed's ``handle`` with its sleep set to ``sleep_s`` (``time.sleep`` if blocking)."""
    if blocking:

        async def handle(request: web.Request) -> web.Response:
            time.sleep(sleep_s)
            return web.Response(text=TEXT)

    else:

        async def handle(request: web.Request) -> web.Response:
            await asyncio.sleep(sleep_s)
            return web.Response(text=TEXT)

    return handle


def make_executor_handler(sleep_s: float, pool: ThreadPoolExecutor | None) -> Handler:
    """``time.sleep(sleep_s)`` in ``pool`` (None: the loop's default executor)."""

    async def handle(request: web.Request) -> web.Response:
        await asyncio.get_running_loop().run_in_executor(pool, time.sleep, sleep_s)
        return web.Response(text=TEXT)

    return handle


def make_mixed_handler(sleep_s: float, blocking_s: float) -> Handler:
    """``time.sleep(blocking_s)`` on the loop's thread, then ``await asyncio.sleep(sleep_s)``."""

    async def handle(request: web.Request) -> web.Response:
        time.sleep(blocking_s)
        await asyncio.sleep(sleep_s)
        return web.Response(text=TEXT)

    return handle


def make_app(sleep_s: float, *, blocking: bool = False) -> web.Application:
    """The seed's application; traced when ``ASIM_TRACE_FILE`` is set."""
    handle = make_handler(sleep_s, blocking=blocking)
    if trace.trace_path() is not None:
        handle = _traced(handle, "aiohttp-blocking" if blocking else "aiohttp")
    return _app(handle)


def make_executor_app(sleep_s: float, *, threads: int | None = None) -> web.Application:
    """The seed's application with the sleep in a thread pool (``threads=None``: the default)."""
    pool = None if threads is None else ThreadPoolExecutor(max_workers=threads)
    app = _app(make_executor_handler(sleep_s, pool))
    if pool is not None:

        async def shut_pool(app: web.Application) -> None:
            pool.shutdown(wait=False, cancel_futures=True)

        app.on_cleanup.append(shut_pool)
    return app


def make_mixed_app(sleep_s: float, *, blocking_s: float) -> web.Application:
    """The seed's application with ``blocking_s`` of blocking before the awaited sleep."""
    return _app(make_mixed_handler(sleep_s, blocking_s))


def _app(handle: Handler) -> web.Application:
    app = web.Application()
    app.add_routes([web.get("/", handle), web.get("/{name}", handle)])
    return app


class _ConnTrace:
    """What the trace knows of one connection between its accept and its close."""

    __slots__ = ("accept_us", "recv_us", "peer_port", "done")

    def __init__(self, accept_us: int, peer_port: int | None) -> None:
        self.accept_us = accept_us
        self.recv_us: int | None = None
        self.peer_port = peer_port
        self.done: list[tuple[int | None, int, int]] = []


def _traced(handle: Handler, server: str) -> Handler:
    """Wrap ``handle`` and aiohttp's protocol so that each request leaves one trace line."""
    from aiohttp import web_protocol

    conns: dict[int, _ConnTrace] = {}
    protocol = web_protocol.RequestHandler
    made, received, lost = (
        protocol.connection_made,
        protocol.data_received,
        protocol.connection_lost,
    )

    def connection_made(self, transport):  # noqa: ANN001 - aiohttp's signature
        peer = transport.get_extra_info("peername")
        conns[id(self)] = _ConnTrace(trace.now_us(), peer[1] if peer else None)
        return made(self, transport)

    def data_received(self, data: bytes) -> None:
        conn = conns.get(id(self))
        if conn is not None and conn.recv_us is None:
            conn.recv_us = trace.now_us()
        return received(self, data)

    def connection_lost(self, exc: BaseException | None) -> None:
        close_us = trace.now_us()
        conn = conns.pop(id(self), None)
        if conn is not None:
            for recv_us, start_us, end_us in conn.done:
                trace.write(server, conn.peer_port, (conn.accept_us, recv_us, start_us, end_us,
                                                     close_us))
        return lost(self, exc)

    protocol.connection_made = connection_made
    protocol.data_received = data_received
    protocol.connection_lost = connection_lost

    async def traced_handle(request: web.Request) -> web.Response:
        start_us = trace.now_us()
        response = await handle(request)
        conn = conns.get(id(request.protocol))
        if conn is not None:
            conn.done.append((conn.recv_us, start_us, trace.now_us()))
            conn.recv_us = None  # the next request on a keep-alive connection starts afresh
        return response

    return traced_handle


def _sleep_arg(text: str) -> float:
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"sleep must be a finite number >= 0, got {text}")
    return value


def _threads_arg(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"threads must be >= 1, got {text}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m asim.servers.aio", description=__doc__)
    parser.add_argument("--sleep", type=_sleep_arg, default=0.1, help="seconds per request")
    handler = parser.add_mutually_exclusive_group()
    handler.add_argument("--blocking", action="store_true", help="time.sleep instead of await")
    handler.add_argument("--executor", action="store_true", help="time.sleep in a thread pool")
    handler.add_argument("--mixed", type=_sleep_arg, metavar="B",
                         help="time.sleep(B) on the loop, then await the sleep")
    parser.add_argument("--threads", type=_threads_arg, help="the pool's threads (--executor)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    args = parser.parse_args(argv)
    if args.threads is not None and not args.executor:
        parser.error("--threads needs --executor")
    if args.executor:
        app = make_executor_app(args.sleep, threads=args.threads)
    elif args.mixed is not None:
        app = make_mixed_app(args.sleep, blocking_s=args.mixed)
    else:
        app = make_app(args.sleep, blocking=args.blocking)
    web.run_app(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
