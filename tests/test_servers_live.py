"""The real servers under `running_server`: they answer ab, they trace, and they always go away.

Live tests start real aiohttp and gunicorn+Django processes on 127.0.0.1 with 10 ms sleeps and
run the real ab with -n 20; each takes about a second.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
from conftest import group_members, owner_child, port_refuses, wait_until

from asim.errors import InputError, PortInUseError, ServerStartError
from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, free_port, running_server
from asim.servers.trace import read_trace

# The seed's shapes; tests/test_servers_new_live.py starts the others.
SERVER_KINDS = ("aiohttp", "aiohttp-blocking", "django")

SLEEP_S = 0.01

live = pytest.mark.live


# ---------------------------------------------------------------- the spec (no processes)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"kind": "nginx"}, "unknown server"),
        ({"sleep_s": -0.1}, "sleep"),
        ({"sleep_s": float("nan")}, "sleep"),
        ({"sleep_s": float("inf")}, "sleep"),
        ({"workers": 0}, "workers"),
        ({"host": "0.0.0.0"}, "loopback"),
        ({"host": "10.1.2.3"}, "loopback"),
        ({"host": "example.com"}, "loopback"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
    ],
)
def test_spec_refuses_bad_values_with_a_message_naming_the_field(fields, needle):
    with pytest.raises(InputError, match=needle):
        ServerSpec(**{"kind": "django", "sleep_s": 0.1, **fields})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_spec_accepts_loopback_hosts(host):
    assert ServerSpec(kind="aiohttp", sleep_s=0.1, host=host).host == host


def test_the_django_project_passes_djangos_checks_from_any_folder(tmp_path):
    """``python -m asim.servers.djlab`` is the project's manage.py; DEBUG off is deliberate."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["ASIM_SLEEP_S"] = "0.25"
    done = subprocess.run(
        [sys.executable, "-m", "asim.servers.djlab", "diffsettings", "--all"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "DEBUG = False" in done.stdout
    assert "ASIM_SLEEP_S = 0.25" in done.stdout
    assert "ROOT_URLCONF = 'asim.servers.djlab.urls'" in done.stdout


def test_a_bad_sleep_in_the_environment_stops_django_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["ASIM_SLEEP_S"] = "soon"
    done = subprocess.run([sys.executable, "-m", "asim.servers.djlab", "check"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "ASIM_SLEEP_S must be a number, got 'soon'" in done.stderr


# ---------------------------------------------------------------- live servers


@live
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_each_server_answers_ab_and_is_gone_afterwards(kind, ab_path, assert_server_gone):
    spec = ServerSpec(kind=kind, sleep_s=SLEEP_S)
    with running_server(spec) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert server.pids()[0] == server.pid and group_members(server.pid)
        assert server.alive()
        run = run_ab(server.url, requests=20, concurrency=4)
        pgid, port = server.pid, server.port
        log_path = server.log_path
        assert log_path.exists()
    assert run.ok, run.problems
    report = run.report
    assert report.complete_requests == 20 and report.failed_requests == 0
    assert report.concurrency == 4
    # every request sleeps SLEEP_S on the server, so none can take less
    assert report.total.min_ms >= SLEEP_S * 1000
    assert report.total.min_ms <= report.total.median_ms <= report.total.max_ms
    assert run.text.document_length_bytes == len("Hello, Anonymous")
    assert_server_gone(pgid, "127.0.0.1", port)
    assert not log_path.exists()  # a temporary log is removed with its server


@live
def test_django_workers_are_all_ready_and_all_stopped(ab_path, assert_server_gone, tmp_path):
    spec = ServerSpec(kind="django", sleep_s=SLEEP_S, workers=3)
    with running_server(spec, log_dir=tmp_path) as server:
        assert len(server.pids()) == 1 + 3  # master and three workers
        assert server.log_path.parent == tmp_path
        assert server.log_path.read_text().count("asim: worker ready") == 3
        run = run_ab(server.url, requests=20, concurrency=4)
        pgid, port = server.pid, server.port
    assert run.ok, run.problems
    assert_server_gone(pgid, "127.0.0.1", port)
    assert "Shutting down: Master" in server.log_path.read_text()  # kept in log_dir


@live
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_trace_has_one_ordered_line_per_request(kind, ab_path, tmp_path):
    trace_file = tmp_path / "trace.tsv"
    requests = 10
    with running_server(ServerSpec(kind=kind, sleep_s=SLEEP_S), trace_file=trace_file) as server:
        run = run_ab(server.url, requests=requests, concurrency=2)
        ready_us = server.ready_wall_ns // 1000
        start_us = run.started_wall_ns // 1000
        pids = set(server.pids())
    assert run.ok, run.problems
    records = list(read_trace(trace_file))
    probe = [r for r in records if r.start_us < ready_us]
    measured = [r for r in records if r.start_us >= start_us]
    assert len(probe) >= 1 and len(measured) == requests and len(records) == len(probe) + requests
    for r in measured:
        assert r.server == kind
        assert r.pid in pids
        assert r.accept_us <= r.recv_us <= r.start_us <= r.end_us <= r.close_us
        assert r.end_us - r.start_us >= SLEEP_S * 1e6 * 0.9  # the handler's sleep is inside
    assert len({r.peer_port for r in measured}) == requests  # one connection per request


@live
def test_no_trace_file_means_no_trace(ab_path, tmp_path, monkeypatch):
    monkeypatch.setenv("ASIM_TRACE_FILE", str(tmp_path / "inherited.tsv"))
    with running_server(ServerSpec(kind="aiohttp", sleep_s=SLEEP_S)) as server:
        assert run_ab(server.url, requests=4, concurrency=2).ok
    assert not (tmp_path / "inherited.tsv").exists()


@live
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_a_server_on_a_bound_port_is_refused_before_it_starts(kind):
    """The bind test: a socket bound but not listening holds the port too (see
    test_serve_ports_live.py for listening holders and the race after the check)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        spec = ServerSpec(kind=kind, sleep_s=SLEEP_S, port=port)
        with pytest.raises(PortInUseError) as info, running_server(spec):
            pytest.fail("a server started on a port that is taken")
    message = str(info.value)
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert "\n" not in message


@live
def test_a_server_not_ready_in_time_raises_and_is_stopped():
    spec = ServerSpec(kind="django", sleep_s=SLEEP_S)
    with pytest.raises(ServerStartError, match="not ready after") as info, \
            running_server(spec, ready_timeout_s=0.001):
        pytest.fail("ready in a millisecond")
    assert "log" in str(info.value)
    # the process group of the failed start is gone: nothing of this spec listens anywhere
    port = str(info.value).split("127.0.0.1:")[1].split()[0]
    found = subprocess.run(["pgrep", "-f", "--", f"--bind 127.0.0.1:{port} "],
                           capture_output=True, text=True).stdout
    assert not found.split()


@live
def test_an_exception_inside_the_block_still_stops_the_server(assert_server_gone):
    spec = ServerSpec(kind="aiohttp-blocking", sleep_s=SLEEP_S)
    with pytest.raises(RuntimeError, match="boom"), running_server(spec) as server:
        pgid, port = server.pid, server.port
        raise RuntimeError("boom")
    assert_server_gone(pgid, "127.0.0.1", port)


CHILD = textwrap.dedent("""
    import sys, time
    from asim.lab.procs import ServerSpec, running_server
    spec = ServerSpec(kind=sys.argv[1], sleep_s=0.01, workers=2 if sys.argv[1] == "django" else 1)
    try:
        with running_server(spec) as server:
            print(server.pid, server.port, flush=True)
            time.sleep(120)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
""")


@live
@pytest.mark.parametrize(("kind", "sig"), [("django", signal.SIGINT), ("aiohttp", signal.SIGINT),
                                           ("django", signal.SIGTERM)])
def test_a_signal_to_the_owner_leaves_no_server(kind, sig):
    """Ctrl-C (SIGINT) or SIGTERM to a process inside running_server stops its server."""
    with owner_child([sys.executable, "-c", CHILD, kind]) as (child, groups):
        line = child.stdout.readline()
        assert line, "the child exited before its server was ready"
        pgid, port = (int(x) for x in line.split())
        groups.append(pgid)
        assert group_members(pgid)
        child.send_signal(sig)
        assert child.wait(timeout=60) == 130
        assert child.stdout.read().strip() == "interrupted"
        assert not group_members(pgid), "server processes left behind"
        assert port_refuses("127.0.0.1", port)


@live
@pytest.mark.parametrize("kind", ["aiohttp", "django"])
def test_a_server_whose_owner_is_killed_outright_goes_away(kind):
    """SIGKILL runs no ``finally``; the kernel's parent-death signal stops the server instead."""
    with owner_child([sys.executable, "-c", CHILD, kind]) as (child, groups):
        line = child.stdout.readline()
        assert line, "the child exited before its server was ready"
        pgid, port = (int(x) for x in line.split())
        groups.append(pgid)
        child.kill()
        child.wait()
        wait_until(lambda: not group_members(pgid), f"the {kind} server of a killed owner to stop")
        assert port_refuses("127.0.0.1", port)


# ---------------------------------------------------------------- asim serve


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nginx"], "unknown server"),
        (["aiohttp", "--sleep", "-1"], "sleep"),
        (["aiohttp", "--host", "0.0.0.0"], "loopback"),
        (["aiohttp", "--workers", "2"], "--workers"),
        (["django", "--workers", "0"], "workers"),
        (["django", "--port", "0"], "port"),
        (["aiohttp", "--sleep", "soon"], "--sleep"),
    ],
)
def test_serve_refuses_bad_values_in_one_line(args, needle):
    done = subprocess.run([sys.executable, "-m", "asim", "serve", *args], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asim: error:") and needle in lines[0]
    assert "Traceback" not in done.stderr


@live
@pytest.mark.parametrize("kind", ["aiohttp", "django"])
def test_serve_runs_until_ctrl_c_and_leaves_nothing(kind):
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "asim", "serve", kind, "--sleep", "0.01", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    pgid = None
    try:
        first = child.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}/" in first, child.stderr.read()
        pgid = int(first.split("(pid ")[1].split(")")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b"".join(iter(lambda: s.recv(4096), b""))
        assert answer.startswith(b"HTTP/1.") and answer.endswith(b"Hello, Anonymous")
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) == 0
        assert child.stdout.read().strip().endswith("stopped")
        assert not group_members(pgid)
        assert port_refuses("127.0.0.1", port)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if pgid is not None and group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)


@live
def test_a_picked_port_taken_before_the_bind_is_replaced_by_another(monkeypatch, tmp_path):
    """The race between choosing a free port and the server's bind: the start is retried."""
    import asim.lab.procs as procs

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        picks = iter([taken, procs.free_port()])
        monkeypatch.setattr(procs, "free_port", lambda host: next(picks))
        with running_server(ServerSpec(kind="aiohttp", sleep_s=SLEEP_S),
                            log_dir=tmp_path) as server:
            assert server.port != taken
            assert run_ab(server.url, requests=4, concurrency=2).ok
    logs = sorted(p.name for p in tmp_path.iterdir())
    assert logs == sorted([f"aiohttp-{taken}.log", f"aiohttp-{server.port}.log"])
    assert "address already in use" in (tmp_path / f"aiohttp-{taken}.log").read_text().lower()
