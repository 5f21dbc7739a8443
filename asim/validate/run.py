"""`asim validate` end to end: predict every point, measure what is missing, compare, report.

Each server configuration (kind, sleep, workers) is started once and serves all of its
concurrency levels and repeats. Every ab run is stored the moment it ends (see `store`), so an
interruption (Ctrl-C, or SIGTERM, which is turned into the same KeyboardInterrupt here) keeps all
finished runs, the server context managers stop their processes, and `resume` measures only what
is missing. ab failures are stored as flagged runs; two failures in a row against one server stop
the run with an `AbError`.

A plan of several passes measures its CPU-dominated points again once every point has its first
pass, each configuration on a fresh server: the passes' disagreement is the noise floor those
points are judged against (`asim.validate.noise`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from asim.errors import AbError, InputError
from asim.lab.facts import measurement_facts
from asim.sim.abreport import AbReport
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.memory import DEFAULT_MEMORY, MemoryCosts
from asim.sim.spec import machine_cores
from asim.validate.compare import Branch, MetricError, PointComparison, compare, error_summary
from asim.validate.drift import Reference, drift_lines
from asim.validate.drift import load as load_drift
from asim.validate.drift import measure as measure_drift
from asim.validate.kept_calibration import BUILT_IN, costs_line
from asim.validate.memory import (
    MEMORY_FILE,
    MemoryComparison,
    compare_memory,
    memory_json,
    memory_markdown,
)
from asim.validate.store import Record, ResultsDir
from asim.validate.study import DEFAULT_PASSES, Plan, StudyPoint, cpu_dominated
from asim.validate.tasks import resolve_plan

if TYPE_CHECKING:
    from asim.grid import Prediction

SERVER_START_S = 1.5  # what a server start adds to the progress estimate
FAILURES_IN_A_ROW = 2
LOG_DIR = "logs"
REPORT_FILE = "report.md"


class Listener(Protocol):
    """Progress callbacks; every method is optional in spirit (see `QuietListener`)."""

    def planned(self, runs: Sequence[tuple[StudyPoint, int]], expected_s: float) -> None: ...

    def server_starting(self, point: StudyPoint) -> None: ...

    def run_started(self, point: StudyPoint, repeat: int) -> None: ...

    def run_finished(self, record: Record, expected_s: float) -> None: ...

    def rendering(self) -> None: ...


class QuietListener:
    def planned(self, runs: Sequence[tuple[StudyPoint, int]], expected_s: float) -> None:
        pass

    def server_starting(self, point: StudyPoint) -> None:
        pass

    def run_started(self, point: StudyPoint, repeat: int) -> None:
        pass

    def run_finished(self, record: Record, expected_s: float) -> None:
        pass

    def rendering(self) -> None:
        pass


@dataclass(frozen=True, kw_only=True)
class ValidateResult:
    """What one `asim validate` produced."""

    out_dir: Path
    plan: Plan
    comparisons: tuple[PointComparison, ...]
    errors: tuple[MetricError, ...]
    report_path: Path
    figure_paths: tuple[Path, ...]
    measured_runs: int
    failed_runs: int
    memory: tuple[MemoryComparison, ...] = ()  # server memory, predicted against measured

    @property
    def flagged(self) -> tuple[PointComparison, ...]:
        return tuple(c for c in self.comparisons if c.flagged)


def default_out_dir(now: datetime | None = None) -> Path:
    """``results/<local time>/``, e.g. ``results/20240501-142233``."""
    return Path("results") / (now or datetime.now()).strftime("%Y%m%d-%H%M%S")


def model_runs(plan: Plan, *, costs: Costs | None = None) -> dict[StudyPoint, Prediction]:
    """The model's prediction (simulation) of every point of ``plan`` on this machine's cores."""
    from asim.grid import predict

    cores = machine_cores()
    points = plan.points()
    predicted = predict([p.scenario(cores=cores) for p in points], costs=costs or DEFAULT_COSTS)
    return dict(zip(points, predicted, strict=True))


def model_branches(runs: Mapping[StudyPoint, Prediction]) -> dict[str, tuple[Branch, ...]]:
    """The other outcomes the model predicts near a race, by point id (the points it predicts
    one way are left out)."""
    return {
        p.id: tuple(
            Branch(condition=a.condition, report=a.prediction.report)
            for a in run.alternatives
            if a.prediction.report is not None
        )
        for p, run in runs.items()
        if run.alternatives
    }


def backlog_edges(runs: Mapping[StudyPoint, Prediction]) -> dict[str, str]:
    """For the points whose simulated run came near the server's listen backlog (or dropped
    SYNs, or met a first burst larger than it), what the model saw there, by point id: real runs
    split at that edge."""
    from asim.sim.conn import near_backlog

    edges = {}
    for p, run in runs.items():
        cap = run.accept_queue_capacity
        if near_backlog(run.accept_queue_peak, cap) or run.alternatives:
            dropped = f"{run.syns_dropped} SYNs dropped" if run.syns_dropped else "no SYN dropped"
            edges[p.id] = (
                f"the model's accept queue reached {run.accept_queue_peak} of {cap}, {dropped}"
            )
    return edges


def validate(
    plan: Plan,
    out_dir: Path,
    *,
    listener: Listener | None = None,
    costs: Costs | None = None,
    force: bool = False,
    memory: MemoryCosts | None = None,
    references: Sequence[Reference] = (),
    calibration_file: Path | None = None,
) -> ValidateResult:
    """Measure every run of ``plan`` that ``out_dir`` does not hold yet, then write the report.

    ``out_dir`` may be new or an earlier results folder of the same plan: runs already in it
    are reused. A folder of another plan is refused unless ``force`` (`ResultsDir.prepare`).
    ``references``: the calibration's runs to measure again before and after, when CPU-dominated
    points are to be measured (`asim.validate.drift`). ``calibration_file``: the file ``costs``
    came from, copied into a folder that holds none before the first measurement
    (`asim.validate.kept_calibration`).
    """
    from asim.lab.procs import sigterm_raises  # SIGTERM unwinds like Ctrl-C: servers stop

    with sigterm_raises():
        return _validate(plan, out_dir, listener=listener or QuietListener(), costs=costs,
                         force=force, memory=memory, references=references,
                         calibration_file=calibration_file)


def _validate(
    plan: Plan, out_dir: Path, *, listener: Listener, costs: Costs | None, force: bool = False,
    memory: MemoryCosts | None = None, references: Sequence[Reference] = (),
    calibration_file: Path | None = None,
) -> ValidateResult:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} exists and is not a folder")
    store = ResultsDir.prepare(out_dir, plan, force=force)
    runs = model_runs(plan, costs=costs)
    predictions = {p: run.report for p, run in runs.items() if run.report is not None}
    store.write_predictions(predictions)
    passes = [(n, _by_server(store.missing(plan, n))) for n in range(1, plan.passes + 1)]
    todo = [run for _, groups in passes for items in groups for run in items]
    expected = {p: r.time_taken_s for p, r in predictions.items()}
    servers = sum(len(groups) for _, groups in passes)
    listener.planned(todo, sum(expected[p] for p, _ in todo) + SERVER_START_S * servers)
    measured = failed = 0
    if todo:
        from asim.lab.abrun import find_ab

        if calibration_file is not None:
            store.keep_calibration(calibration_file)
        find_ab()
        source = (costs or DEFAULT_COSTS).source
        facts = measurement_facts(calibration=BUILT_IN if source == "defaults" else source)
        if not any(cpu_dominated(p) for p, _ in todo):
            references = ()
        measure_drift(references, "before", store.root)
        for number, groups in passes:
            for items in groups:
                m, f = _measure_group(store, items, expected, listener, facts,
                                      pass_number=number)
                measured += m
                failed += f
        measure_drift(references, "after", store.root)
    listener.rendering()
    return render(
        store, plan, predictions, measured_runs=measured, failed_runs=failed, costs=costs,
        backlog=backlog_edges(runs), alternatives=model_branches(runs), memory=memory,
        cpu_busy={p.id: run.cpu_utilisation for p, run in runs.items()},
        calibration_file=calibration_file,
    )


def resume(
    out_dir: Path,
    *,
    repeats: int | None = None,
    passes: int | None = None,
    listener: Listener | None = None,
    costs: Costs | None = None,
    calibration_file: Path | None = None,
) -> ValidateResult:
    """Finish the plan recorded in ``out_dir`` (with ``repeats`` or ``passes`` instead, when
    given); ``costs`` from ``calibration_file`` as in `validate`."""
    store = ResultsDir.open(out_dir)
    plan = store.read_plan()
    if repeats is not None:
        plan = plan.with_repeats(repeats)
    if passes is not None:
        plan = plan.with_passes(passes)
    return validate(plan, out_dir, listener=listener, costs=costs,
                    calibration_file=calibration_file)


def _by_server(todo: Sequence[tuple[StudyPoint, int]]) -> list[list[tuple[StudyPoint, int]]]:
    """Runs grouped by server configuration in plan order; in a group, repeat by repeat."""
    groups: dict[tuple[str, float, int], list[tuple[StudyPoint, int]]] = {}
    for p, k in todo:
        groups.setdefault(p.server_key, []).append((p, k))
    return [
        sorted(items, key=lambda item: (item[1], item[0].concurrency, item[0].requests))
        for items in groups.values()
    ]


def _measure_group(
    store: ResultsDir,
    items: Sequence[tuple[StudyPoint, int]],
    expected: dict[StudyPoint, float],
    listener: Listener,
    facts: Mapping[str, str],
    *,
    pass_number: int = 1,
) -> tuple[int, int]:
    from asim.lab.abrun import run_ab
    from asim.lab.memory import PeakSampler
    from asim.lab.procs import ServerSpec, raise_pending_interrupt, running_server

    first = items[0][0]
    spec = ServerSpec(kind=first.server, sleep_s=first.sleep_s, workers=first.workers,
                      threads=first.threads, blocking_s=first.blocking_s)
    listener.server_starting(first)
    measured = failed = in_a_row = 0
    with running_server(spec, log_dir=store.root / LOG_DIR) as server:
        for point, repeat in items:
            raise_pending_interrupt()
            listener.run_started(point, repeat)
            with PeakSampler(server.pids) as memory:
                run = run_ab(
                    server.url,
                    requests=point.requests,
                    concurrency=point.concurrency,
                    keepalive=point.keepalive,
                )
            peak = memory.peak
            record = store.append(
                point, repeat, run, facts,
                peak_memory_mb=None if peak is None else peak.memory_mb,
                peak_rss_mb=None if peak is None else peak.rss_mb, pass_number=pass_number,
            )
            measured += 1
            listener.run_finished(record, expected[point])
            if record.complete:
                in_a_row = 0
                continue
            failed += 1
            in_a_row += 1
            if in_a_row >= FAILURES_IN_A_ROW:
                problem = "; ".join(record.problems) or f"exit code {record.returncode}"
                raise AbError(
                    f"ab failed {in_a_row} times in a row against {point.series.label} "
                    f"(sleep {point.sleep_s:g} s): {problem}; see {store.root / record.raw_path}"
                    f" and the server log in {store.root / LOG_DIR}"
                )
    return measured, failed


def render(
    store: ResultsDir,
    plan: Plan,
    predictions: dict[StudyPoint, AbReport],
    *,
    measured_runs: int = 0,
    failed_runs: int = 0,
    costs: Costs | None = None,
    backlog: Mapping[str, str] | None = None,
    alternatives: Mapping[str, Sequence[Branch]] | None = None,
    memory: MemoryCosts | None = None,
    cpu_busy: Mapping[str, float | None] | None = None,
    calibration_file: Path | None = None,
) -> ValidateResult:
    """Compare, draw the figures and write report.md from what ``store`` holds; ``backlog``
    names the points where the model came near the listen backlog (`backlog_edges`),
    ``alternatives`` the other outcomes it predicts there (`model_branches`), ``cpu_busy``
    how busy its busiest CPU resource was, by point id; ``calibration_file`` the file
    ``costs`` came from (the report says whether it is the folder's copy)."""
    from asim.validate.figures import save_study_figures
    from asim.validate.report import render_markdown

    records = store.records()
    comparisons = compare(
        plan, {p.id: r for p, r in predictions.items()}, records, alternatives, cpu_busy
    )
    figures: dict[str, list[str]] = {}
    paths: list[Path] = []
    for study in plan.studies:
        saved = save_study_figures(study, comparisons, store.root)
        figures[study.name] = [p.name for p in saved]
        paths += saved
    text = render_markdown(
        plan, comparisons, figures=figures,
        meta=_meta(records, costs, store.root, calibration_file),
        backlog_edges=backlog,
    )
    memory = memory or DEFAULT_MEMORY
    memory_points = compare_memory(plan, records, memory)
    text += "\n\n" + "\n".join(memory_markdown(memory_points))
    drift = drift_lines(load_drift(store.root))
    if drift:
        text += "\n\n" + "\n".join(drift)
    _write_json(store.root / MEMORY_FILE, memory_json(memory_points, memory))
    report_path = store.root / REPORT_FILE
    report_path.write_text(text + "\n", encoding="utf-8")
    return ValidateResult(
        out_dir=store.root,
        plan=plan,
        comparisons=comparisons,
        errors=error_summary(comparisons),
        report_path=report_path,
        figure_paths=tuple(paths),
        measured_runs=measured_runs,
        failed_runs=failed_runs,
        memory=memory_points,
    )


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _meta(
    records: Sequence[Record], costs: Costs | None = None, root: Path | None = None,
    calibration_file: Path | None = None,
) -> dict[str, str]:
    times = sorted(r.measured_at for r in records if r.measured_at)
    meta = {"measured": f"{times[0]} to {times[-1]} (UTC)" if times else "nothing yet"}
    for name in ("machine", "servers", "ab", "calibration"):
        # What each run recorded when it was measured; runs of format 1 recorded nothing.
        seen = sorted({r.facts[name] for r in records if name in r.facts})
        if len(seen) == 1:
            meta[name if name != "calibration" else "calibration when measured"] = seen[0]
        elif seen:
            meta[name] = "differs between runs: " + "; ".join(seen)
    if records and any(not r.facts for r in records):
        meta["not recorded"] = (
            "machine and software of runs measured before asim recorded them (results format 1)"
        )
    commands = [r.command for r in records if r.command]
    if commands:
        meta["ab command, e.g."] = f"`{commands[0]}`"
    source = (costs or DEFAULT_COSTS).source
    named = BUILT_IN if source == "defaults" else f"calibration `{source}`"
    meta["model costs"] = (
        named if root is None else costs_line(root, calibration_file, records, named)
    )
    meta["report written"] = datetime.now(UTC).isoformat(timespec="seconds")
    return meta


def plan_and_folder(
    task: str | None,
    *,
    repeats: int | None,
    out: Path | None,
    resume_dir: Path | None,
    passes: int | None = None,
) -> tuple[Plan, Path]:
    """What to measure and where, from the command line's TASK, --repeat, --passes, --out and
    --resume.

    ``--resume DIR`` finishes the plan recorded in DIR, with its own passes unless ``passes``
    (a folder written before passes measured one), or TASK's plan, reusing DIR's runs;
    otherwise TASK is required and the folder defaults to `default_out_dir`. A TASK's plan
    measures `DEFAULT_PASSES` passes unless ``passes``.
    """
    if resume_dir is not None:
        if out is not None and Path(out) != Path(resume_dir):
            raise InputError("give either --out DIR or --resume DIR, not both")
        store = ResultsDir.open(resume_dir)
        if task is None:
            plan = store.read_plan()
            plan = plan if repeats is None else plan.with_repeats(repeats)
            return (plan if passes is None else plan.with_passes(passes)), Path(resume_dir)
        plan = resolve_plan(task, repeats=repeats)
        return plan.with_passes(DEFAULT_PASSES if passes is None else passes), Path(resume_dir)
    if task is None:
        from asim.validate.tasks import BUILTIN_TASKS

        raise InputError(
            f"give a task ({', '.join(BUILTIN_TASKS)}) or a .toml scenario file, or --resume DIR"
        )
    plan = resolve_plan(task, repeats=repeats).with_passes(
        DEFAULT_PASSES if passes is None else passes
    )
    return plan, Path(out) if out is not None else default_out_dir()


class RichProgress:
    """A rich progress bar for `validate`, measured in predicted seconds of ab so that its ETA
    is the model's estimate corrected by the speed actually seen."""

    def __init__(self, console: object | None = None) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", style="bold"),
            BarColumn(),
            TextColumn("{task.fields[runs]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,  # type: ignore[arg-type]
            redirect_stdout=False,  # sys.stdout/stderr stay untouched: errors print as usual
            redirect_stderr=False,
        )
        self.task = self.progress.add_task("predicting", total=None, runs="")
        self.done = 0
        self.total = 0

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def planned(self, runs: Sequence[tuple[StudyPoint, int]], expected_s: float) -> None:
        self.total = len(runs)
        self.progress.update(
            self.task,
            total=max(expected_s, 1e-9),
            completed=0,
            description="measuring" if runs else "all runs already on disk",
            runs=f"0/{self.total} runs",
        )

    def server_starting(self, point: StudyPoint) -> None:
        self.progress.update(
            self.task, description=f"starting {point.series.label}, sleep {point.sleep_s:g} s"
        )

    def run_started(self, point: StudyPoint, repeat: int) -> None:
        self.progress.update(
            self.task,
            description=f"ab -n {point.requests} -c "
            f"{point.concurrency} → {point.series.label}, sleep "
            f"{point.sleep_s:g} s (run {repeat})",
        )

    def run_finished(self, record: Record, expected_s: float) -> None:
        self.done += 1
        self.progress.update(self.task, advance=expected_s, runs=f"{self.done}/{self.total} runs")
        if record.flagged:
            reason = "; ".join(record.problems) or "no report"
            self.progress.console.print(
                f"[yellow]⚠ {record.point.id} run {record.repeat}: {reason}[/yellow]"
            )

    def rendering(self) -> None:
        self.progress.update(self.task, description="figures and report")
