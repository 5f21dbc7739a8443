"""Regenerate the prediction snapshots: what `asim predict` and `asim validate --resume` print.

    .venv/bin/python tests/snapshots/make_snapshots.py                  # every snapshot
    .venv/bin/python tests/snapshots/make_snapshots.py seed-sleep       # only some

`tests/test_prediction_snapshot.py` runs the same commands and compares their output with the
files written here, byte for byte. Run this script only when a change to the model's numbers is
intended, and say in the commit which numbers moved and why.

Every command uses the built-in costs (``--calibration none``), and predictions are made for 2
cores (``--cores 2``; validate, which predicts for this process's cores, runs pinned to two), so
that the snapshots do not depend on the machine or on a calibration file in the user's cache.
The grids are the lab's: the seed's tasks 7, 8, 9 and 10, the hold-out studies (one command per
study of `asim.validate.tasks.HOLDOUT` and `SHAPES`) and the shapes `make bench` times
(benchmarks/run.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORES = 2
COLUMNS = 100  # rich draws validate's table as wide as the terminal it believes it has
PREDICT_FLAGS = ("--format", "json", "--calibration", "none", "--cores", str(CORES))
SEED_SERVERS = "aiohttp,aiohttp-blocking,django"


@dataclass(frozen=True, kw_only=True)
class Predict:
    """One `asim predict` command; its JSON is ``predict/<name>.json``."""

    name: str
    args: tuple[str, ...]
    slow: bool = False  # a second or more of simulation: `make test` runs it, `make test-fast` not

    @property
    def path(self) -> Path:
        return HERE / "predict" / f"{self.name}.json"

    @property
    def argv(self) -> tuple[str, ...]:
        return ("predict", *self.args, *PREDICT_FLAGS)


@dataclass(frozen=True, kw_only=True)
class Validate:
    """`asim validate --resume FOLDER --calibration none` on a copy of a complete committed
    results folder; its console output, without the progress bar's clock, is
    ``validate/<name>.txt``."""

    name: str
    folder: str  # relative to the repository
    slow: bool = False

    @property
    def path(self) -> Path:
        return HERE / "validate" / f"{self.name}.txt"


def _p(name: str, *args: str, slow: bool = False) -> Predict:
    return Predict(name=name, args=args, slow=slow)


def _bench(n: int, *, exact: bool = False) -> tuple[Predict, ...]:
    # benchmarks/run.py: C = 1000; aiohttp and django (64 workers) sleep 0.1 s, the blocking
    # handler 0 s; N = 1,000,000 (`make bench`) or 100,000 (--quick); default and exact runs.
    # Each takes a second or more of simulation: `make test` runs them, `make test-fast` not.
    shapes = (
        ("aiohttp", ("--server", "aiohttp", "--sleep", "0.1")),
        ("aiohttp-blocking", ("--server", "aiohttp-blocking", "--sleep", "0")),
        ("django-w64", ("--server", "django", "--workers", "64", "--sleep", "0.1")),
    )
    tail = ("--exact",) if exact else ()
    return tuple(
        _p(f"bench-{label}-n{n}{'-exact' if exact else ''}",
           *args, "-c", "1000", "-n", str(n), *tail, slow=True)
        for label, args in shapes
    )


PREDICTS: tuple[Predict, ...] = (
    # The seed: tasks 7 and 9 vary C at sleep 0.1 s, task 8 varies the sleep at C = 10.
    _p("seed-concurrency", "--server", SEED_SERVERS, "--workers", "1", "--sleep", "0.1",
       "-c", "5,10,20,40", "-n", "100"),
    _p("seed-sleep", "--server", "aiohttp,django", "--workers", "1", "--sleep", "0.1,0.2,0.3",
       "-c", "10", "-n", "100"),
    _p("seed-concurrency-mva", "--server", SEED_SERVERS, "--workers", "1", "--sleep", "0.1",
       "-c", "5,10,20,40", "-n", "100", "--method", "mva"),
    _p("seed-concurrency-bounds", "--server", SEED_SERVERS, "--workers", "1", "--sleep", "0.1",
       "-c", "5,10,20,40", "-n", "100", "--method", "bounds"),
    # The hold-out studies, one command each (asim.validate.tasks.HOLDOUT).
    _p("holdout-workers", "--server", "django", "--workers", "2,4", "--sleep", "0.02,0.05,0.1",
       "-c", "10", "-n", "200"),
    _p("holdout-keepalive", "--server", "aiohttp,django", "--workers", "1", "--sleep", "0.02",
       "-c", "5,20", "-n", "200", "-k"),
    _p("holdout-long", "--server", "aiohttp,django", "--workers", "4", "--sleep", "0.05",
       "-c", "10,50", "-n", "1000"),
    _p("holdout-backlog", "--server", "aiohttp", "--sleep", "1.0", "-c", "200,300", "-n", "600"),
    _p("holdout-cpu-clients", "--server", "aiohttp,django", "--workers", "1,4", "--sleep", "0",
       "-c", "1,10,50,200", "-n", "2000"),
    _p("holdout-cpu-sleep", "--server", "aiohttp,django", "--workers", "1,4",
       "--sleep", "0,0.001,0.002", "-c", "10", "-n", "2000"),
    # Task 10 (Django's async path, a blocking call in a loop) and the shapes' hold-out.
    _p("task10", "--server", "django-asgi,django-asgi-sync,aiohttp-executor,aiohttp-mixed",
       "--workers", "1", "--blocking", "0.001,0.005", "--sleep", "0.1", "-c", "5,10,20,40",
       "-n", "100"),
    _p("shapes-threads", "--server", "django-gthread,aiohttp-executor,django-asgi",
       "--workers", "1,2", "--threads", "4,8", "--sleep", "0.05", "-c", "10,50,300", "-n", "600"),
    _p("shapes-sleep", "--server", "django-gthread,aiohttp-executor,aiohttp-mixed,django-asgi,"
       "django-asgi-sync", "--threads", "4", "--blocking", "0.002", "--sleep", "0,0.02,0.2",
       "-c", "20", "-n", "400"),
    _p("shapes-keepalive", "--server", "django-gthread,aiohttp-executor", "--threads", "4",
       "--sleep", "0.02", "-c", "10,40", "-n", "800", "-k"),
    # `make bench` (N = 1,000,000) and `make bench --quick` (N = 100,000); the exact runs only
    # at N = 100,000 (at N = 1,000,000 they take minutes).
    *_bench(1_000_000),
    *_bench(100_000),
    *_bench(100_000, exact=True),
)

VALIDATES: tuple[Validate, ...] = (
    Validate(name="figures", folder="figures"),
    Validate(name="holdout-4", folder="figures/holdout-4", slow=True),  # 34 points, 24 figures
)

# The progress bar's last frame: a spinner, the step, "0/0 runs", the elapsed time and the ETA.
_PROGRESS = re.compile(r"^\S+ (?P<step>.*?)\s+(?P<runs>\d+/\d+ runs) \d+:\d\d:\d\d ETA .*$")


def asim(argv: tuple[str, ...], *, cwd: Path = REPO) -> str:
    """What ``asim ARGV`` prints on stdout, pinned to `CORES` cores and `COLUMNS` columns."""
    env = {**os.environ, "COLUMNS": str(COLUMNS), "PYTHONPATH": str(REPO)}
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    cpus = sorted(os.sched_getaffinity(0))[:CORES]
    out = subprocess.run(
        [sys.executable, "-m", "asim", *argv], cwd=cwd, env=env, capture_output=True,
        text=True, preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    if out.returncode != 0:
        raise RuntimeError(f"asim {' '.join(argv)} exited {out.returncode}: {out.stderr}")
    return out.stdout


def predict_json(item: Predict) -> str:
    """What ``asim predict ... --format json`` prints, from the CLI's own app run in this
    process: the same output as the console command without a Python start-up per snapshot."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from typer.testing import CliRunner

    from asim.cli import app

    result = CliRunner().invoke(app, list(item.argv))
    if result.exit_code != 0:
        raise RuntimeError(f"asim {' '.join(item.argv)} exited {result.exit_code}: "
                           f"{result.stderr or result.exception!r}")
    return result.stdout


