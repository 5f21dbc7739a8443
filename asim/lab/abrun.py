"""Run the real ApacheBench against a loopback URL and read its report.

`run_ab` always returns an `AbRun` for a run that ab itself ended: a run that failed (non-zero
exit, poll timeout, connection reset) has ``report=None`` and says why in ``problems``; a run that
finished but whose numbers are not a clean measurement (failed requests, non-2xx responses, fewer
requests than asked) keeps its report and lists what is wrong in ``problems``. `AbRun.checked`
turns either case into an AbError for callers that want only clean numbers.

ab runs in its own session, so a Ctrl-C in the terminal reaches asim only (ab would otherwise
catch SIGINT and print a report of the requests done so far); on any interruption ab is killed
and reaped before the exception goes on.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from asim.errors import AbError, AbNotFoundError, AbParseError, InputError
from asim.lab.procs import die_with_parent, is_loopback, signals_deferred
from asim.sim.abreport import AbReport
from asim.sim.abtext import AbText, parse_ab_text
from asim.sim.spec import MAX_CONCURRENCY

# stderr lines ab prints on every healthy run (progress when -n > 150)
_PROGRESS_PREFIXES = ("Completed ", "Finished ")


def find_ab() -> str:
    """The path of the ``ab`` executable; AbNotFoundError says how to install it."""
    path = shutil.which("ab")
    if path is None:
        raise AbNotFoundError(
            "ApacheBench (ab) is not installed: run 'apt-get install apache2-utils' "
            "(as root, or with sudo)"
        )
    return path


@dataclass(frozen=True, kw_only=True)
class AbRun:
    """One finished ab process: what ran, what it printed, and what asim read from it."""

    command: tuple[str, ...]
    raw_text: str
    stderr: str
    returncode: int
    report: AbReport | None
    problems: tuple[str, ...] = ()
    text: AbText | None = None
    started_wall_ns: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """ab finished, its report was read, and nothing in it is suspect."""
        return self.report is not None and not self.problems

    def command_line(self) -> str:
        return " ".join(self.command)

    def checked(self) -> AbReport:
        """The report, or AbError naming the first problem (for callers that need clean runs)."""
        if self.report is not None and not self.problems:
            return self.report
        why = "; ".join(self.problems) or f"ab exited with code {self.returncode}"
        raise AbError(f"`{self.command_line()}`: {why}")


def check_url(url: str) -> str:
    """``url`` if ab can load it and it is on this machine (with ``/`` added for an empty path).

    InputError otherwise: asim sends load only to 127.0.0.0/8, ::1 or localhost.
    """
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise InputError(f"ab URL must start with http:// (got {url!r})")
    host = parts.hostname or ""
    if not is_loopback(host):
        raise InputError(
            f"ab URL {url!r} is not on this machine; asim loads 127.0.0.1, ::1 or localhost only"
        )
    try:
        if parts.port is None:
            raise InputError(f"ab URL {url!r} needs an explicit port")
    except ValueError:
        raise InputError(f"ab URL {url!r} has an invalid port") from None
    return url if parts.path else url + "/"


def ab_command(
    url: str,
    *,
    requests: int,
    concurrency: int,
    keepalive: bool = False,
    timeout_s: int = 30,
    gnuplot_path: Path | str | None = None,
    ab_path: str = "ab",
) -> list[str]:
    """The argv of ``ab -n requests -c concurrency [-k] -s timeout [-g file] url``."""
    if not (isinstance(requests, int) and requests >= 1):
        raise InputError(f"requests must be a positive integer, got {requests}")
    if not (isinstance(concurrency, int) and 1 <= concurrency <= MAX_CONCURRENCY):
        raise InputError(f"concurrency must be between 1 and {MAX_CONCURRENCY}, got {concurrency}")
    if concurrency > requests:
        raise InputError(
            f"concurrency {concurrency} exceeds requests {requests}: ab refuses a concurrency "
            "level greater than the number of requests"
        )
    if not (isinstance(timeout_s, int) and 1 <= timeout_s <= 86400):
        raise InputError(f"timeout_s must be a whole number of seconds >= 1, got {timeout_s}")
    argv = [ab_path, "-n", str(requests), "-c", str(concurrency)]
    if keepalive:
        argv.append("-k")
    argv += ["-s", str(timeout_s)]
    if gnuplot_path is not None:
        argv += ["-g", str(gnuplot_path)]
    argv.append(check_url(url))
    return argv


def run_ab(
    url: str,
    *,
    requests: int,
    concurrency: int,
    keepalive: bool = False,
    timeout_s: int = 30,
    gnuplot_path: Path | str | None = None,
) -> AbRun:
    """Run ``ab`` to the end and read its report (see the module docstring for failures).

    ``timeout_s`` is ab's ``-s``: ab gives up when nothing at all happens for that long.
    ``gnuplot_path`` asks ab for its per-request ``-g`` file.
    """
    argv = ab_command(
        url, requests=requests, concurrency=concurrency, keepalive=keepalive,
        timeout_s=timeout_s, gnuplot_path=gnuplot_path, ab_path=find_ab(),
    )
    if gnuplot_path is not None:
        Path(gnuplot_path).parent.mkdir(parents=True, exist_ok=True)
    started_wall_ns = time.time_ns()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, preexec_fn=lambda: die_with_parent(signal.SIGKILL),
    )
    try:
        out, err = proc.communicate()
    except BaseException:
        _kill(proc)
        raise
    elapsed_s = time.monotonic() - t0
    raw = out.decode(errors="replace")
    stderr = err.decode(errors="replace")
    report, text, problems = read_run(raw, stderr, proc.returncode, requests=requests)
    return AbRun(
        command=tuple(argv), raw_text=raw, stderr=stderr, returncode=proc.returncode,
        report=report, problems=problems, text=text,
        started_wall_ns=started_wall_ns, elapsed_s=elapsed_s,
    )


def read_run(
    raw: str, stderr: str, returncode: int, *, requests: int
) -> tuple[AbReport | None, AbText | None, tuple[str, ...]]:
    """Judge one ab run from its outputs: (report or None, parsed text or None, problems)."""
    errors = [ln.strip() for ln in stderr.splitlines()
              if ln.strip() and not ln.startswith(_PROGRESS_PREFIXES)]
    if returncode != 0:
        if returncode < 0:
            why = f"ab was killed by signal {-returncode}"
        else:
            why = f"ab exited with code {returncode}"
        if errors:
            why += f": {errors[-1]}"
        partial = [ln.strip() for ln in raw.splitlines() if ln.startswith("Total of ")]
        if partial:
            why += f" ({partial[-1]})"
        return None, None, (why,)
    try:
        text = parse_ab_text(raw)
    except AbParseError as exc:
        return None, None, (f"ab's output could not be read: {exc}",)
    report = text.report
    problems: list[str] = [f"ab said: {line}" for line in errors]
    if report.failed_requests:
        detail = ""
        if text.failed is not None:
            f = text.failed
            detail = (f" (Connect: {f.connect}, Receive: {f.receive}, Length: {f.length}, "
                      f"Exceptions: {f.exceptions})")
        problems.append(f"{report.failed_requests} failed requests{detail}")
    if report.non_2xx_responses:
        problems.append(f"{report.non_2xx_responses} non-2xx responses")
    if text.write_errors:
        problems.append(f"{text.write_errors} write errors")
    if report.complete_requests != requests:
        problems.append(f"{report.complete_requests} requests completed of {requests}")
    return report, text, tuple(problems)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill ab and reap it (used when asim is interrupted while ab runs)."""
    with signals_deferred():
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
