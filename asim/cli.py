"""The `asim` command line: parse, call the library, render. Nothing else lives here.

Commands import what they need inside their own body, for start-up time: `asim predict` must
start without loading matplotlib (about 1 s), rich's tables, or the real-world runners.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from asim.errors import AsimError, InputError, SweepError
from asim.limits import CALIBRATION_ROUNDS, MAX_CALIBRATION_ROUNDS, parse_numbers
from asim.sim.shapes import BLOCKING, NAMES, THREADS, WORKERS, choices_help, shape, takers
from asim.validate.tasks import BUILTIN_TASKS


class _Commands(TyperGroup):
    """asim's commands, whose flags show no type in --help (typer would print ``<bool>`` for
    a flag, which takes no value)."""

    def get_params(self, ctx):  # type: ignore[no-untyped-def]
        return _untyped_flags(super().get_params(ctx))

    def get_command(self, ctx, name):  # type: ignore[no-untyped-def]
        command = super().get_command(ctx, name)
        if command is not None:
            _untyped_flags(command.get_params(ctx))
        return command


def _untyped_flags(params):  # type: ignore[no-untyped-def]
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


app = typer.Typer(
    name="asim",
    help="Predict, then prove, what ApacheBench prints for aiohttp and Django/gunicorn servers.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=_Commands,
)


def _print_version(value: bool) -> None:
    if value:
        from asim import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print asim's version."
    ),
) -> None:
    """Predict, then prove, what ApacheBench prints for aiohttp and Django/gunicorn servers."""


@app.command()
def predict(
    server: str = typer.Option("aiohttp,django", help=f"{choices_help()} (comma list)."),
    workers: str = typer.Option(
        "1", help=f"Worker processes for {', '.join(takers(WORKERS))} (comma list)."
    ),
    threads: str = typer.Option(
        None, help=f"Pool threads for {', '.join(takers(THREADS))} (comma list; default: "
        "the shape's).", show_default=False,
    ),
    blocking: str = typer.Option(
        None, help=f"Blocking slice in seconds for {', '.join(takers(BLOCKING))} (comma list; "
        "default 0.001).", show_default=False,
    ),
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
    wide: bool = typer.Option(
        False, "--wide", help="Show every column of the table, even past a narrow terminal's "
        "width (by default columns that do not fit are left out, and a note names them)."
    ),
    jobs: int = typer.Option(
        0, "--jobs", "-j", help="Local processes for the grid (0: this machine's cores; a grid "
        "that takes under half a second runs in this process)."
    ),
    scheduler: str = typer.Option(
        "", help="Run the grid on this Dask distributed scheduler (e.g. tcp://10.0.0.5:8786; "
        "its workers need asim) instead of local processes."
    ),
) -> None:
    """Predict what ab prints for a grid of server shapes (no servers started)."""
    from asim.calibration.file import resolve
    from asim.grid import method_names, scenarios
    from asim.limits import check_sleeps
    from asim.render import failure_lines, print_table, stream, sweep_progress
    from asim.sim.spec import machine_cores
    from asim.sweep import Job, Sweep

    if fmt not in ("table", "json", "csv"):
        raise InputError(f"--format must be table, json or csv, not {fmt!r}")
    if cores < 0:
        raise InputError(f"--cores must be >= 1 (or 0 for this machine's), got {cores}")
    grid = scenarios(
        servers=[s.strip() for s in server.split(",")] if server.strip() else [""],
        workers=parse_numbers("--workers", workers, int),
        threads=(None,) if threads is None else parse_numbers("--threads", threads, int),
        blockings_s=(None,) if blocking is None else parse_numbers("--blocking", blocking, float),
        sleeps_s=check_sleeps(parse_numbers("--sleep", sleep, float)),
        concurrencies=parse_numbers("--concurrency", concurrency, int),
        requests=requests,
        keepalive=keepalive,
        cores=cores or machine_cores(),
    )
    cal = resolve(calibration)
    job = Job(methods=method_names(method), costs=cal.costs, exact=exact, memory=cal.memory)
    check = None if cal.check is None else cal.check.verdict()
    if fmt == "csv":
        typer.echo(cal.describe(), err=True)
        if cal.check_note():
            typer.echo(cal.check_note(), err=True)
    with Sweep(jobs=jobs, scheduler=scheduler or None) as sweep, \
            sweep_progress(len(grid)) as tick:
        outcomes = stream(sweep.run(grid, job, on_done=tick), fmt=fmt,
                          calibration=cal.describe(), calibration_check=check)
    points = [p for o in outcomes for p in o.points]
    if fmt == "table" and points:
        print_table(
            points,
            title=f"Predicted ab -n {requests} ({grid[0].cores} cores; {cal.describe()})",
            cpu_spread_pct=cal.cpu_spread_pct(),
            calibrated=cal.path is not None,
            wide=wide,
        )
        if cal.check_note():
            typer.echo(cal.check_note())
    failures = failure_lines(outcomes)
    for line in failures:
        typer.echo(f"asim: failed: {line}", err=True)
    if failures:
        raise SweepError(f"{len(failures)} of {len(grid)} scenarios failed (listed above)")


@app.command()
def calibrate(
    out: str = typer.Option("", help="Where to write the calibration (default: the file "
                            "predict and validate read, see `asim predict --help`; also with "
                            "--refit, whose input is never overwritten unless --out names it)."),
    refit: str = typer.Option("", help="Measure nothing: fit again the runs recorded in this "
                              "calibration file."),
    servers: str = typer.Option("all", help="The new shapes to calibrate after aiohttp and "
                                "Django: all (about 22 s more), first (none: aiohttp and Django "
                                "alone), or a comma list such as django-asgi,django-asgi-sync."),
    rounds: int = typer.Option(CALIBRATION_ROUNDS, help="Interleaved rounds of aiohttp's and "
                               "Django's runs; each run's medians over them are fitted. A round "
                               "takes about 7 s; more rounds pin the cold extras closer."),
) -> None:
    """Measure this machine's per-request costs with the real servers and ab, fit the model to
    those runs and check that it reproduces them (about 95 s)."""
    from pathlib import Path

    from asim.calibration.file import default_path, load, save
    from asim.calibration.fit import calibrate as run_calibrate
    from asim.calibration.fit import check_lines
    from asim.calibration.fit import refit as run_refit
    from asim.render import calibration_summary

    path = Path(out) if out else default_path()
    progress = lambda msg: typer.echo(f"  {msg}", err=True)  # noqa: E731
    from asim.calibration.shapes_fit import parse_servers, summary_lines

    chosen = parse_servers(servers)
    if not 2 <= rounds <= MAX_CALIBRATION_ROUNDS:
        raise InputError(f"--rounds must be between 2 and {MAX_CALIBRATION_ROUNDS}, got {rounds}")
    cal = (run_refit(load(Path(refit)), progress, jobs=None) if refit
           else run_calibrate(progress=progress, servers=chosen, rounds=rounds))
    save(cal, path)
    typer.echo(f"wrote {path}")
    if cal.check is not None:
        for line in check_lines(cal.check):
            typer.echo(line)
    for line in calibration_summary(cal):
        typer.echo(line)
    for line in summary_lines(cal):
        typer.echo(line)


@app.command()
def validate(
    task: str = typer.Argument(
        None, help=f"{', '.join(BUILTIN_TASKS)}, or a .toml scenario file.",
        show_default=False,
    ),
    repeat: int = typer.Option(
        None, "--repeat", "-r", help="Runs per point (default 3, or the file's repeats).",
        show_default=False,
    ),
    passes: int = typer.Option(
        None, "--passes", help="Measure the CPU-dominated points (sleep ≤ 2 ms) this many "
        "times, each pass after the whole plan's first, to show their noise floor (default 2; "
        "1 measures once; --resume keeps the folder's).", show_default=False,
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
        None, help="Model costs: auto (this machine's `asim calibrate` file if any), none, "
        "or a calibration file (default: auto; under --resume, the folder's calibration.json "
        "when it holds one). The file is copied into the results folder as calibration.json "
        "before the first run; a folder's copy is never replaced.", show_default=False,
    ),
    force: bool = typer.Option(
        False, "--force", help="Measure TASK in a --resume or --out folder that holds another "
        "plan (its plan.json is replaced; runs of points in both plans are reused).",
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Measure a plan estimated to take longer than an hour "
        "(without it such a plan is refused, with the estimate).",
    ),
) -> int:
    """Run the lab for real: start the servers, run ab, compare with the model, write report.md."""
    from pathlib import Path

    from rich.console import Console

    from asim.errors import AbError
    from asim.render import (
        memory_summary_line,
        validate_noise_summary,
        validate_summary,
        validate_table,
    )
    from asim.validate.budget import check_budget, estimate_runs
    from asim.validate.drift import load as load_drift
    from asim.validate.drift import references
    from asim.validate.drift import summary_line as drift_summary
    from asim.validate.kept_calibration import choose
    from asim.validate.run import RichProgress, plan_and_folder
    from asim.validate.run import validate as run_validate
    from asim.validate.store import ResultsDir

    plan, folder = plan_and_folder(
        task,
        repeats=repeat,
        out=None if out is None else Path(out),
        resume_dir=None if resume_dir is None else Path(resume_dir),
        passes=passes,
    )
    cal, kept_note = choose(folder, calibration, resuming=resume_dir is not None)
    estimate = estimate_runs(ResultsDir(folder).missing_runs(plan), costs=cal.costs)
    check_budget(estimate, yes=yes)
    console = Console()
    again = len(plan.pass_points(2)) if plan.passes > 1 else 0
    console.print(f"asim validate {plan.name}: {len(plan.points())} points × {plan.repeats} "
                  f"run(s)" + (f", {again} CPU-dominated measured in {plan.passes} passes"
                               if again else "") + f" → {folder}/; {estimate.describe()}")
    console.print(cal.describe())
    if kept_note:
        console.print(kept_note)
    try:
        with RichProgress(console) as progress:
            result = run_validate(plan, folder, listener=progress, costs=cal.costs,
                                  force=force, memory=cal.memory,
                                  references=references(cal.measured),
                                  calibration_file=cal.path)
    except KeyboardInterrupt:
        typer.echo(f"asim: interrupted; finished runs are kept in {folder}/points.jsonl, "
                   f"measure the rest with: asim validate --resume {folder}", err=True)
        raise
    console.print(validate_table(result.comparisons))
    for line in validate_summary(result.errors):
        console.print(line)
    for line in validate_noise_summary(result.comparisons):
        console.print(line)
    console.print(memory_summary_line(result.memory))
    drift = drift_summary(load_drift(folder))
    if drift:
        console.print(drift)
    console.print(f"report: {result.report_path}")
    missing = [c.point.id for c in result.comparisons if not c.observed]
    if missing:
        raise AbError(f"no measurement for {', '.join(missing)}; see {folder}/points.jsonl")
    return 0


@app.command()
def serve(
    kind: str = typer.Argument(..., help=f"{', '.join(NAMES)}."),
    sleep: float = typer.Option(0.1, help="Handler IO wait in seconds."),
    workers: int = typer.Option(
        1, help=f"Worker processes ({', '.join(takers(WORKERS))} only)."
    ),
    threads: int = typer.Option(
        None, help=f"Pool threads ({', '.join(takers(THREADS))} only; default: the shape's).",
        show_default=False,
    ),
    blocking: float = typer.Option(
        None, help=f"Blocking slice in seconds ({', '.join(takers(BLOCKING))} only; "
        "default 0.001).", show_default=False,
    ),
    host: str = typer.Option("127.0.0.1", help="Loopback address to listen on."),
    port: int = typer.Option(
        None, help="TCP port (default: the lab's, 8088 for aiohttp shapes, 8089 for django).",
        show_default=False,
    ),
    trace: str = typer.Option(
        None, help="Append one line per request to this file (asim.servers.trace).",
        show_default=False,
    ),
) -> None:
    """Run one of the lab's real servers in the foreground until Ctrl-C."""
    from asim.lab.procs import ServerSpec, server_command
    from asim.lab.procs import serve as run_serve

    spec = ServerSpec(
        kind=kind, sleep_s=sleep, workers=workers, threads=threads, blocking_s=blocking,
        host=host,
        port=port if port is not None else shape(kind).default_port,
    )

    def ready(server) -> None:
        typer.echo(f"{spec.label()} listening on {server.url} (pid {server.pid}); "
                   "Ctrl-C to stop")
        typer.echo("server: " + " ".join(server.command))
        for name, value in server_command(spec, server.port)[1].items():
            typer.echo(f"        with {name}={value}")

    run_serve(spec, on_ready=ready, trace_file=trace)
    typer.echo("stopped")


