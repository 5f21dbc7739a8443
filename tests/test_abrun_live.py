"""`run_ab`: the real ab against the real servers, its failures, and its interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from conftest import group_members, owner_child, pid_alive, wait_until

from asim.errors import AbError, AbNotFoundError, InputError
from asim.lab.abrun import ab_command, find_ab, run_ab
from asim.lab.procs import ServerSpec, free_port, running_server
from asim.sim.abtext import parse_gnuplot

live = pytest.mark.live


def test_find_ab_says_how_to_install_it_when_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no ab on this PATH
    with pytest.raises(AbNotFoundError, match="apt-get install apache2-utils"):
        find_ab()


def test_find_ab_finds_the_installed_ab(ab_path):
    assert os.access(ab_path, os.X_OK) and os.path.basename(ab_path) == "ab"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://10.0.0.1:80/", "not on this machine"),
        ("http://192.168.1.1:8080/", "not on this machine"),
        ("http://example.com:80/", "not on this machine"),
        ("http://0.0.0.0:8088/", "not on this machine"),
        ("https://127.0.0.1:8443/", "http://"),
        ("127.0.0.1:8088/", "http://"),
        ("http://127.0.0.1/", "port"),
        ("http://127.0.0.1:99999/", "port"),
    ],
)
def test_only_loopback_http_urls_are_loaded(url, needle):
    with pytest.raises(InputError, match=needle):
        ab_command(url, requests=10, concurrency=1)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"requests": 0, "concurrency": 1}, "requests"),
        ({"requests": 10, "concurrency": 0}, "concurrency"),
        ({"requests": 10, "concurrency": 11}, "exceeds requests"),
        ({"requests": 10, "concurrency": 1, "timeout_s": 0}, "timeout"),
        ({"requests": 10, "concurrency": 1, "timeout_s": 1.5}, "timeout"),
    ],
)
def test_bad_ab_parameters_are_refused_before_ab_runs(kwargs, needle):
    with pytest.raises(InputError, match=needle):
        run_ab("http://127.0.0.1:8088/", **kwargs)


def test_ab_command_is_the_labs_command():
    argv = ab_command("http://127.0.0.1:8088", requests=100, concurrency=10, keepalive=True,
                      gnuplot_path="g.tsv")
    assert argv == ["ab", "-n", "100", "-c", "10", "-k", "-s", "30", "-g", "g.tsv",
                    "http://127.0.0.1:8088/"]


@live
def test_a_real_run_reads_back_with_its_own_rows(ab_path, tmp_path):
    tsv = tmp_path / "deep" / "run.tsv"
    with running_server(ServerSpec(kind="aiohttp", sleep_s=0.01)) as server:
        run = run_ab(server.url, requests=30, concurrency=3, gnuplot_path=tsv)
    assert run.ok and run.returncode == 0 and run.problems == ()
    assert run.checked() is run.report
    assert run.command[0] == ab_path and run.command[-1] == server.url
    rows = parse_gnuplot(tsv.read_text())
    assert len(rows) == 30
    assert run.report.total.max_ms == rows[-1].ttime_ms
    assert run.report.percentiles_ms[50] == rows[15].ttime_ms
    assert run.elapsed_s >= run.report.time_taken_s * 0.5  # the wall time includes ab's run


@live
def test_keepalive_run_reports_keepalive_requests(ab_path):
    with running_server(ServerSpec(kind="aiohttp", sleep_s=0.01)) as server:
        run = run_ab(server.url, requests=20, concurrency=2, keepalive=True)
    assert run.ok, run.problems
    assert "-k" in run.command
    assert run.report.keepalive_requests == 20  # aiohttp keeps HTTP/1.0 keep-alive connections


@live
def test_nothing_listening_is_a_failed_run_not_numbers(ab_path):
    run = run_ab(f"http://127.0.0.1:{free_port()}/", requests=5, concurrency=1)
    assert run.report is None and run.returncode != 0 and not run.ok
    assert len(run.problems) == 1 and "Connection refused" in run.problems[0]
    with pytest.raises(AbError, match="Connection refused"):
        run.checked()


@live
def test_non_2xx_responses_keep_the_report_but_are_flagged(ab_path):
    with running_server(ServerSpec(kind="django", sleep_s=0.01)) as server:
        run = run_ab(server.url + "no/such/page", requests=6, concurrency=2)
    assert run.report is not None and run.report.non_2xx_responses == 6
    assert run.problems == ("6 non-2xx responses",)
    with pytest.raises(AbError, match="non-2xx"):
        run.checked()


@live
def test_a_silent_server_ends_in_abs_poll_timeout(ab_path):
    """ab -s 1 against a handler that sleeps longer: ab gives up with its timeout error."""
    with running_server(ServerSpec(kind="aiohttp", sleep_s=2.5)) as server:
        run = run_ab(server.url, requests=1, concurrency=1, timeout_s=1)
    assert run.report is None
    assert "apr_pollset_poll: The timeout specified has expired (70007)" in run.problems[0]


CHILD = textwrap.dedent("""
    import os, subprocess
    from asim.lab.abrun import run_ab
    from asim.lab.procs import ServerSpec, running_server
    try:
        with running_server(ServerSpec(kind="aiohttp", sleep_s=0.5)) as server:
            print(server.pid, flush=True)
            run_ab(server.url, requests=100, concurrency=1)  # 50 s unless interrupted
    except KeyboardInterrupt:
        # any child not reaped would still be listed here, as a zombie
        left = subprocess.run(["ps", "--ppid", str(os.getpid()), "-o", "pid=,stat=,comm="],
                              capture_output=True, text=True).stdout.split("\\n")
        print("interrupted; children:", [ln for ln in left if ln.strip() and "ps" not in ln])
""")


@live
def test_interrupting_a_run_kills_and_reaps_ab_and_stops_the_server(ab_path):
    argv = [sys.executable, "-c", CHILD]
    with owner_child(argv, stderr=subprocess.PIPE) as (child, groups):
        server_pgid = int(child.stdout.readline())
        groups.append(server_pgid)
        ab_pids: list[int] = []

        def ab_running() -> bool:
            ab_pids[:] = _children(child.pid, "ab")
            return bool(ab_pids)

        wait_until(ab_running, "ab to start")
        child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
        assert child.stdout.read().strip() == "interrupted; children: []"
        assert not any(pid_alive(p) for p in ab_pids), "ab left running"
        assert not group_members(server_pgid), "server left running"


def _children(parent: int, name: str) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent), "-x", name], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]
