"""The `asim` command line: parse, call the library, render. Nothing else lives here."""

from __future__ import annotations

import sys

import typer

from asim.errors import AsimError

app = typer.Typer(
    name="asim",
    help="Predict, then prove, what ApacheBench prints for aiohttp and Django/gunicorn servers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def parse_list(option: str, text: str, kind: type) -> list:
    """Parse a comma-separated option value (``"5,10,20"``) into numbers of ``kind``."""
    from asim.errors import InputError

    items = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in items):
        raise InputError(f"{option}: malformed list {text!r} (expected e.g. 5,10,20)")
    values = []
    for part in items:
        try:
            values.append(kind(part))
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise InputError(f"{option}: {part!r} is not {noun}") from None
    return values


@app.command()
def predict(
    server: str = typer.Option(
        "aiohttp,django", help="aiohttp, aiohttp-blocking, django (comma list)."
    ),
    workers: str = typer.Option("1", help="gunicorn sync workers for django (comma list)."),
    sleep: str = typer.Option("0.1", help="Handler IO wait in seconds (comma list)."),
    concurrency: str = typer.Option(
        "5,10,20,40", "--concurrency", "-c", help="ab -c (comma list)."
    ),
    requests: int = typer.Option(100, "--requests", "-n", help="ab -n."),
    keepalive: bool = typer.Option(False, "--keepalive", "-k", help="ab -k (HTTP keep-alive)."),
    cores: int = typer.Option(0, help="CPU cores shared by server and ab (0: this machine's)."),
    fmt: str = typer.Option("table", "--format", help="table, json or csv."),
    method: str = typer.Option(
        "des", help="des (simulate ab and the server), mva, bounds (steady state) or all."
    ),
    calibration: str = typer.Option(
        "auto", help="auto (this machine's file if `asim calibrate` wrote one), none, or a path."
    ),
    exact: bool = typer.Option(
        False, "--exact", help="Simulate every request of a long run instead of replicating "
        "its measured steady state (slower)."
    ),
) -> None:
    """Predict what ab prints for a grid of server shapes (no servers started)."""
    from asim.calibration.file import resolve
    from asim.errors import InputError
    from asim.grid import predict as run_predict
    from asim.grid import scenarios
    from asim.render import print_table, to_csv, to_json
    from asim.sim.spec import machine_cores

    if fmt not in ("table", "json", "csv"):
        raise InputError(f"--format must be table, json or csv, not {fmt!r}")
    if cores < 0:
        raise InputError(f"--cores must be >= 1 (or 0 for this machine's), got {cores}")
    grid = scenarios(
        servers=[s.strip() for s in server.split(",")] if server.strip() else [""],
        workers=parse_list("--workers", workers, int),
        sleeps_s=parse_list("--sleep", sleep, float),
        concurrencies=parse_list("--concurrency", concurrency, int),
        requests=requests,
        keepalive=keepalive,
        cores=cores or machine_cores(),
    )
    cal = resolve(calibration)
    points = run_predict(grid, method=method, costs=cal.costs, exact=exact)
    check = None if cal.check is None else cal.check.verdict()
    if fmt == "json":
        typer.echo(to_json(points, calibration=cal.describe(), calibration_check=check))
    elif fmt == "csv":
        typer.echo(cal.describe(), err=True)
        if cal.check_note():
            typer.echo(cal.check_note(), err=True)
        typer.echo(to_csv(points), nl=False)
    else:
        print_table(
            points,
            title=f"Predicted ab -n {requests} ({grid[0].cores} cores; {cal.describe()})",
            cpu_spread_pct=cal.cpu_spread_pct(),
            calibrated=cal.path is not None,
        )
        if cal.check_note():
            typer.echo(cal.check_note())


