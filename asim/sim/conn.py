"""One ab request on one TCP connection, with the timestamps both ends record."""

from __future__ import annotations

NOT_YET = -1.0

# The stamps of one request: ab's (support/ab.c) and the server's, in simulated seconds.
STAMPS: tuple[str, ...] = (
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


class Conn:
    """A connection opened by ab's slot ``slot``; times are simulated seconds (``NOT_YET``).

    ab's own stamps follow support/ab.c: ``start`` (before connect), ``connect`` (write begins),
    ``endwrite``, ``beginread`` (first response byte), ``done`` (EOF, or the end of the body with
    keep-alive). The server side records ``accepted``, ``handler_start``, ``handler_end`` and
    ``fin_sent`` for traces and timelines.
    """

    __slots__ = (
        "slot",
        *STAMPS,
        "syn_tries",
        "has_data",
        "reader_on",
        "waiting",
        "worker",
        "client_closed",
        "server_keepalive",
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
        self.status_ok = True
        self.queued = False

    def shift(self, dt: float) -> None:
        """Move every stamp already taken ``dt`` seconds later."""
        for name in STAMPS:
            value = getattr(self, name)
            if value >= 0:
                setattr(self, name, value + dt)


class RequestRecord:
    """The stamps of one finished request (simulated seconds), for samples and timelines."""

    __slots__ = ("slot", *STAMPS, "worker", "status_ok")

    def __init__(self, conn: Conn, done: float) -> None:
        self.slot = conn.slot
        for name in STAMPS:
            setattr(self, name, getattr(conn, name))
        self.done = done
        self.worker = getattr(conn.worker, "index", None)
        self.status_ok = conn.status_ok
