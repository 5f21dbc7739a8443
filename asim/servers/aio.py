"""The lab's aiohttp server: ``handle`` waits S seconds and answers ``Hello, Anonymous``.

    python -m asim.servers.aio --sleep S [--blocking] --host H --port P

As in the seed (servers/aio/server.py) the routes are ``/`` and ``/{name}`` and the server is
started by ``web.run_app`` with its defaults: backlog 128, keep-alive timeout 75 s, shutdown
timeout 60 s, and the ``aiohttp.access`` logger. That logger has no handler and inherits the root
logger's WARNING level, so aiohttp 3.14 checks ``isEnabledFor(INFO)`` once per connection and
never formats an access line - exactly what the seed's script does.

``--blocking`` is the lab's task 9: the handler calls ``time.sleep(S)`` and freezes the event
loop for S seconds.

With ``ASIM_TRACE_FILE`` set, each request appends a line to that file (see
`asim.servers.trace`); without it the handlers are the seed's, untouched.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Awaitable, Callable

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


def make_app(sleep_s: float, *, blocking: bool = False) -> web.Application:
    """The seed's application; traced when ``ASIM_TRACE_FILE`` is set."""
    handle = make_handler(sleep_s, blocking=blocking)
    if trace.trace_path() is not None:
        handle = _traced(handle, "aiohttp-blocking" if blocking else "aiohttp")
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m asim.servers.aio", description=__doc__)
    parser.add_argument("--sleep", type=_sleep_arg, default=0.1, help="seconds per request")
    parser.add_argument("--blocking", action="store_true", help="time.sleep instead of await")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    args = parser.parse_args(argv)
    web.run_app(make_app(args.sleep, blocking=args.blocking), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
