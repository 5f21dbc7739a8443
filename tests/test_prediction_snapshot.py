"""The model's numbers do not move by accident: `asim predict --format json` for the lab's grids
and `asim validate --resume` on the committed results print exactly what was committed.

The snapshots and the commands that made them are in tests/snapshots/ (see make_snapshots.py).
A refactoring must leave them byte-identical; a change to the model that is meant to move a
number regenerates them and says so in its commit. The lab's grids and the seed's folder take a
few seconds (`make test-fast`); the benchmark's long runs and the 34-point hold-out folder are
marked slow (`make test` runs them).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from asim.validate.tasks import BUILTIN_TASKS

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


snapshots = _load("asim_snapshots", HERE / "snapshots" / "make_snapshots.py")

REGENERATE = (
    "if the model was meant to change, regenerate with "
    "`.venv/bin/python tests/snapshots/make_snapshots.py {name}` and say in the commit which "
    "numbers moved and why"
)


def _first_difference(expected: str, actual: str) -> str:
    for i, (e, a) in enumerate(zip(expected.splitlines(), actual.splitlines(), strict=False)):
        if e != a:
            return f"line {i + 1}: committed {e.strip()!r}, now {a.strip()!r}"
    return f"committed {len(expected)} characters, now {len(actual)}"


def _param(item) -> object:
    marks = (pytest.mark.slow,) if item.slow else ()
    return pytest.param(item, id=item.name, marks=marks)


@pytest.mark.parametrize("item", [_param(i) for i in snapshots.PREDICTS])
def test_predict_json_is_unchanged(item) -> None:
    expected = item.path.read_text(encoding="utf-8")
    actual = snapshots.predict_json(item)
    assert actual == expected, (
        f"`asim {' '.join(item.argv)}` no longer prints {item.path.relative_to(REPO)} "
        f"({_first_difference(expected, actual)}); " + REGENERATE.format(name=item.name)
    )


def _measured(folder: Path) -> dict[str, str]:
    """A digest of what measuring writes in a results folder: records, ab outputs, logs."""
    files = [folder / "points.jsonl", *(folder / "raw").iterdir(), *(folder / "logs").iterdir()]
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(files)
    }


@pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < snapshots.CORES,
    reason=f"validate predicts for this process's cores; the snapshot is for {snapshots.CORES}",
)
@pytest.mark.parametrize("item", [_param(i) for i in snapshots.VALIDATES])
def test_validate_resume_prints_the_same_tables(item, tmp_path: Path) -> None:
    source = REPO / item.folder
    before = _measured(source)
    assert before, f"{item.folder} holds no measured runs"
    copy = snapshots.copy_results(source, tmp_path)
    assert _measured(copy) == before

    text = snapshots.normalise(
        snapshots.asim(("validate", "--resume", copy.name, "--calibration", "none"),
                       cwd=tmp_path)
    )

    # The folder is complete, so nothing is measured: no ab run, no new record or raw output.
    assert "[progress] figures and report: 0/0 runs" in text
    assert _measured(copy) == before
    expected = item.path.read_text(encoding="utf-8")
    assert text == expected, (
        f"`asim validate --resume {item.folder} --calibration none` no longer prints "
        f"{item.path.relative_to(REPO)} ({_first_difference(expected, text)}); "
        + REGENERATE.format(name=item.name)
    )


def _snapshot_points() -> set[tuple]:
    points = set()
    for item in snapshots.PREDICTS:
        for p in json.loads(item.path.read_text(encoding="utf-8"))["points"]:
            points.add((p["method"], p["server"], p["workers"], p["sleep_s"], p["concurrency"],
                        p["requests"], p["keepalive"], p["cores"]))
    return points


@pytest.mark.parametrize("task", ["all", "holdout", "shapes"])
def test_snapshots_cover_every_point_of_the_lab(task: str) -> None:
    covered = _snapshot_points()
    missing = [
        p.id
        for study in BUILTIN_TASKS[task]
        for p in study.points()
        if ("des", p.server, p.workers, p.sleep_s, p.concurrency, p.requests, p.keepalive,
            snapshots.CORES) not in covered
    ]
    assert not missing, f"no prediction snapshot for {', '.join(missing)}"


def test_snapshots_cover_the_benchmark_shapes() -> None:
    bench = _load("asim_bench", REPO / "benchmarks" / "run.py")
    covered = _snapshot_points()
    for n in (1_000_000, 100_000):  # `make bench`, and benchmarks/run.py --quick
        for server, sleep_s in bench.SLEEP_S.items():
            workers = bench.WORKERS.get(server, 1)
            assert ("des", server, workers, sleep_s, 1000, n, False, snapshots.CORES) in covered, (
                f"no prediction snapshot for the benchmark's {server} at N = {n:,}"
            )
