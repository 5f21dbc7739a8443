"""Read what ApacheBench prints: its report on stdout and its ``-g`` gnuplot file.

Pure functions on text, no I/O. The formats follow ``output_results`` in support/ab.c of httpd
2.4 (the ab 2.3 that Debian's apache2-utils ships):

- header lines ``Key:<spaces>value``; ``Failed requests`` is followed by a breakdown line
  ``(Connect: a, Receive: b, Length: c, Exceptions: d)`` only when it is non-zero;
  ``Write errors``, ``Non-2xx responses`` and ``Keep-Alive requests`` (with ``-k``) are printed
  only when they apply;
- the rate lines (Requests per second, both Time per request, Transfer rate) only when the time
  taken and the number done are non-zero;
- the "Connection Times (ms)" table ``min mean[+/-sd] median max`` only when done > 0, followed
  by ab's own WARNING/ERROR lines when a row's mean and median are more than one (two) standard
  deviations apart;
- the percentile table only when done > 1; with one request every percentile is that request.

The ``-g`` file has a header and one row per request, sorted by total time, with ab's
millisecond rounding of each column: ``starttime seconds ctime dtime ttime wait``, where dtime is
``round(time - ctime)`` (so it may differ by 1 from ttime - ctime).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from asim.errors import AbParseError
from asim.sim.abreport import PERCENTS, AbReport, Sample, TimesRow

BANNER = "This is ApacheBench"
GNUPLOT_HEADER = ("starttime", "seconds", "ctime", "dtime", "ttime", "wait")

_KEY_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9 -]*?):\s+(.*?)\s*$")
_FAILED_BREAKDOWN = re.compile(
    r"^\s*\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)\s*$"
)
_NUMBER = r"(-?(?:\d+(?:\.\d*)?|nan|inf))"
_TIMES_ROW = re.compile(
    rf"^(Connect|Processing|Waiting|Total):\s+(-?\d+)\s+(-?\d+)\s+{_NUMBER}\s+(-?\d+)\s+(-?\d+)\s*$"
)
_PERCENT_ROW = re.compile(r"^\s*(\d+)%\s+(-?\d+)(?: \(longest request\))?\s*$")
_SANE = re.compile(r"^(WARNING|ERROR): The median and mean for (the .+?) are ")
_ABORTED = re.compile(r"^Total of (\d+) requests completed\s*$", re.M)
_TIMES_HEADER = "Connection Times (ms)"
_PERCENT_HEADER = "Percentage of the requests served within a certain time (ms)"


@dataclass(frozen=True, kw_only=True)
class FailedBreakdown:
    """ab's ``(Connect: a, Receive: b, Length: c, Exceptions: d)`` line."""

    connect: int
    receive: int
    length: int
    exceptions: int


@dataclass(frozen=True, kw_only=True)
class AbText:
    """Everything ab's report says; `report` holds the numbers asim compares."""

    report: AbReport
    server_software: str
    server_hostname: str
    server_port: int
    document_path: str
    document_length_bytes: int | None  # None when ab printed "Variable"
    total_transferred_bytes: int
    html_transferred_bytes: int
    transfer_rate_kbytes_s: float
    failed: FailedBreakdown | None
    write_errors: int
    warnings: tuple[str, ...]  # ab's own mean-vs-median WARNING / ERROR lines, one line each


def parse_ab_output(text: str) -> AbReport:
    """The `AbReport` of ab's stdout; AbParseError when ``text`` is not a complete ab report."""
    return parse_ab_text(text).report


