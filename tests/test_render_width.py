"""`asim predict`'s table in a terminal of a given width: every number is printed whole."""

import re
import subprocess
import sys

import pytest
from rich.console import Console

from asim.grid import predict, scenarios
from asim.render import print_table

WIDE_GRID = dict(
    servers=("aiohttp", "aiohttp-blocking", "django"),
    workers=(1, 16),
    sleeps_s=(0.0, 0.1, 2.5),
    # 120 clients stay within aiohttp's accept queue (129): with more, the blocking handler's
    # 2.5 s holds keep SYNs retrying until ab would abort (the model says so and predicts none).
    concurrencies=(10, 120),
    requests=1000,
    cores=2,
)


@pytest.fixture(scope="module")
def points():
    return predict(scenarios(**WIDE_GRID), method="all")


def numbers_shown(points, text):
    """The numbers of the columns the table shows (RPS and ms/req always), as it formats them."""
    header = " ".join(line for line in text.splitlines() if line.startswith("┃"))
    out = set()
    for p in points:
        out |= {f"{p.requests_per_second:.2f}", f"{p.time_per_request_ms:.3f}"}
        if "time" in header:
            out.add(f"{p.time_taken_s:.3f}")
        if p.report is not None and "p50" in header:
            out.add(str(p.report.percentiles_ms[50]))
    return out


def render(points, width, **kw):
    console = Console(width=width, record=True, force_terminal=True, color_system=None)
    print_table(points, title="Predicted", console=console, **kw)
    return console.export_text()


@pytest.mark.parametrize("width", [60, 80, 100, 120])
def test_no_number_is_cut_at_any_width(points, width):
    text = render(points, width)
    assert "…" not in text
    cells = set(re.findall(r"[\d.]+", text))
    for number in numbers_shown(points, text):
        assert number in cells, f"{number} is not shown whole at {width} columns"


def test_narrow_terminal_leaves_out_columns_and_says_so(points):
    text = render(points, 80)
    assert max(len(line) for line in text.splitlines() if line.startswith(("┃", "│"))) <= 80
    assert "ms/req" in text and "RPS" in text
    assert "--wide" in text  # the note names what was left out and how to see it


def test_wide_shows_every_column_even_past_the_terminal(points):
    text = render(points, 80, wide=True)
    for header in ("time s", "p100", "p90", "method"):
        assert header in text
    assert "…" not in text
    assert "--wide" not in text


def test_a_wide_terminal_shows_every_column_and_no_note(points):
    text = render(points, 200)
    for header in ("time s", "p100", "p90", "(all)"):
        assert header in text
    assert "--wide" not in text


def test_predict_in_an_80_column_terminal_prints_whole_numbers():
    # As a user runs it: a pseudo-terminal of 80 columns (script(1) gives one).
    cmd = (f"stty cols 80; {sys.executable} -m asim predict -c 10 --calibration none")
    out = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)
    assert "…" not in text
    assert re.search(r"\b\d+\.\d\d\b", text)  # an RPS with its two decimals
