"""Write the text ApacheBench prints for an `AbReport`: the inverse of `asim.sim.abtext`.

The layout follows ``output_results`` in support/ab.c of httpd 2.4 (ab 2.3) line by line: the
banner, the header block, the rate lines, the "Connection Times (ms)" table with ab's own
WARNING/ERROR lines, and the percentile table (only when more than one request finished). With
``-n`` above 150 ab prints its progress on stderr, so stdout's "Benchmarking" line has no dots.

The model predicts the numbers; what the header says about the server (its ``Server:`` header,
the document and response sizes) is not modelled, so `Wire` carries it. `lab_wire` gives the
values the lab's own servers send, as real ab runs against them recorded them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from asim.sim.abreport import PERCENTS, AbReport, TimesRow
from asim.sim.spec import Scenario

BANNER = (
    "This is ApacheBench, Version 2.3 <$Revision$>\n"
    "Copyright 1996 Adam Twiss, Zeus Technology Ltd, http://www.zeustech.net/\n"
    "Licensed to The Apache Software Foundation, http://www.apache.org/\n"
    "\n"
)
HEARTBEAT_ABOVE = 150  # ab reports progress on stderr when -n exceeds this

LAB_HOST = "127.0.0.1"
BODY_BYTES = 16  # every lab server's handler answers "Hello, Anonymous"


@dataclass(frozen=True, kw_only=True)
class Wire:
    """What ab's header block says about the server and what it sent, per response."""

    software: str
    host: str
    port: int
    path: str = "/"
    document_length_bytes: int = BODY_BYTES
    response_bytes: int


@dataclass(frozen=True, kw_only=True)
class LabServer:
    """What one of the lab's real servers sends: ab's "Server Software" (the first word of its
    ``Server:`` header) and the bytes of one response, without and with ab -k."""

    software: str
    response_bytes: int
    keepalive_response_bytes: int


# Measured, not guessed: each server started once with `asim serve NAME --sleep 0` (aiohttp
# 3.14.5, gunicorn 27.0.1, uvicorn 0.54.0 with h11, Django 5.2.19, Python 3.11) and asked with
# `ab -n 1` and `ab -n 3 -k` on 127.0.0.1 (2026-11-30); the committed real runs in
# tests/fixtures/ab and figures/shapes/raw agree (tests/test_explore_abprint.py checks them).
# - aiohttp's "Server: Python/3.x aiohttp/3.x" (ab keeps the first word); with -k it adds
#   "Connection: keep-alive" (24 bytes).
AIOHTTP = LabServer(software=f"Python/{sys.version_info.major}.{sys.version_info.minor}",
                    response_bytes=169, keepalive_response_bytes=193)
# - gunicorn's sync workers answer every request with "Connection: close", -k or not.
GUNICORN_SYNC = LabServer(software="gunicorn", response_bytes=296, keepalive_response_bytes=296)
# - gunicorn's gthread workers keep ab -k's connections: "Connection: keep-alive", 5 bytes more.
GUNICORN_GTHREAD = LabServer(software="gunicorn", response_bytes=296,
                             keepalive_response_bytes=301)
# - uvicorn (h11) sends lower-case "server: uvicorn" and "date:"; it does not keep ab's
#   HTTP/1.0 connections open even with -k (ab counts 0 Keep-Alive requests), so its responses
#   are the same with -k.
UVICORN = LabServer(software="uvicorn", response_bytes=295, keepalive_response_bytes=295)

LAB_SERVERS: Mapping[str, LabServer] = MappingProxyType({
    "aiohttp": AIOHTTP,
    "aiohttp-blocking": AIOHTTP,
    "aiohttp-executor": AIOHTTP,
    "aiohttp-mixed": AIOHTTP,
    "django": GUNICORN_SYNC,
    "django-gthread": GUNICORN_GTHREAD,
    "django-asgi": UVICORN,
    "django-asgi-sync": UVICORN,
})