# What `timeline` and `lecture` simulate with: never this machine's calibration, so that a
# figure shows the same numbers wherever it is drawn.
BUILT_IN_COSTS = ("built-in defaults (asim's reference machine; figures are the same on every "
                  "machine, `asim calibrate` does not change them)")


@app.command()
def timeline(
    server: str = typer.Option("django", help=f"{', '.join(NAMES)}."),
    workers: int = typer.Option(1, help=f"Worker processes ({', '.join(takers(WORKERS))} only)."),
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
    if not observed:
        typer.echo(f"costs: {BUILT_IN_COSTS}")


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
    typer.echo(f"costs: {BUILT_IN_COSTS}")


@app.command()
def explore(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8050, help="TCP port (0: any free one)."),
    results: str = typer.Option(None, help="An `asim validate` results folder: its measured "
                                "points are drawn next to the model.", show_default=False),
    lang: str = typer.Option("en", help="Page language: en or ru."),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in a browser."),
    export: str = typer.Option(None, "--export", help="Write one offline .html file with a "
                               "precomputed grid instead of serving.", show_default=False),
) -> None:
    """Serve an interactive page that re-predicts ab's numbers as you move the controls."""
    from asim.explore.command import run_explore

    run_explore(host=host, port=port, results=results, lang=lang, open_browser=open_browser,
                export=export, echo=typer.echo)