def parse_ab_text(text: str) -> AbText:
    """Read ab's stdout into an `AbText`; AbParseError says what is missing or malformed."""
    if not isinstance(text, str):
        raise AbParseError(f"ab output must be text, got {type(text).__name__}")
    lines = text.splitlines()
    values: dict[str, str] = {}
    rows: dict[str, TimesRow] = {}
    percents: dict[int, int] = {}
    warnings: list[str] = []
    failed: FailedBreakdown | None = None
    rates: list[str] = []
    saw_table = saw_percent_header = False

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if (m := _TIMES_ROW.match(line)) is not None:
            rows[m.group(1).lower()] = _times_row(m)
            continue
        if (m := _PERCENT_ROW.match(line)) is not None and saw_percent_header:
            percents[int(m.group(1))] = int(m.group(2))
            continue
        if (m := _FAILED_BREAKDOWN.match(line)) is not None:
            failed = FailedBreakdown(
                connect=int(m.group(1)), receive=int(m.group(2)),
                length=int(m.group(3)), exceptions=int(m.group(4)),
            )
            continue
        if (m := _SANE.match(line)) is not None:
            warnings.append(_sane_text(line, lines, number))
            continue
        stripped = line.strip()
        if stripped == _TIMES_HEADER:
            saw_table = True
            continue
        if stripped == _PERCENT_HEADER:
            saw_percent_header = True
            continue
        if stripped.startswith("min") and "avg" in stripped and "[+/-sd]" not in stripped:
            raise AbParseError("ab ran with -S (no confidence estimators); asim reads the "
                               "default report only")
        if (m := _KEY_LINE.match(line)) is not None:
            key, value = m.group(1), m.group(2)
            if key == "Time per request":
                rates.append(value)
            elif key not in values:
                values[key] = value

    if BANNER not in text and "Complete requests" not in values:
        head = next((ln.strip() for ln in lines if ln.strip()), "")
        raise AbParseError(f"not an ab report (starts with {head[:60]!r})" if head
                           else "not an ab report: the text is empty")
    if "Complete requests" not in values:
        aborted = _ABORTED.search(text)
        if aborted:
            raise AbParseError(f"ab stopped before its report ({aborted.group(0).strip()})")
        raise AbParseError("not a complete ab report: no 'Complete requests:' line")

    done = _int(values, "Complete requests")
    if done < 1:
        raise AbParseError("ab completed no request, so it printed no times")
    if not saw_table or set(rows) != {"connect", "processing", "waiting", "total"}:
        missing = sorted({"connect", "processing", "waiting", "total"} - set(rows))
        raise AbParseError(f"ab report lacks Connection Times rows: {', '.join(missing)}")
    if done > 1:
        lacking = [p for p in PERCENTS if p not in percents]
        if lacking:
            raise AbParseError(f"ab report lacks the {lacking[0]}% line of its percentile table")
    else:
        # with one request ab prints no table; every percentile is that request
        percents = dict.fromkeys(PERCENTS, rows["total"].max_ms)

    concurrency = _int(values, "Concurrency Level")
    taken_s = _float(values, "Time taken for tests", unit="seconds")
    if "Requests per second" not in values or len(rates) != 2:
        raise AbParseError(f"ab printed no rate lines (time taken {taken_s:.3f} s)")
    try:
        report = AbReport(
            concurrency=concurrency,
            complete_requests=done,
            time_taken_s=taken_s,
            requests_per_second=_float(values, "Requests per second", unit="[#/sec] (mean)"),
            time_per_request_ms=_rate(rates[0], "[ms] (mean)"),
            time_per_request_all_ms=_rate(rates[1], "[ms] (mean, across all concurrent requests)"),
            connect=rows["connect"],
            processing=rows["processing"],
            waiting=rows["waiting"],
            total=rows["total"],
            percentiles_ms={p: percents[p] for p in PERCENTS},
            failed_requests=_int(values, "Failed requests"),
            non_2xx_responses=_int(values, "Non-2xx responses") if "Non-2xx responses" in values
            else 0,
            keepalive_requests=_int(values, "Keep-Alive requests")
            if "Keep-Alive requests" in values else None,
        )
    except ValueError as exc:
        raise AbParseError(f"ab report is inconsistent: {exc}") from None

    length = _need(values, "Document Length")
    return AbText(
        report=report,
        server_software=values.get("Server Software", ""),
        server_hostname=_need(values, "Server Hostname"),
        server_port=_int(values, "Server Port"),
        document_path=_need(values, "Document Path"),
        document_length_bytes=None if length == "Variable" else _int(values, "Document Length",
                                                                     unit="bytes"),
        total_transferred_bytes=_int(values, "Total transferred", unit="bytes"),
        html_transferred_bytes=_int(values, "HTML transferred", unit="bytes"),
        transfer_rate_kbytes_s=_float(values, "Transfer rate", unit="[Kbytes/sec] received"),
        failed=failed,
        write_errors=_int(values, "Write errors") if "Write errors" in values else 0,
        warnings=tuple(warnings),
    )


