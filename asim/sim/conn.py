"""One ab request on one TCP connection, with the timestamps both ends record."""

from __future__ import annotations

NOT_YET = -1.0


class Conn:
    """A connection opened by ab's slot ``slot``; times are simulated seconds (``NOT_YET``).

    ab's own stamps follow support/ab.c: ``start`` (before connect), ``connect`` (write begins),
    ``endwrite``, ``beginread`` (first response byte), ``done`` (EOF, or the end of the body with
    keep-alive). The server side records ``accepted``, ``handler_start``, ``handler_end`` and
    ``fin_sent`` for traces and timelines.
    """

    __slots__ = (
        "slot",
        "start",
        "connect",
        "endwrite",
        "beginread",
        "done",
        "accepted",
        "handler_start",
        "handler_end",
        "fin_sent",
        "syn_tries",
        "has_data",
        "reader_on",
        "waiting",
        "worker",
        "client_closed",
        "server_keepalive",
        "requests_served",
        "status_ok",
        "queued",
    )

    def __init__(self, slot: int, start: float) -> None:
        self.slot = slot
        self.start = start
        self.connect = NOT_YET
        self.endwrite = NOT_YET
        self.beginread = NOT_YET
        self.done = NOT_YET
        self.accepted = NOT_YET
        self.handler_start = NOT_YET
        self.handler_end = NOT_YET
        self.fin_sent = NOT_YET
        self.syn_tries = 0
        self.has_data = False
        self.reader_on = False
        self.waiting = False
        self.worker = None
        self.client_closed = False
        self.server_keepalive = False
        self.requests_served = 0
        self.status_ok = True
        self.queued = False

    def shift(self, dt: float) -> None:
        """Move every stamp already taken ``dt`` seconds later."""
        for name in _STAMPS:
            value = getattr(self, name)
            if value >= 0:
                setattr(self, name, value + dt)


_STAMPS = (
    "start",
    "connect",
    "endwrite",
    "beginread",
    "done",
    "accepted",
    "handler_start",
    "handler_end",
    "fin_sent",
)