@app.command()
def calibrate(
    out: str = typer.Option("", help="Where to write the calibration (default: the file "
                            "predict and validate read, see `asim predict --help`)."),
    refit: str = typer.Option("", help="Measure nothing: fit again the runs recorded in this "
                              "calibration file."),
) -> None:
    """Measure this machine's per-request costs with the real servers and ab, fit the model to
    those runs and check that it reproduces them (about a minute)."""
    from pathlib import Path

    from asim.calibration.file import default_path, load, save
    from asim.calibration.fit import calibrate as run_calibrate
    from asim.calibration.fit import check_lines
    from asim.calibration.fit import refit as run_refit

    path = Path(out) if out else (Path(refit) if refit else default_path())
    progress = lambda msg: typer.echo(f"  {msg}", err=True)  # noqa: E731
    cal = run_refit(load(Path(refit)), progress) if refit else run_calibrate(progress=progress)
    save(cal, path)
    c = cal.costs
    typer.echo(f"wrote {path}")
    if cal.check is not None:
        for line in check_lines(cal.check):
            typer.echo(line)
    for label, value in (
        ("ab CPU per request, warm / cold extra",
         f"{c.ab_cpu_s * 1e6:.0f} / {c.ab_cold_cpu_s * 1e6:.0f} us"),
        ("event loop CPU per request, warm / cold extra",
         f"{c.loop_cpu_s * 1e6:.0f} / {c.loop_cold_cpu_s * 1e6:.0f} us"),
        ("gunicorn worker CPU per request, warm / cold extra",
         f"{c.worker_cpu_s * 1e6:.0f} / {c.worker_cold_cpu_s * 1e6:.0f} us"),
        ("cold time constant", f"{c.cold_tau_s * 1e3:.1f} ms"),
        ("time.sleep / epoll timer overshoot",
         f"{c.time_sleep_overshoot_s * 1e6:.0f} / {c.timer_overshoot_s * 1e6:.0f} us"),
        ("wake-up latency (fitted)", f"{c.wakeup_s * 1e6:.0f} us"),
    ):
        typer.echo(f"  {label:52} {value}")
    spread = cal.cpu_spread_pct()
    if spread is not None:
        typer.echo(f"  {'run-to-run spread of the sleep-0 runs (max)':52} {spread:.0f} %"
                   "  (CPU-dominated predictions vary about that much)")


