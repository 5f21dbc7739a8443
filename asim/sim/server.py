"""The contract between the model of ab and a model of a server (asyncio's protocol/transport
pair in miniature).

ab calls the server when the kernel would tell it something (a SYN reached the listening socket,
request bytes arrived, the client closed); the server answers through the `Client` it was built
with. Everything a report reads back from a server is in `ServerStats`. A new server model
implements `ServerModel` and is named in `asim.sim.shapes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from asim.sim.conn import AcceptQueue, Conn
from asim.sim.usage import Meter


class Client(Protocol):
    """What a server model may call on ab's model."""

    keepalive: bool

    def response_data(self, conn: Conn) -> None:
        """The server wrote the response on ``conn``."""

    def response_eof(self, conn: Conn) -> None:
        """The server closed ``conn`` (ab's next read returns 0)."""


@dataclass(frozen=True, kw_only=True)
class ServerStats:
    """What a simulated run reports about its server beyond ab's numbers.

    ``batches``: handler steps per loop iteration (event loops; for traces); ``iterations``:
    select() rounds of an event loop; ``wakes``: idle workers woken from select() by a
    connection (worker pools).
    """

    batches: tuple[int, ...] = ()
    iterations: int = 0
    wakes: int = 0


class ServerModel(Protocol):
    """What ab's model needs from a server model, and what the report reads back."""

    accept_queue: AcceptQueue

    def syn(self, conn: Conn) -> bool:
        """A SYN reached the listening socket; False when the accept queue dropped it."""

    def request_data(self, conn: Conn) -> None:
        """ab wrote the request on ``conn``."""

    def client_closed(self, conn: Conn) -> None:
        """ab closed its end of ``conn``."""

    @property
    def shift_safe(self) -> bool:
        """True when moving every absolute time by the same amount changes nothing ahead
        (fast-forward may then skip repeated cycles)."""

    def shift(self, dt: float) -> None:
        """Move every absolute time the server holds ``dt`` seconds later."""

    def stats(self) -> ServerStats:
        """What the run's report records about the server."""

    def meters(self) -> tuple[Meter, ...]:
        """The server's resources, read for their utilisation (`asim.sim.usage`)."""