def lab_wire(scenario: Scenario) -> Wire:
    """The header values of the lab's real server for ``scenario``'s shape, on its default
    port (`asim serve`'s)."""
    server = LAB_SERVERS[scenario.server]
    size = server.keepalive_response_bytes if scenario.keepalive else server.response_bytes
    return Wire(software=server.software, host=LAB_HOST, port=scenario.shape.default_port,
                response_bytes=size)


def ab_text(report: AbReport, *, requests: int, keepalive: bool, wire: Wire) -> str:
    """ab's stdout for a run of ``ab -n requests -c report.concurrency [-k]`` that `report`
    summarises."""
    done = report.complete_requests
    total_bytes = done * wire.response_bytes
    html_bytes = done * wire.document_length_bytes
    dots = "" if requests > HEARTBEAT_ABOVE else ".....done"
    out = [BANNER, f"Benchmarking {wire.host} (be patient){dots}\n", "\n\n"]
    out.append(f"Server Software:        {wire.software}\n")
    out.append(f"Server Hostname:        {wire.host}\n")
    out.append(f"Server Port:            {wire.port}\n\n")
    out.append(f"Document Path:          {wire.path}\n")
    out.append(f"Document Length:        {wire.document_length_bytes} bytes\n\n")
    out.append(f"Concurrency Level:      {report.concurrency}\n")
    out.append(f"Time taken for tests:   {report.time_taken_s:.3f} seconds\n")
    out.append(f"Complete requests:      {done}\n")
    out.append(f"Failed requests:        {report.failed_requests}\n")
    if report.failed_requests:  # the model's failures are ab's Length failures
        out.append(f"   (Connect: 0, Receive: 0, Length: {report.failed_requests}, "
                   "Exceptions: 0)\n")
    if report.non_2xx_responses:
        out.append(f"Non-2xx responses:      {report.non_2xx_responses}\n")
    if keepalive:
        out.append(f"Keep-Alive requests:    {report.keepalive_requests or 0}\n")
    out.append(f"Total transferred:      {total_bytes} bytes\n")
    out.append(f"HTML transferred:       {html_bytes} bytes\n")
    out.append(f"Requests per second:    {report.requests_per_second:.2f} [#/sec] (mean)\n")
    out.append(f"Time per request:       {report.time_per_request_ms:.3f} [ms] (mean)\n")
    out.append(f"Time per request:       {report.time_per_request_all_ms:.3f} [ms] "
               "(mean, across all concurrent requests)\n")
    rate = total_bytes / 1024 / report.time_taken_s
    out.append(f"Transfer rate:          {rate:.2f} [Kbytes/sec] received\n")
    out.append("\nConnection Times (ms)\n")
    out.append("              min  mean[+/-sd] median   max\n")
    rows = (("Connect:    ", report.connect), ("Processing: ", report.processing),
            ("Waiting:    ", report.waiting), ("Total:      ", report.total))
    for name, row in rows:
        out.append(f"{name}{row.min_ms:5d} {row.mean_ms:4d} {row.sd_ms:5.1f} "
                   f"{row.median_ms:6d} {row.max_ms:7d}\n")
    for what, row in (("the initial connection time", report.connect),
                      ("the processing time", report.processing),
                      ("the waiting time", report.waiting),
                      ("the total time", report.total)):
        out.append(_sane(what, row))
    if done > 1:
        out.append("\nPercentage of the requests served within a certain time (ms)\n")
        for p in PERCENTS:
            ms = report.percentiles_ms[p]
            out.append(f" 100%  {ms:5d} (longest request)\n" if p >= 100
                       else f"  {p}%  {ms:5d}\n")
    return "".join(out)


def _sane(what: str, row: TimesRow) -> str:
    """ab's SANE() check: mean and median (whole ms) against the standard deviation."""
    d = abs(row.mean_ms - row.median_ms)
    if d > 2 * row.sd_ms:
        return (f"ERROR: The median and mean for {what} are more than twice the standard\n"
                "       deviation apart. These results are NOT reliable.\n")
    if d > row.sd_ms:
        return (f"WARNING: The median and mean for {what} are not within a normal deviation\n"
                "        These results are probably not that reliable.\n")
    return ""