def main() -> None:
    """Console entry point: every expected failure is one line on stderr and an exit code."""
    try:
        result = app(standalone_mode=False)
    except AsimError as exc:
        typer.echo(f"asim: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.exceptions.TyperException as exc:  # usage errors: unknown option, bad value
        if getattr(exc, "exit_code", 1) == 2 and "NoArgsIsHelp" in type(exc).__name__:
            typer.echo(app_help_text(), err=False)
            sys.exit(0)
        typer.echo(f"asim: error: {exc.format_message()}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("asim: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:  # the reader went away (`asim predict | head`): nothing to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    sys.exit(result if isinstance(result, int) else 0)


def app_help_text() -> str:
    """The top-level --help text (shown when asim runs with no arguments)."""
    from typer.testing import CliRunner

    return CliRunner().invoke(app, ["--help"]).output


@app.command()
def version() -> None:
    """Print asim's version."""
    from asim import __version__

    typer.echo(__version__)


@app.command()
def validate(
    task: str = typer.Argument(
        None, help="task7, task8, task9, all, or a .toml scenario file.", show_default=False
    ),
    repeat: int = typer.Option(
        None, "--repeat", "-r", help="Runs per point (default 3, or the file's repeats).",
        show_default=False,
    ),
    out: str = typer.Option(
        None, "--out", "-o", help="Results folder (default results/<timestamp>/); runs already "
        "in it are reused.", show_default=False,
    ),
    resume_dir: str = typer.Option(
        None, "--resume", help="Finish the runs missing from an earlier results folder.",
        show_default=False,
    ),
    calibration: str = typer.Option(
        "auto", help="Model costs: auto (this machine's `asim calibrate` file if any), none, "
        "or a calibration file.",
    ),
) -> int:
    """Run the lab for real: start the servers, run ab, compare with the model, write report.md."""
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from asim.calibration.file import resolve
    from asim.errors import AbError
    from asim.validate.report import console_rows
    from asim.validate.run import RichProgress, plan_and_folder
    from asim.validate.run import validate as run_validate

    plan, folder = plan_and_folder(
        task,
        repeats=repeat,
        out=None if out is None else Path(out),
        resume_dir=None if resume_dir is None else Path(resume_dir),
    )
    cal = resolve(calibration)
    console = Console()
    console.print(f"asim validate {plan.name}: {len(plan.points())} points × {plan.repeats} "
                  f"run(s) → {folder}/")
    console.print(cal.describe())
    try:
        with RichProgress(console) as progress:
            result = run_validate(plan, folder, listener=progress, costs=cal.costs)
    except KeyboardInterrupt:
        typer.echo(f"asim: interrupted; finished runs are kept in {folder}/points.jsonl, "
                   f"measure the rest with: asim validate --resume {folder}", err=True)
        raise
    header, rows = console_rows(result.comparisons)
    table = Table(title="measured / model, error = (model − measured) / measured",
                  show_lines=True)
    for name in header:
        first = name == "Point"
        table.add_column(name, justify="left" if first else "right", no_wrap=first)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for e in result.errors:
        if e.points:
            console.print(f"{e.metric.label}: median |error| {e.median_abs_pct:.1f} %, "
                          f"max {e.max_abs_pct:.1f} % ({e.worst_point_id})")
    console.print(f"report: {result.report_path}")
    missing = [c.point.id for c in result.comparisons if not c.observed]
    if missing:
        raise AbError(f"no measurement for {', '.join(missing)}; see {folder}/points.jsonl")
    return 0


@app.command()
def serve(
    kind: str = typer.Argument(..., help="aiohttp, aiohttp-blocking or django."),
    sleep: float = typer.Option(0.1, help="Handler IO wait in seconds."),
    workers: int = typer.Option(1, help="gunicorn sync workers (django only)."),
    host: str = typer.Option("127.0.0.1", help="Loopback address to listen on."),
    port: int = typer.Option(
        None, help="TCP port (default 8088 for aiohttp kinds, 8089 for django, as in the lab).",
        show_default=False,
    ),
    trace: str = typer.Option(
        None, help="Append one line per request to this file (asim.servers.trace).",
        show_default=False,
    ),
) -> None:
    """Run one of the lab's real servers in the foreground until Ctrl-C."""
    from asim.errors import InputError
    from asim.lab.procs import DEFAULT_PORTS, ServerSpec
    from asim.lab.procs import serve as run_serve

    if kind != "django" and workers != 1:
        raise InputError(f"--workers applies to django only (got {workers} for {kind})")
    spec = ServerSpec(
        kind=kind, sleep_s=sleep, workers=workers, host=host,
        port=port if port is not None else DEFAULT_PORTS.get(kind),
    )

    def ready(server) -> None:
        typer.echo(f"{spec.label()} listening on {server.url} (pid {server.pid}); "
                   "Ctrl-C to stop")
        typer.echo("server: " + " ".join(server.command))
        if spec.kind == "django":
            typer.echo(f"        with ASIM_SLEEP_S={spec.sleep_s!r}")

    run_serve(spec, on_ready=ready, trace_file=trace)
    typer.echo("stopped")


@app.command()
def timeline(
    server: str = typer.Option("django", help="aiohttp, aiohttp-blocking or django."),
    workers: int = typer.Option(1, help="gunicorn sync workers (django only)."),
    concurrency: int = typer.Option(5, "--concurrency", "-c", help="ab -c."),
    requests: int = typer.Option(12, "--requests", "-n", help="ab -n."),
    sleep: float = typer.Option(0.1, help="Handler IO wait in seconds."),
    out: str = typer.Option("timeline.png", "--out", "-o",
                            help="PNG to write; the SVG goes beside it."),
    observed: bool = typer.Option(False, "--observed",
                                  help="Start the real server, run the real ab and draw that."),
    lang: str = typer.Option("en", help="Labels in en or ru."),
) -> None:
    """Draw a Gantt timeline of one small ab run: ab's slots, the workers or the event loop."""
    from pathlib import Path

    from asim.lecture.build import (
        check_png,
        simulated_timeline,
        timeline_scenario,
        timeline_title,
        write_timeline,
    )
    from asim.lecture.captions import check_lang

    check_lang(lang)
    check_png(out)
    scenario = timeline_scenario(server, workers=workers, concurrency=concurrency,
                                 requests=requests, sleep_s=sleep)
    if observed:
        from asim.lecture.observed import observed_timeline

        drawn = observed_timeline(scenario)
    else:
        drawn = simulated_timeline(scenario)
    png, svg = write_timeline(drawn, Path(out), lang=lang,
                              title=timeline_title(scenario, lang, observed=observed))
    typer.echo(f"timeline of {scenario.label()}{' (measured)' if observed else ''}: "
               f"{png} and {svg}")


@app.command()
def lecture(
    out: str = typer.Option("lecture", "--out", "-o", help="Folder for figures and lecture.md."),
    lang: str = typer.Option("en", help="Labels and captions in en or ru."),
) -> None:
    """Write the lecture figures (PNG and SVG) and lecture.md with their captions."""
    from asim.lecture.build import build_lecture

    made = build_lecture(out, lang=lang)
    typer.echo(f"{len(made.figures)} figures in {made.folder}/: "
               f"{', '.join(f.png.name for f in made.figures)}; captions in {made.markdown}")