def _need(values: dict[str, str], key: str) -> str:
    if key not in values:
        raise AbParseError(f"ab report lacks its '{key}:' line")
    return values[key]


def _strip_unit(values: dict[str, str], key: str, unit: str) -> str:
    text = _need(values, key)
    if unit:
        if not text.endswith(unit):
            raise AbParseError(f"ab's '{key}:' line should end in {unit!r}: {text!r}")
        text = text[: -len(unit)].strip()
    return text


def _int(values: dict[str, str], key: str, *, unit: str = "") -> int:
    text = _strip_unit(values, key, unit)
    if not re.fullmatch(r"-?\d+", text):
        raise AbParseError(f"ab's '{key}:' is not an integer: {text!r}")
    return int(text)


def _float(values: dict[str, str], key: str, *, unit: str = "") -> float:
    text = _strip_unit(values, key, unit)
    try:
        value = float(text)
    except ValueError:
        raise AbParseError(f"ab's '{key}:' is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise AbParseError(f"ab's '{key}:' is not finite: {text!r}")
    return value


def _rate(text: str, unit: str) -> float:
    return _float({"Time per request": text}, "Time per request", unit=unit)


def _times_row(m: re.Match[str]) -> TimesRow:
    return TimesRow(
        min_ms=int(m.group(2)),
        mean_ms=int(m.group(3)),
        sd_ms=float(m.group(4)),
        median_ms=int(m.group(5)),
        max_ms=int(m.group(6)),
    )


def _sane_text(line: str, lines: Sequence[str], number: int) -> str:
    """ab's two-line warning as one line (``lines[number]`` is the continuation)."""
    rest = lines[number].strip() if number < len(lines) else ""
    return " ".join(f"{line.strip()} {rest}".split())


@dataclass(frozen=True, kw_only=True, slots=True)
class GnuplotRow:
    """One request of ab's ``-g`` file (ms rounded by ab; start to the second)."""

    start_text: str  # apr_ctime, e.g. "Wed Nov 25 21:00:15 2026"
    start_epoch_s: int
    ctime_ms: int
    dtime_ms: int
    ttime_ms: int
    wait_ms: int


def parse_gnuplot(text: str) -> tuple[GnuplotRow, ...]:
    """Rows of an ``ab -g`` file, in file order (ab sorts them by total time)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise AbParseError("the ab -g file is empty")
    header = tuple(lines[0].rstrip("\r").split("\t"))
    if header != GNUPLOT_HEADER:
        raise AbParseError(
            f"not an ab -g file: header is {lines[0][:60]!r}, "
            f"expected {'<TAB>'.join(GNUPLOT_HEADER)!r}"
        )
    rows = []
    for number, line in enumerate(lines[1:], 2):
        parts = line.rstrip("\r").split("\t")
        if len(parts) != len(GNUPLOT_HEADER):
            raise AbParseError(f"ab -g file line {number}: {len(parts)} fields, expected 6")
        try:
            numbers = [int(p) for p in parts[1:]]
        except ValueError:
            raise AbParseError(f"ab -g file line {number}: not integers: {line!r}") from None
        rows.append(GnuplotRow(
            start_text=parts[0], start_epoch_s=numbers[0], ctime_ms=numbers[1],
            dtime_ms=numbers[2], ttime_ms=numbers[3], wait_ms=numbers[4],
        ))
    return tuple(rows)


def gnuplot_samples(rows: Sequence[GnuplotRow]) -> list[Sample]:
    """`Sample`s at ``ms * 1000`` µs from ``-g`` rows.

    ``start_us`` counts whole seconds from the earliest row's second (the file has no finer
    start); the intervals carry ab's rounding, so Processing is ``ttime - ctime``, not dtime.
    """
    if not rows:
        return []
    first_s = min(r.start_epoch_s for r in rows)
    return [
        Sample(
            start_us=(r.start_epoch_s - first_s) * 1_000_000,
            ctime_us=r.ctime_ms * 1000,
            time_us=r.ttime_ms * 1000,
            waittime_us=r.wait_ms * 1000,
        )
        for r in rows
    ]
