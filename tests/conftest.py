"""Shared fixtures: the real ab, the committed ab outputs, and checks that servers are gone."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from asim.lab.procs import group_members

AB_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ab"
WAIT_S = 60.0  # a generous deadline for what normally takes well under a second

# The suite must not depend on whatever `asim calibrate` left in this user's cache: every
# prediction in a test (and in the asim processes tests start) uses the built-in costs unless
# the test says otherwise.
os.environ["ASIM_CALIBRATION"] = "none"

# A suite started with SIGINT ignored (a shell's background job, nohup) would pass the ignored
# disposition on to every child, and the children these tests interrupt with Ctrl-C would never
# see it. A handler here is reset to the default in each child at exec, as from a terminal.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def ab_path() -> str:
    """The real ab. It is required (``make setup`` installs it), so its absence fails."""
    from asim.errors import AbNotFoundError
    from asim.lab.abrun import find_ab

    try:
        return find_ab()
    except AbNotFoundError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def ab_manifest() -> dict[str, dict]:
    """What ``tests/fixtures/ab/make_fixtures.py`` recorded about each committed ab output."""
    data = json.loads((AB_FIXTURES / "manifest.json").read_text())
    return {name: entry for name, entry in data.items() if not name.startswith("_")}


@contextlib.contextmanager
def owner_child(argv: list[str], **popen: object) -> Iterator[tuple[subprocess.Popen, list[int]]]:
    """A child process that owns servers, in its own session; the test appends the server
    groups it learns of to the yielded list. On leaving, the child and whatever is left of
    those groups are killed, so a failing test leaves nothing running."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True,
                             **popen)
    groups: list[int] = []
    try:
        yield child, groups
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pgid in groups:
            if group_members(pgid):
                os.killpg(pgid, signal.SIGKILL)
                wait_until(lambda pgid=pgid: not group_members(pgid), "leftover servers to die")


def pid_alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:].split()[0] != b"Z"


def port_refuses(host: str, port: int) -> bool:
    """Nothing accepts connections on ``host:port`` any more."""
    try:
        with socket.create_connection((host, port), timeout=5):
            return False
    except OSError as exc:
        return exc.errno == errno.ECONNREFUSED


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def assert_server_gone() -> Callable[[int, str, int], None]:
    """Check that a server's process group has no live member and its port refuses connections.

    Called right after ``running_server`` returns, when both must already hold; no waiting.
    """

    def check(pgid: int, host: str, port: int) -> None:
        left = group_members(pgid)
        assert not left, f"processes of server group {pgid} still alive: {left}"
        assert port_refuses(host, port), f"something still accepts on {host}:{port}"

    return check
