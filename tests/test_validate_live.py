"""`asim validate` against real servers and the real ab (loopback, short sleeps, small -n).

Processes started on behalf of a test are found by a marker in their environment, which every
server inherits; each test first checks that the marker does find the running servers, so "none
left afterwards" cannot pass by looking in the wrong place.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from asim.validate.run import QuietListener, validate
from asim.validate.scenario_file import load_plan

pytestmark = pytest.mark.live

MARKER = "ASIM_TEST_MARKER"
WAIT_S = 60.0  # generous deadline for things that normally take a fraction of a second

TINY = """
servers = ["aiohttp", "django"]
sleeps_s = [{sleep}]
concurrencies = [2, 4]
requests = 20
repeats = 1
"""


def marked_pids(tag: str, *, besides: int | None = None) -> list[int]:
    """Live processes whose environment carries ``MARKER=tag`` (zombies, this process and
    ``besides`` excluded)."""
    needle = f"{MARKER}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), besides):
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


class SeesServers(QuietListener):
    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.seen: list[int] = []

    def run_started(self, point, repeat) -> None:
        self.seen.append(len(marked_pids(self.tag)))


@pytest.fixture
def tag(monkeypatch):
    value = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, value)
    yield value
    # a failed test must not leave its servers behind either
    for pid in marked_pids(value):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_tiny_scenario_end_to_end(tmp_path: Path, tag: str):
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY.format(sleep=0.01))
    plan = load_plan(scenario)
    out = tmp_path / "out"
    listener = SeesServers(tag)
    result = validate(plan, out, listener=listener)

    assert all(n >= 1 for n in listener.seen), "the marker must find the running server"
    assert marked_pids(tag) == []
    lines = (out / "points.jsonl").read_text().splitlines()
    assert len(lines) == 4
    for line in lines:
        run = json.loads(line)
        assert run["observed"]["complete_requests"] == 20
        assert run["problems"] == []
        assert f"ab -n 20 -c {run['concurrency']} " in run["command"]
        raw = (out / run["raw"]).read_text()
        assert "Complete requests:      20" in raw
    predictions = json.loads((out / "predictions.json").read_text())
    assert set(predictions) == {p.id for p in plan.points()}
    assert len(result.comparisons) == 4
    for c in result.comparisons:
        assert len(c.observed) == 1 and c.predicted is not None and not c.flagged
        # ab's own arithmetic holds for what was measured
        obs = c.observed[0]
        assert obs.time_per_request_ms == pytest.approx(
            obs.concurrency * obs.time_per_request_all_ms, rel=1e-3
        )
    report = (out / "report.md").read_text()
    assert "## Conclusions" in report and "| aiohttp | 4 |" in report
    for png in result.figure_paths:
        assert png.exists() and png.with_suffix(".svg").exists()

    # everything is on disk: a second call measures nothing and rewrites the same report
    again = validate(plan, out)
    assert again.measured_runs == 0
    assert len((out / "points.jsonl").read_text().splitlines()) == 4


def _asim(*args: str) -> list[str]:
    return [sys.executable, "-m", "asim", *args]


def _interrupt_after_first_run(tmp_path: Path, tag: str, sig: int) -> tuple[Path, Path]:
    """Start `asim validate` on a tiny grid, send ``sig`` once a run is on disk, and check that
    it ends as an interruption (130, one message, no traceback) with every server gone."""
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY.format(sleep=0.05))  # one Django run takes about a second
    out = tmp_path / "out"
    points = out / "points.jsonl"
    proc = subprocess.Popen(
        _asim("validate", str(scenario), "--out", str(out)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: points.exists() and points.read_text().count("\n") >= 1, "the first run on disk"
        )
        assert marked_pids(tag, besides=proc.pid), "the marker must find the running server"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    wait_until(lambda: marked_pids(tag) == [], "the servers to be gone")
    return scenario, out


def test_interrupt_keeps_runs_leaves_no_server_and_resume_finishes(tmp_path: Path, tag: str):
    scenario, out = _interrupt_after_first_run(tmp_path, tag, signal.SIGINT)
    points = out / "points.jsonl"
    kept = [json.loads(line) for line in points.read_text().splitlines()]
    assert 1 <= len(kept) < 4
    assert all(run["observed"]["complete_requests"] == 20 for run in kept)

    done = subprocess.run(
        _asim("validate", "--resume", str(out)), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    runs = [json.loads(line) for line in points.read_text().splitlines()]
    assert runs[: len(kept)] == kept  # nothing measured twice, nothing lost
    assert sorted(r["point_id"] for r in runs) == sorted(p.id for p in load_plan(scenario).points())
    assert (out / "report.md").exists()
    assert marked_pids(tag) == []


def test_sigterm_is_an_interruption_too(tmp_path: Path, tag: str):
    _, out = _interrupt_after_first_run(tmp_path, tag, signal.SIGTERM)
    assert 1 <= len((out / "points.jsonl").read_text().splitlines()) < 4


def test_a_second_pass_measures_only_the_cpu_dominated_points_again(tmp_path: Path, tag: str):
    # Behaviour only: which runs are measured and stored where, never how close the model is.
    scenario = tmp_path / "cpu.toml"
    scenario.write_text(
        'servers = ["aiohttp"]\nsleeps_s = [0, 0.01]\nconcurrencies = [2]\nrequests = 20\n'
        "repeats = 1\n"
    )
    plan = load_plan(scenario).with_passes(2)
    out = tmp_path / "out"
    listener = SeesServers(tag)
    result = validate(plan, out, listener=listener)

    assert all(n >= 1 for n in listener.seen) and marked_pids(tag) == []
    runs = [json.loads(line) for line in (out / "points.jsonl").read_text().splitlines()]
    assert [(r["point_id"], r["pass"]) for r in runs] == [
        ("aiohttp-s0-c2-n20", 1), ("aiohttp-s0.01-c2-n20", 1), ("aiohttp-s0-c2-n20", 2),
    ]
    assert runs[-1]["raw"] == "raw/aiohttp-s0-c2-n20-p2-r1.txt"
    assert "Complete requests:      20" in (out / runs[-1]["raw"]).read_text()
    passes = {c.point.id: c.passes for c in result.comparisons}
    assert passes == {"aiohttp-s0-c2-n20": 2, "aiohttp-s0.01-c2-n20": 1}
    assert "| `aiohttp-s0-c2-n20` | RPS (#/s) |" in (out / "report.md").read_text()
    assert validate(plan, out).measured_runs == 0


def test_cpu_dominated_points_measure_the_calibrations_runs_again(tmp_path: Path, tag: str):
    # Behaviour only: the reference run is measured before and after, stored and reported; how
    # far it moved is the machine's business.
    from asim.validate.drift import Reference

    scenario = tmp_path / "cpu.toml"
    scenario.write_text('servers = ["aiohttp"]\nsleeps_s = [0]\nconcurrencies = [2]\n'
                        "requests = 20\nrepeats = 1\n")
    plan = load_plan(scenario)
    out = tmp_path / "out"
    ref = Reference(name="aiohttp warm", server="aiohttp", requests=50, calibrated_rps=1000.0)
    validate(plan, out, references=(ref,))

    assert marked_pids(tag) == []
    checks = json.loads((out / "drift.json").read_text())
    assert [(c["name"], c["when"]) for c in checks] == [("aiohttp warm", "before"),
                                                        ("aiohttp warm", "after")]
    assert all(c["measured_rps"] > 0 and c["calibrated_rps"] == 1000.0 for c in checks)
    assert "## The machine since the calibration" in (out / "report.md").read_text()
    # Nothing left to measure: no reference runs either.
    validate(plan, out, references=(ref,))
    assert len(json.loads((out / "drift.json").read_text())) == 2


def test_io_dominated_points_alone_measure_no_reference(tmp_path: Path, tag: str):
    from asim.validate.drift import Reference

    scenario = tmp_path / "io.toml"
    scenario.write_text('servers = ["aiohttp"]\nsleeps_s = [0.01]\nconcurrencies = [2]\n'
                        "requests = 10\nrepeats = 1\n")
    out = tmp_path / "out"
    ref = Reference(name="aiohttp warm", server="aiohttp", requests=50, calibrated_rps=1000.0)
    validate(load_plan(scenario), out, references=(ref,))
    assert not (out / "drift.json").exists()
