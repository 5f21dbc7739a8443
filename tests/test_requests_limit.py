"""ab's -n: one limit everywhere, and a long run's memory that does not grow with it.

A run that skips ahead (an exact cycle or an extrapolated steady state) counts the copied
requests in ab's statistics without storing them; the report is the one the stored copies give.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asim.errors import InputError
from asim.sim.abreport import AbReport
from asim.sim.model import simulate
from asim.sim.spec import MAX_REQUESTS, Scenario
from asim.validate import scenario_file


def test_scenario_refuses_more_requests_than_the_limit():
    Scenario(server="aiohttp", requests=MAX_REQUESTS)
    with pytest.raises(InputError, match=f"at most {MAX_REQUESTS}"):
        Scenario(server="aiohttp", requests=MAX_REQUESTS + 1)


def test_toml_studies_use_the_same_limit():
    assert scenario_file.MAX_REQUESTS is MAX_REQUESTS


def test_predict_beyond_the_limit_says_so_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "asim", "predict", "-n", str(MAX_REQUESTS + 1)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asim: error: requests must be at most")
    assert done.stdout == ""


def peak_bytes(scenario: Scenario) -> tuple[int, int, int]:
    tracemalloc.start()
    try:
        run = simulate(scenario, keep_records=False)
        return tracemalloc.get_traced_memory()[1], run.skipped_requests, run.extrapolated_requests
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_requests_of_an_exactly_repeating_run():
    short = Scenario(server="aiohttp", concurrency=10, sleep_s=0.1, requests=100_000)
    long = Scenario(server="aiohttp", concurrency=10, sleep_s=0.1, requests=MAX_REQUESTS)
    peak_short, skipped_short, _ = peak_bytes(short)
    peak_long, skipped_long, _ = peak_bytes(long)
    assert skipped_short > 90_000 and skipped_long > 990_000
    # Stored, the 900,000 more requests would take 3 columns x 8 bytes each: 21.6 MB.
    assert peak_long < peak_short + 2_000_000, (peak_short, peak_long)


def test_the_samples_held_do_not_grow_with_the_requests_of_an_extrapolated_run():
    # (tracemalloc would make this a 25 s test; the samples held are what grew with -n.)
    shape = {"server": "django", "workers": 4, "concurrency": 100, "sleep_s": 0.03}
    short = simulate(Scenario(**shape, requests=200_000), keep_records=False)
    long = simulate(Scenario(**shape, requests=MAX_REQUESTS), keep_records=False)
    assert short.extrapolated_requests > 100_000 and long.extrapolated_requests > 900_000
    assert long.stored_requests == short.stored_requests < 100_000
    assert long.report.complete_requests == MAX_REQUESTS


columns = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 5_000), min_size=n, max_size=n),
        st.lists(st.integers(0, 50_000), min_size=n, max_size=n),
        st.lists(st.integers(0, 3_000), min_size=n, max_size=n),
        st.lists(st.integers(1, 40), min_size=n, max_size=n),
    )
)


@settings(max_examples=150, deadline=None)
@given(columns)
def test_counted_copies_give_the_report_of_stored_copies(data):
    """ab's statistics of rows counted w times each are those of the rows stored w times."""
    connect, extra, wait, weights = (np.asarray(x, dtype=np.int64) for x in data)
    total = connect + extra
    common = {"concurrency": 1, "time_taken_us": 1_000_000}
    counted = AbReport.from_columns(ctime_us=connect, time_us=total, waittime_us=wait,
                                    weights=weights, **common)
    stored = AbReport.from_columns(ctime_us=np.repeat(connect, weights),
                                   time_us=np.repeat(total, weights),
                                   waittime_us=np.repeat(wait, weights), **common)
    assert counted == stored