@app.command()
def size(
    server: str = typer.Option("django", help="Server shapes to size (comma list): aiohttp, "
                               "aiohttp-blocking, django."),
    sleep: float = typer.Option(..., help="Handler IO wait in seconds."),
    concurrency: int = typer.Option(..., "--concurrency", "-c", help="ab -c: connected clients."),
    target_rps: float = typer.Option(..., help="Requests per second the run must reach."),
    p99_ms: float = typer.Option(..., help="99th percentile latency it must stay within, ms."),
    requests: int = typer.Option(0, "--requests", "-n", help="ab -n (0: ten times -c)."),
    max_workers: int = typer.Option(256, help="Largest gunicorn sync worker count to consider "
                                    "(event loops have nothing to size; thread counts, "
                                    "--threads, come with the threaded server shapes)."),
    keepalive: bool = typer.Option(False, "--keepalive", "-k", help="ab -k (HTTP keep-alive)."),
    cores: int = typer.Option(0, help="CPU cores shared by server and ab (0: this machine's)."),
    fmt: str = typer.Option("table", "--format", help="table, json or csv."),
    calibration: str = typer.Option(
        "auto", help="auto (this machine's file if `asim calibrate` wrote one), none, or a path."
    ),
    exact: bool = typer.Option(False, "--exact", help="Simulate every request of long runs."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Local processes for the simulations "
                             "(0: this machine's cores)."),
    scheduler: str = typer.Option("", help="Simulate on this Dask distributed scheduler."),
) -> None:
    """The fewest workers each server shape needs to meet an RPS and a p99 target under ab."""
    from asim.calibration.file import resolve
    from asim.errors import InputError
    from asim.render import print_sizing, sizing_csv, sizing_json
    from asim.sim.spec import Scenario, machine_cores
    from asim.size import Targets
    from asim.size import size as run_size
    from asim.sweep import Job, Sweep

    if fmt not in ("table", "json", "csv"):
        raise InputError(f"--format must be table, json or csv, not {fmt!r}")
    if cores < 0 or requests < 0:
        raise InputError("--cores and --requests must be >= 1 (or 0 for the default)")
    targets = Targets(rate_rps=target_rps, p99_ms=p99_ms)
    bases = [Scenario(server=name.strip(), sleep_s=sleep, concurrency=concurrency,
                      requests=requests or 10 * concurrency, keepalive=keepalive,
                      cores=cores or machine_cores()) for name in server.split(",")]
    cal = resolve(calibration)
    job = Job(costs=cal.costs, exact=exact, memory=cal.memory)
    with Sweep(jobs=jobs, scheduler=scheduler or None) as sweep:
        sizings = [run_size(b, targets, costs=cal.costs, max_workers=max_workers,
                            evaluate=lambda batch: list(sweep.run(batch, job)),
                            width=sweep.width) for b in bases]
    if fmt == "json":
        typer.echo(sizing_json(sizings, targets=targets, calibration=cal.describe()))
    elif fmt == "csv":
        typer.echo(cal.describe(), err=True)
        typer.echo(sizing_csv(sizings), nl=False)
    else:
        b = bases[0]
        print_sizing(sizings, title=(
            f"Fewest workers for >= {target_rps:g} requests/s with p99 <= {p99_ms:g} ms: "
            f"ab -n {b.requests} -c {b.concurrency}{' -k' if keepalive else ''}, sleep "
            f"{sleep:g} s, {b.cores} cores"), cpu_spread_pct=cal.cpu_spread_pct(),
            calibrated=cal.path is not None)
        typer.echo(cal.describe())


@app.command()
def version() -> None:
    """Print asim's version."""
    from asim import __version__

    typer.echo(__version__)


def main() -> None:
    """Console entry point: every expected failure is one line on stderr and an exit code."""
    try:
        result = app(standalone_mode=False)
    except AsimError as exc:
        typer.echo(f"asim: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.exceptions.TyperException as exc:  # usage errors: unknown option, bad value
        if type(exc).__name__.startswith("NoArgsIsHelp"):  # `asim` alone: typer showed the help
            sys.exit(0)
        typer.echo(f"asim: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("asim: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:  # the reader went away (`asim predict | head`): nothing to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    sys.exit(result if isinstance(result, int) else 0)


