"""The seed's aiohttp server: `handle` sleeps S seconds, with asyncio.sleep or time.sleep.

    python aio_server.py --port P --sleep 0.1 [--blocking]

With ``ASIM_TRACE_FILE`` set, logs per connection: ``conn_made`` (protocol created, after
accept), ``handler_start``/``handler_end``, ``conn_lost`` (asyncio calls connection_lost right
before it closes the socket, selector_events._call_connection_lost).
"""

import argparse
import asyncio
import os
import time

from aiohttp import web

TRACE = bool(os.environ.get("ASIM_TRACE_FILE"))
if TRACE:
    import tracelog
    from aiohttp import web_protocol

    _made = web_protocol.RequestHandler.connection_made
    _lost = web_protocol.RequestHandler.connection_lost

    def connection_made(self, transport):
        tracelog.record("conn_made", transport.get_extra_info("peername")[1])
        return _made(self, transport)

    def connection_lost(self, exc):
        peer = self.transport.get_extra_info("peername") if self.transport else None
        tracelog.record("conn_lost", peer[1] if peer else 0)
        return _lost(self, exc)

    web_protocol.RequestHandler.connection_made = connection_made
    web_protocol.RequestHandler.connection_lost = connection_lost


def make_app(sleep_s: float, blocking: bool) -> web.Application:
    async def handle(request):
        if TRACE:
            port = request.transport.get_extra_info("peername")[1]
            tracelog.record("handler_start", port)
        if blocking:
            time.sleep(sleep_s)
        else:
            await asyncio.sleep(sleep_s)
        if TRACE:
            tracelog.record("handler_end", port)
        return web.Response(text="Hello, Anonymous")

    app = web.Application()
    app.add_routes([web.get("/", handle), web.get("/{name}", handle)])
    if TRACE:
        async def flush(_app):
            tracelog.flush()
        app.on_cleanup.append(flush)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sleep", type=float, default=0.1)
    parser.add_argument("--blocking", action="store_true")
    args = parser.parse_args()
    web.run_app(make_app(args.sleep, args.blocking), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
