"""Every grid value is checked before anything is simulated: one line naming the bad value."""

import subprocess
import sys

import pytest


def asim(*args):
    return subprocess.run([sys.executable, "-m", "asim", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["predict", "--sleep", "0.1,31", "-c", "5"], "--sleep 31"),
        (["predict", "--sleep", "1e300", "-c", "5"], "--sleep 1e+300"),
        (["predict", "--sleep", "inf", "-c", "5"], "--sleep inf"),
        (["timeline", "--sleep", "31", "--out", "unused.png"], "--sleep 31"),
    ],
)
def test_a_sleep_beyond_abs_timeout_is_refused_up_front(args, shown):
    out = asim(*args)
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("asim: error:") and shown in line
    assert "sleep must be between 0 and 25" in line
    assert len(line) < 200  # no 300-digit number


def test_the_largest_sleep_allowed_is_predicted():
    out = asim("predict", "--sleep", "25", "-c", "2", "-n", "2", "--server", "aiohttp",
               "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1].split(",")[3] == "25.0"
