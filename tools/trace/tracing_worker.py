"""gunicorn's sync worker with timestamps at accept, response end and graceful close.

Used only with ``ASIM_TRACE_FILE`` set: ``--worker-class tracing_worker.TracingSyncWorker``.
"""

import tracelog
from gunicorn import util
from gunicorn.workers.sync import SyncWorker


class TracingSyncWorker(SyncWorker):
    def accept(self, listener):
        client, addr = listener.accept()
        tracelog.record("accept", addr[1])
        client.setblocking(1)
        util.close_on_exec(client)
        self.handle(listener, client, addr)

    def handle_request(self, listener, req, client, addr):
        tracelog.record("parsed", addr[1])
        try:
            super().handle_request(listener, req, client, addr)
        finally:
            tracelog.record("response_done", addr[1])

    def handle(self, listener, client, addr):
        try:
            super().handle(listener, client, addr)
        finally:
            tracelog.record("closed", addr[1])

    def handle_exit(self, sig, frame):
        tracelog.flush()
        super().handle_exit(sig, frame)

    def handle_quit(self, sig, frame):
        tracelog.flush()
        super().handle_quit(sig, frame)
