"""gunicorn's sync worker and the Django view, traced: one line per request.

Used only when ``ASIM_TRACE_FILE`` is set (`asim.servers.gunicorn_conf` then selects
`TracingSyncWorker`); see `asim.servers.trace` for the columns. A sync worker serves one request
per connection and nothing else meanwhile, so the view's times are handed to the worker through
module state.
"""

from __future__ import annotations

import functools

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

from asim.servers import trace

_view: list[int] = []  # start_us, end_us of the view that ran on the current connection


def traced_view(view):
    """Record when ``view`` starts and returns."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        start_us = trace.now_us()
        try:
            return view(request, *args, **kwargs)
        finally:
            _view[:] = (start_us, trace.now_us())

    return wrapper


class TracingSyncWorker(SyncWorker):
    """The sync worker with times at accept, request parsed and close seen."""

    def accept(self, listener):
        client, addr = listener.accept()
        self._accept_us = trace.now_us()
        self._recv_us = None
        client.setblocking(1)
        util.close_on_exec(client)
        self.handle(listener, client, addr)

    def handle_request(self, listener, req, client, addr):
        self._recv_us = trace.now_us()
        super().handle_request(listener, req, client, addr)

    def handle(self, listener, client, addr):
        _view.clear()
        try:
            super().handle(listener, client, addr)  # ends with the graceful close
        finally:
            start_us, end_us = _view if _view else (None, None)
            peer = addr[1] if isinstance(addr, tuple) else None
            trace.write("django", peer, (self._accept_us, self._recv_us, start_us, end_us,
                                         trace.now_us()))
