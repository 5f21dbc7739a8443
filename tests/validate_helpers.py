"""Synthetic inputs for the validate tests: AbReports built with ab's own arithmetic."""

from __future__ import annotations

from dataclasses import dataclass, field

from asim.sim.abreport import AbReport, Sample


def synthetic_report(
    *,
    concurrency: int,
    requests: int = 20,
    request_ms: float = 100.0,
    taken_ms: float | None = None,
) -> AbReport:
    """A report whose every request took ``request_ms`` and the whole run ``taken_ms``."""
    time_us = int(request_ms * 1000)
    samples = [
        Sample(start_us=i * 10, ctime_us=100, time_us=time_us + 10 * i, waittime_us=time_us - 200)
        for i in range(requests)
    ]
    taken_us = int(
        (taken_ms if taken_ms is not None else request_ms * requests / concurrency) * 1000
    )
    return AbReport.from_samples(samples, concurrency=concurrency, time_taken_us=taken_us)


@dataclass
class FakeAbRun:
    """The fields of asim.lab.abrun.AbRun the store reads."""

    report: AbReport | None
    raw_text: str = "This is ApacheBench, Version 2.3\n"
    stderr: str = ""
    returncode: int = 0
    command: tuple[str, ...] = ("ab", "-n", "20", "-c", "2", "http://127.0.0.1:1/")
    problems: tuple[str, ...] = field(default_factory=tuple)
