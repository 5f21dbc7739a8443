"""`asim serve` and `running_server` on a taken port, and with handlers slower than readiness.

Live: these start real aiohttp and gunicorn+Django servers on free ports of 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
from conftest import group_members

from asim.errors import PortInUseError
from asim.lab import procs
from asim.lab.procs import ServerSpec, free_port, running_server

# The seed's shapes; tests/test_servers_new_live.py starts the others.
SERVER_KINDS = ("aiohttp", "aiohttp-blocking", "django")

live = pytest.mark.live


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asim", "serve", *args], capture_output=True,
                          text=True, timeout=120)


def assert_one_line_naming(done: subprocess.CompletedProcess[str], port: int, pid: int) -> None:
    assert done.returncode == 2, done.stderr
    assert "listening" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("asim: error: port ") and f" {port} " in lines[0]
    assert f"pid {pid} (" in lines[0]


@live
@pytest.mark.parametrize("kind", ["aiohttp", "django"])
def test_serve_on_a_port_another_asim_server_holds_says_so_in_one_line(kind):
    """The issue's `asim serve aiohttp & asim serve aiohttp`: the second one names the first."""
    with running_server(ServerSpec(kind="aiohttp", sleep_s=0.01)) as first:
        done = serve(kind, "--sleep", "0.01", "--port", str(first.port))
        assert_one_line_naming(done, first.port, first.pid)
        assert first.alive()


@live
def test_serve_on_a_port_a_plain_socket_holds_says_so_in_one_line():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert_one_line_naming(serve("aiohttp", "--port", str(port)), port, os.getpid())


@live
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_a_port_taken_between_the_check_and_the_bind_is_named_too(kind, monkeypatch,
                                                                   assert_server_gone):
    """The race the bind test cannot close: the server's own bind fails, asim says why."""
    monkeypatch.setattr(procs, "check_port_free", lambda host, port: None)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        spec = ServerSpec(kind=kind, sleep_s=0.01, port=port)
        with pytest.raises(PortInUseError) as info, running_server(spec):
            pytest.fail("a server started on a port that is taken")
    message = str(info.value)
    assert "\n" not in message and f"port {port} on 127.0.0.1" in message
    assert f"pid {os.getpid()} (" in message


@live
@pytest.mark.parametrize("kind", ["aiohttp", "django"])
def test_a_handler_sleeping_longer_than_the_ready_timeout_is_ready_when_it_listens(kind):
    spec = ServerSpec(kind=kind, sleep_s=40.0, workers=2 if kind == "django" else 1)
    with running_server(spec, ready_timeout_s=20.0) as server:
        assert server.alive()
        if kind == "django":
            assert len(server.pids()) == 3  # the master and both workers
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass  # it accepts; a full answer would take 40 s
        pgid = server.pid
    assert not group_members(pgid)


@live
def test_serve_with_a_40_s_sleep_says_it_is_listening():
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "asim", "serve", "aiohttp", "--sleep", "40", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    pgid = None
    try:
        first = child.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}/" in first, child.stderr.read()
        pgid = int(first.split("(pid ")[1].split(")")[0])
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) == 0
        assert not group_members(pgid)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if pgid is not None and group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)
