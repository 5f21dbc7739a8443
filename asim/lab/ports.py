"""Who listens on a TCP port: the kernel's socket tables, read before and while a server starts.

`check_port_free` is the bind test `running_server` runs before it starts a server on a fixed
port, so that a port another program holds gives one line naming that program instead of a
server that dies on its bind. `listener_pids` tells readiness which processes listen on a port,
so a probe is only trusted when the server asim started is the one listening.

Linux only: the listening sockets come from ``/proc/net/tcp`` and ``/proc/net/tcp6``, their
owners from the ``socket:[inode]`` links in ``/proc/<pid>/fd``. Another user's processes hide
their descriptors: such a holder is reported as one asim cannot see.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asim.errors import InputError, PortInUseError

_LISTEN = "0A"  # TCP_LISTEN in the st column of /proc/net/tcp
_TABLES = (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6))
_COMMAND_CHARS = 80  # a holder's command line is cut here in the one-line message


@dataclass(frozen=True, kw_only=True)
class Listener:
    """One listening TCP socket: its local address and port, and its inode."""

    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int
    inode: int


def listeners(port: int) -> list[Listener]:
    """The listening TCP sockets (IPv4 and IPv6) on ``port``, from the kernel's tables."""
    found = []
    for table, family in _TABLES:
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            address_hex, port_hex = fields[1].split(":")
            if int(port_hex, 16) != port:
                continue
            found.append(Listener(address=_address(address_hex, family), port=port,
                                  inode=int(fields[9])))
    return found


def _address(text: str, family: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # The kernel prints each 32-bit word of the address in the machine's byte order.
    words = [int(text[i:i + 8], 16) for i in range(0, len(text), 8)]
    raw = b"".join(struct.pack("=I", w) for w in words)
    return ipaddress.ip_address(socket.inet_ntop(family, raw))


def _conflicts(listener: Listener, host: str) -> bool:
    """A server binding ``host`` would collide with ``listener`` (same address, or either is
    the wildcard)."""
    if listener.address.is_unspecified:
        return True
    wanted = _host_addresses(host)
    return not wanted or listener.address in wanted or any(a.is_unspecified for a in wanted)


def _host_addresses(host: str) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    bare = host.strip("[]")
    with contextlib.suppress(ValueError):
        return {ipaddress.ip_address(bare)}
    try:
        infos = socket.getaddrinfo(bare, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return set()
    return {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}


def socket_owners(inodes: Iterable[int], pids: Iterable[int] | None = None) -> list[int]:
    """The processes (of ``pids``, or of all visible ones) holding a socket in ``inodes``."""
    links = {f"socket:[{inode}]" for inode in inodes}
    if not links:
        return []
    if pids is None:
        pids = (int(e.name) for e in os.scandir("/proc") if e.name.isdigit())
    owners = []
    for pid in pids:
        try:
            fds = os.scandir(f"/proc/{pid}/fd")
        except OSError:  # gone, or another user's
            continue
        with fds:
            for fd in fds:
                try:
                    if os.readlink(fd.path) in links:
                        owners.append(pid)
                        break
                except OSError:
                    continue
    return sorted(owners)


def listener_pids(host: str, port: int, pids: Iterable[int] | None = None) -> list[int]:
    """Processes (of ``pids``, or all visible ones) listening where a server on ``host:port``
    would listen."""
    inodes = [s.inode for s in listeners(port) if _conflicts(s, host)]
    return socket_owners(inodes, pids)


def describe_holders(host: str, port: int) -> str:
    """``" by pid 123 (python -m ...)"``, or a note that the holder cannot be seen."""
    pids = listener_pids(host, port)
    if not pids:
        return " by a process asim cannot see (another user's, or a socket not listening)"
    return " by " + ", ".join(f"pid {pid} ({_command(pid)})" for pid in pids[:3])


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    text = raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"
    return text if len(text) <= _COMMAND_CHARS else text[:_COMMAND_CHARS - 3] + "..."


def port_in_use_error(host: str, port: int) -> PortInUseError:
    """The one-line error for a port that another program holds."""
    return PortInUseError(
        f"port {port} on {host} is already in use{describe_holders(host, port)}; "
        "stop that server or choose another port"
    )


def check_port_free(host: str, port: int) -> None:
    """Raise `PortInUseError` naming the holder if a server could not bind ``host:port`` now.

    The test binds with SO_REUSEADDR, as aiohttp and gunicorn do, so connections of an earlier
    run left in TIME_WAIT do not count as a holder.
    """
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((bare, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise port_in_use_error(host, port) from None
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
