"""A port another program holds: found before a server starts, and never mistaken for ours.

The servers here are plain sockets (and one tiny HTTP answerer in a thread); the tests that
start asim's real servers on a taken port are in test_serve_ports_live.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from asim.errors import PortInUseError, ServerStartError
from asim.lab import procs
from asim.lab.ports import check_port_free, listener_pids
from asim.lab.procs import ServerSpec


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen()
    return s


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_listening_process_is_found_from_the_kernels_tables(host):
    with listening_socket(host) as s:
        port = s.getsockname()[1]
        assert listener_pids(host, port) == [os.getpid()]
        assert listener_pids(host, port, pids=[os.getppid()]) == []
    assert listener_pids(host, port) == []


def test_a_held_port_is_refused_in_one_line_naming_the_holder():
    with listening_socket() as s:
        port = s.getsockname()[1]
        with pytest.raises(PortInUseError) as info:
            check_port_free("127.0.0.1", port)
    message = str(info.value)
    assert "\n" not in message
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert f"pid {os.getpid()} (" in message and "python" in message
    assert info.value.exit_code == 2
    check_port_free("127.0.0.1", port)  # free again once closed


def test_a_wildcard_listener_holds_the_loopback_port_too():
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        port = s.getsockname()[1]
        assert listener_pids("127.0.0.1", port) == [os.getpid()]
        with pytest.raises(PortInUseError, match=f"pid {os.getpid()}"):
            check_port_free("127.0.0.1", port)


def test_readiness_does_not_trust_an_answer_from_a_server_it_did_not_start(tmp_path):
    """Another HTTP server answers 200 on the port; the process asim started never listens.

    Readiness must not take the other server's answer for its own: it times out instead.
    """
    with listening_socket() as other:
        port = other.getsockname()[1]
        stop = threading.Event()

        def answer() -> None:
            other.settimeout(0.1)
            while not stop.is_set():
                try:
                    conn, _ = other.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        started = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            spec = ServerSpec(kind="aiohttp", sleep_s=0.0, port=port)
            with pytest.raises(ServerStartError, match="not ready after"):
                procs._wait_ready(started, spec, port, Path(tmp_path / "log"), 1.0)
        finally:
            stop.set()
            started.kill()
            started.wait()
            thread.join()