def copy_results(folder: Path, into: Path) -> Path:
    """A copy of the results folder ``folder`` without the other results folders inside it
    (figures/ holds the hold-out runs in subfolders): validate rewrites its report there."""
    dest = into / folder.name
    nested = {p.name for p in folder.iterdir() if p.is_dir() and (p / "plan.json").exists()}
    shutil.copytree(folder, dest, ignore=lambda d, names: nested if Path(d) == folder else ())
    return dest


def validate_text(item: Validate, workdir: Path) -> str:
    """The console output of ``asim validate --resume <copy> --calibration none``, run in
    ``workdir`` on a copy of the folder, with the progress bar's clock and spinner taken out."""
    copy = copy_results(REPO / item.folder, workdir)
    text = asim(("validate", "--resume", copy.name, "--calibration", "none"), cwd=workdir)
    return normalise(text)


def normalise(text: str) -> str:
    lines = []
    for line in text.splitlines():
        m = _PROGRESS.match(line)
        lines.append(f"[progress] {m['step']}: {m['runs']}" if m else line.rstrip())
    return "\n".join(lines) + "\n"


def main(names: list[str]) -> None:
    if len(os.sched_getaffinity(0)) < CORES:
        sys.exit(f"the snapshots are made on {CORES} cores; this process may use fewer")
    known = {i.name for i in (*PREDICTS, *VALIDATES)}
    unknown = set(names) - known
    if unknown:
        sys.exit(f"unknown snapshot(s) {', '.join(sorted(unknown))}; choose from "
                 f"{', '.join(sorted(known))}")
    for item in PREDICTS:
        if not names or item.name in names:
            item.path.parent.mkdir(parents=True, exist_ok=True)
            item.path.write_text(predict_json(item), encoding="utf-8")
            print(f"wrote {item.path.relative_to(REPO)}: asim {' '.join(item.argv)}")
    for item in VALIDATES:
        if not names or item.name in names:
            item.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as tmp:
                item.path.write_text(validate_text(item, Path(tmp)), encoding="utf-8")
            print(f"wrote {item.path.relative_to(REPO)}: asim validate --resume {item.folder} "
                  "--calibration none")


if __name__ == "__main__":
    main(sys.argv[1:])
