"""Owned server processes: start one of the lab's servers, wait until it answers, always stop it.

`running_server` is the only way asim starts a server. The server runs in its own session and
process group (so a Ctrl-C in the terminal reaches asim, not the server, and asim decides the
order of shutdown), its stdout and stderr go to a log file, and on leaving the ``with`` block for
any reason - normal exit, exception, Ctrl-C, or SIGTERM to asim - the whole group gets SIGTERM,
then SIGKILL after a grace period, and the leader is reaped. Should asim itself be killed
outright, the kernel sends the server SIGTERM (PR_SET_PDEATHSIG), and gunicorn's workers follow
their master.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from asim.errors import InputError, ServerStartError
from asim.lab.ports import check_port_free, listener_pids, port_in_use_error
from asim.sim.shapes import SHAPES, WORKERS, Shape, check_options, check_workers, shape
from asim.sim.spec import MAX_HANDLER_SLEEP_S, MAX_WORKERS, machine_cores

STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 20
PROBE_TIMEOUT_S = 5.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PRIVATE_PORTS_FROM = 20000  # free ports are drawn from here up to the ephemeral range
START_ATTEMPTS = 3


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class ServerSpec:
    """Which server to run: kind, the handler's sleep, workers, threads, where to listen.

    ``workers`` are gunicorn's or uvicorn's processes; ``threads`` is gunicorn gthread's threads
    per worker, or aiohttp-executor's pool; ``blocking_s`` is aiohttp-mixed's ``time.sleep``
    before its awaited sleep (None: the shape's default, `asim.sim.shapes`).
    A kind that does not take an option refuses it. ``port=None`` picks a free port at start.
    Only loopback hosts are accepted: asim sends load to what it starts, and load goes to this
    machine only.
    """

    kind: str
    sleep_s: float
    workers: int = 1
    host: str = "127.0.0.1"
    port: int | None = None
    threads: int | None = None
    blocking_s: float | None = None

    def __post_init__(self) -> None:
        shape(self.kind)  # an unknown name is an InputError
        if not (isinstance(self.sleep_s, int | float) and math.isfinite(self.sleep_s)
                and 0 <= self.sleep_s <= MAX_HANDLER_SLEEP_S):
            raise InputError(
                f"sleep must be between 0 and {MAX_HANDLER_SLEEP_S:g} s, got {self.sleep_s}"
            )
        if not (isinstance(self.workers, int) and 1 <= self.workers <= MAX_WORKERS):
            raise InputError(f"workers must be between 1 and {MAX_WORKERS}, got {self.workers}")
        check_workers(self.kind, self.workers)
        threads, blocking_s = check_options(
            self.kind, threads=self.threads, blocking_s=self.blocking_s, cores=machine_cores()
        )
        object.__setattr__(self, "threads", threads)  # the shape's default where None
        object.__setattr__(self, "blocking_s", blocking_s)
        if not is_loopback(self.host):
            raise InputError(
                f"host {self.host!r} is not a loopback address; asim serves and loads "
                "127.0.0.1, ::1 or localhost only"
            )
        if self.port is not None and not (isinstance(self.port, int) and 1 <= self.port <= 65535):
            raise InputError(f"port must be between 1 and 65535, got {self.port}")

    @property
    def shape(self) -> Shape:
        return shape(self.kind)

    def label(self) -> str:
        """E.g. ``django w=2 S=0.1``."""
        w = f" w={self.workers}" if self.shape.takes(WORKERS) else ""
        t = f" t={self.threads}" if self.threads is not None else ""
        b = f" B={self.blocking_s:g}" if self.blocking_s is not None else ""
        return f"{self.kind}{w}{t}{b} S={self.sleep_s:g}"


def server_command(spec: ServerSpec, port: int) -> tuple[list[str], dict[str, str]]:
    """The argv and the extra environment that start ``spec`` on ``port`` (its shape's
    `asim.sim.shapes.ServerCommand` with the placeholders filled in)."""
    values = {
        "sleep_s": repr(float(spec.sleep_s)),
        "workers": str(spec.workers),
        "threads": str(spec.threads),
        "blocking_s": repr(float(spec.blocking_s or 0.0)),
        "host": spec.host.strip("[]"),
        "port": str(port),
        "bind": _bind_address(spec.host, port),
    }
    command = spec.shape.command
    argv = [sys.executable, *(part.format(**values) for part in command.argv)]
    env = {name: value.format(**values) for name, value in command.env}
    return argv, env


def _bind_address(host: str, port: int) -> str:
    bare = host.strip("[]")
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"


def _url_host(host: str) -> str:
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else bare


def free_port(host: str = "127.0.0.1", *, rng: random.Random | None = None) -> int:
    """A TCP port that nothing is bound to right now.

    Chosen below the kernel's ephemeral range, so the client ports of ab's many connections
    (drawn from that range) cannot take it between this check and the server's bind.
    """
    rng = rng or random.Random()
    low = _ephemeral_low()
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    for _ in range(100):
        port = rng.randrange(PRIVATE_PORTS_FROM, low) if low > PRIVATE_PORTS_FROM + 100 else 0
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((host.strip("[]"), port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise ServerStartError(f"found no free TCP port on {host}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _port_taken(log_path: Path) -> bool:
    """The server's log says its port was taken (aiohttp's and gunicorn's wording)."""
    text = log_tail(log_path).lower()
    return "address already in use" in text or "connection in use" in text


@dataclass(frozen=True, kw_only=True)
class RunningServer:
    """A server found ready (see `running_server`); valid inside `running_server`'s block.

    ``pid`` is the process group leader (the aiohttp process, or the gunicorn master).
    ``ready_wall_ns`` is ``time.time_ns()`` when the server was found ready (after the
    readiness probe's response, if there was a probe): trace lines before it belong to the
    probe.
    """

    spec: ServerSpec
    url: str
    host: str
    port: int
    pid: int
    log_path: Path
    ready_wall_ns: int
    command: tuple[str, ...] = ()

    def pids(self) -> list[int]:
        """Live processes of the server's group (leader first; workers after it)."""
        members = group_members(self.pid)
        return sorted(members, key=lambda p: (p != self.pid, p))

    def alive(self) -> bool:
        """The leader still runs (it has not exited, crashed or been killed)."""
        return self.pid in group_members(self.pid)


@contextlib.contextmanager
def running_server(
    spec: ServerSpec,
    *,
    log_dir: Path | str | None = None,
    ready_timeout_s: float = 30.0,
    trace_file: Path | str | None = None,
    stops: DeferredStops | None = None,
) -> Iterator[RunningServer]:
    """Start ``spec``, yield it once it is ready, and always stop it (with ``stops``: tell it to
    stop on leaving the block, and leave the waiting for its end to ``stops``).

    Ready means that the process group asim started (not some other program) listens on the
    port, that every gunicorn worker has loaded the application, and - unless the handler
    sleeps too long for it (`_full_probe`) - that ``GET /`` was answered with 200. A fixed
    ``spec.port`` that another program holds raises `PortInUseError` naming it, before
    anything starts. The log goes to ``log_dir/<kind>-<port>.log`` (kept), or to a temporary
    file removed at the end. ``trace_file`` turns on the per-request trace
    (`asim.servers.trace`). A server that exits or is not ready within ``ready_timeout_s``
    raises ServerStartError with the end of its log.
    """
    if not ready_timeout_s > 0:
        raise InputError(f"ready_timeout_s must be > 0, got {ready_timeout_s}")
    if trace_file is not None and not spec.shape.command.traced:
        traced = ", ".join(n for n, s in SHAPES.items() if s.command.traced)
        raise InputError(f"the request trace exists for {traced} only, "
                         f"not {spec.kind}")
    env = {k: v for k, v in os.environ.items()
           if k not in ("ASIM_TRACE_FILE", "ASIM_SLEEP_S", "ASIM_DJANGO_VIEW")}
    env["PYTHONUNBUFFERED"] = "1"  # the log shows the server's lines as they happen
    env.pop("WEB_CONCURRENCY", None)  # gunicorn would take its worker count from it
    if trace_file is not None:
        env["ASIM_TRACE_FILE"] = str(Path(trace_file).resolve())
    # a port we picked may still be taken by another program before the server binds it
    attempts = 1 if spec.port is not None else START_ATTEMPTS

    if spec.port is not None:
        check_port_free(spec.host, spec.port)

    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = []
    with sigterm_raises():
        try:
            for attempt in range(1, attempts + 1):
                port = spec.port if spec.port is not None else free_port(spec.host)
                argv, extra_env = server_command(spec, port)
                log_path = _new_log(spec, port, log_dir)
                if log_dir is None:
                    logs.append(log_path)
                # A Ctrl-C between fork and the assignment would leave a server nobody owns:
                # hold signals over Popen; the child unblocks them before it execs.
                with open(log_path, "ab") as log, signals_deferred():
                    proc = subprocess.Popen(
                        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        env={**env, **extra_env}, start_new_session=True,
                        preexec_fn=_child_setup,
                    )
                try:
                    _wait_ready(proc, spec, port, log_path, ready_timeout_s)
                    break
                except ServerStartError:
                    if not _port_taken(log_path):
                        raise
                    if attempt == attempts:
                        # Another program bound the port after the check: say which.
                        raise port_in_use_error(spec.host, port) from None
                    stop_group(proc)
                    proc = None
            yield RunningServer(
                spec=spec, url=f"http://{_url_host(spec.host)}:{port}/", host=spec.host,
                port=port, pid=proc.pid, log_path=log_path, ready_wall_ns=time.time_ns(),
                command=tuple(argv),
            )
        finally:
            if proc is not None:
                if stops is not None:
                    stops.add(proc)
                else:
                    stop_group(proc)
            for path in logs:
                with contextlib.suppress(OSError):
                    path.unlink()


def _new_log(spec: ServerSpec, port: int, log_dir: Path | str | None) -> Path:
    """``log_dir/<kind>-<port>.log``, or a new temporary file when ``log_dir`` is None."""
    if log_dir is not None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        return Path(log_dir) / f"{spec.kind}-{port}.log"
    fd, name = tempfile.mkstemp(prefix=f"asim-{spec.kind}-{port}-", suffix=".log")
    os.close(fd)
    return Path(name)


def serve(
    spec: ServerSpec,
    *,
    on_ready: Callable[[RunningServer], None],
    trace_file: Path | str | None = None,
    poll_s: float = 0.5,
) -> None:
    """Run one server in the foreground until Ctrl-C or SIGTERM, then stop it and return.

    ``on_ready`` is called once the server answers. A server that dies on its own raises
    ServerStartError with the end of its log.
    """
    try:
        with running_server(spec, trace_file=trace_file) as server:
            on_ready(server)
            while server.alive():
                time.sleep(poll_s)
            raise ServerStartError(
                f"{spec.label()} on {server.host}:{server.port} stopped on its own; "
                f"log:\n{log_tail(server.log_path)}"
            )
    except KeyboardInterrupt:
        return


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In a freshly forked child: have the kernel send ``sig`` when the parent goes away.

    The last guard against leftovers when the owner is killed with SIGKILL and no ``finally``
    can run. Linux ties it to the forking thread, which is the thread inside `running_server`.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _child_setup() -> None:
    """In the forked server, before exec: default signal mask, and die with the owner."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    die_with_parent()


def _full_probe(spec: ServerSpec, timeout_s: float) -> bool:
    """Whether readiness includes a whole ``GET /``: only when the handler's sleep leaves time.

    The full request is what validate has always waited for (it also warms the server up);
    a handler that sleeps longer than half the deadline is ready once it listens and every
    worker has loaded the application, so `asim serve --sleep 40` starts like any other.
    """
    return spec.sleep_s + PROBE_TIMEOUT_S <= timeout_s / 2


def _wait_ready(
    proc: subprocess.Popen[bytes], spec: ServerSpec, port: int, log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    what = f"{spec.label()} on {spec.host}:{port}"
    last_problem = "no answer yet"
    full_probe = _full_probe(spec, timeout_s)
    while True:
        code = proc.poll()
        if code is not None:
            raise ServerStartError(
                f"{what} exited with code {code} before it was ready; "
                f"log {log_path}:\n{log_tail(log_path)}"
            )
        if time.monotonic() >= deadline:
            raise ServerStartError(
                f"{what} was not ready after {timeout_s:g} s ({last_problem}); "
                f"log {log_path}:\n{log_tail(log_path)}"
            )
        # An answer only counts when the server asim started is the one listening: another
        # program on the port would answer the probe for it.
        if not listener_pids(spec.host, port, group_members(proc.pid)):
            last_problem = "not listening yet"
        elif not full_probe:
            if _all_workers_ready(spec, log_path):
                return
            last_problem = "not every gunicorn worker has loaded the application"
        else:
            status = _probe(spec.host, port, timeout_s=min(
                PROBE_TIMEOUT_S + spec.sleep_s, max(deadline - time.monotonic(), 0.1)))
            if status == 200 and _all_workers_ready(spec, log_path):
                return
            last_problem = (f"probe: {status}" if isinstance(status, str)
                            else f"GET / gave {status}")
            if status == 200:
                last_problem = "not every gunicorn worker has loaded the application"
        time.sleep(0.05)


def _probe(host: str, port: int, *, timeout_s: float) -> int | str:
    """One ``GET /`` over a fresh connection: the status code, or why there is none."""
    bare = host.strip("[]")
    request = f"GET / HTTP/1.0\r\nHost: {_url_host(host)}:{port}\r\n\r\n".encode()
    try:
        with socket.create_connection((bare, port), timeout=timeout_s) as s:
            s.sendall(request)
            head = b""
            while b"\r\n" not in head and len(head) < 1024:
                chunk = s.recv(1024)
                if not chunk:
                    break
                head += chunk
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    parts = head.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return f"not an HTTP response: {head[:60]!r}"


def _all_workers_ready(spec: ServerSpec, log_path: Path) -> bool:
    return not spec.shape.command.ready_lines or _workers_ready(log_path) >= spec.workers


def _workers_ready(log_path: Path) -> int:
    from asim.servers import READY_MARK

    try:
        return log_path.read_text(errors="replace").count(READY_MARK)
    except OSError:
        return 0


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file (or a note that it cannot be read)."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(log unreadable: {exc.strerror})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log is empty)"


def stop_group(proc: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group of ``proc``, SIGKILL what is left after ``grace_s``, reap.

    Safe to call more than once; returns when no live process of the group remains. Runs to its
    end even when a second Ctrl-C or SIGTERM arrives meanwhile.
    """
    pgid = proc.pid
    with signals_deferred():
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            _reap(proc)
            if not group_members(pgid):
                break
            time.sleep(0.05)
        else:
            _signal_group(pgid, signal.SIGKILL)
            deadline = time.monotonic() + grace_s
            while group_members(pgid) and time.monotonic() < deadline:
                _reap(proc)
                time.sleep(0.05)
        proc.wait()


class DeferredStops:
    """Servers told to stop (SIGTERM to the group) whose end is awaited later, so that a series
    of measurements starts its next server while the last one shuts down (gunicorn and uvicorn
    take 0.2-0.9 s to). `wait` (and leaving the ``with`` block, for any reason) runs
    `stop_group` on each: SIGKILL after the grace period, reaped. Call `wait` before measuring
    anything the stopping servers could disturb."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with signals_deferred():
            self._procs.append(proc)
            _signal_group(proc.pid, signal.SIGTERM)

    def wait(self) -> None:
        while self._procs:
            stop_group(self._procs[0])
            self._procs.pop(0)

    def __enter__(self) -> DeferredStops:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wait()


def _reap(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=0)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies (orphaned zombies may never be reaped
    when PID 1 does not wait for them, and they hold no port)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != b"Z":
            members.append(int(entry.name))
    return members


# The signals each open `sigterm_raises` block received, innermost last.
_RECEIVED: list[list[int]] = []


def raise_pending_interrupt() -> None:
    """Raise now the KeyboardInterrupt of a signal whose own one Python swallowed (see
    `sigterm_raises`): a long run calls this between its steps so that it stops at the next."""
    for received in _RECEIVED:
        if received:
            raise KeyboardInterrupt(f"signal {received[0]}")


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM to this process raises KeyboardInterrupt so ``finally`` runs, and so
    does SIGINT, as Python's own handler would.

    Only in the main thread, where Python delivers signals; the outer handlers are restored
    after. A signal that lands where Python ignores exceptions (a finaliser or an at-fork hook:
    logging's lock release printed "Exception ignored" and a validate run went on to the end,
    with SIGTERM and with Ctrl-C alike) is raised again at the next `raise_pending_interrupt`, or
    when the block ends, so the run still stops as interrupted.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt(f"signal {signum}")

    def unraisable(info: sys.UnraisableHookArgs) -> None:
        if not (received and isinstance(info.exc_value, KeyboardInterrupt)):
            hook(info)  # not ours: printed as before

    caught = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, interrupt) for sig in caught}
    hook = sys.unraisablehook
    sys.unraisablehook = unraisable  # ours is raised again below: no "Exception ignored" text
    _RECEIVED.append(received)
    try:
        yield
    finally:
        _RECEIVED.pop()  # blocks nest: the innermost ends first
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = hook
    if received:  # the block ended normally: its KeyboardInterrupt was swallowed
        raise KeyboardInterrupt(f"signal {received[0]}")


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while a server group is being stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
