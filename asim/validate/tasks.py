"""The lab's experiments: the seed's tasks 7, 8 and 9 (``ab -n 100``, Django under gunicorn with one
sync worker), ``all``, which measures the points the three share only once, and ``holdout``, the
shapes beyond the lab; `resolve_plan` turns a task name or a TOML file into a `Plan`.
"""

from __future__ import annotations

from pathlib import Path

from asim.errors import InputError
from asim.validate.scenario_file import load_plan
from asim.validate.study import DEFAULT_REPEATS, X_CONCURRENCY, X_SLEEP, Plan, Series, Study

_AIOHTTP = Series(server="aiohttp")
_BLOCKING = Series(server="aiohttp-blocking")
_DJANGO_1 = Series(server="django", workers=1)

TASK7 = Study(
    name="task7",
    title="Task 7: aiohttp vs Django, more concurrent clients",
    x=X_CONCURRENCY,
    series=(_AIOHTTP, _DJANGO_1),
    sleeps_s=(0.1,),
    concurrencies=(5, 10, 20, 40),
)
TASK8 = Study(
    name="task8",
    title="Task 8: aiohttp vs Django, longer IO wait",
    x=X_SLEEP,
    series=(_AIOHTTP, _DJANGO_1),
    sleeps_s=(0.1, 0.2, 0.3),
    concurrencies=(10,),
)
TASK9 = Study(
    name="task9",
    title="Task 9: a blocking sleep inside aiohttp, vs Django",
    x=X_CONCURRENCY,
    series=(_BLOCKING, _DJANGO_1),
    sleeps_s=(0.1,),
    concurrencies=(5, 10, 20, 40),
)

# The hold-out set: shapes beyond the seed that calibration never sees and the model was not
# built on. Sleeps of 2 ms or less are CPU-dominated (asim.validate.fidelity).
_DJANGO_2 = Series(server="django", workers=2)
_DJANGO_4 = Series(server="django", workers=4)
HOLDOUT = (
    Study(
        name="holdout-workers",
        title="Hold-out: several gunicorn workers, short IO waits",
        x=X_SLEEP,
        series=(_DJANGO_2, _DJANGO_4),
        sleeps_s=(0.02, 0.05, 0.1),
        concurrencies=(10,),
        requests=200,
    ),
    Study(
        name="holdout-keepalive",
        title="Hold-out: ab -k (keep-alive)",
        x=X_CONCURRENCY,
        series=(_AIOHTTP, _DJANGO_1),
        sleeps_s=(0.02,),
        concurrencies=(5, 20),
        requests=200,
        keepalive=True,
    ),
    Study(
        name="holdout-long",
        title="Hold-out: IO-dominated, ab -n 1000",
        x=X_CONCURRENCY,
        series=(_AIOHTTP, _DJANGO_4),
        sleeps_s=(0.05,),
        concurrencies=(10, 50),
        requests=1000,
    ),
    Study(
        name="holdout-backlog",
        title="Hold-out: more clients than aiohttp's listen backlog, long sleep",
        x=X_CONCURRENCY,
        series=(_AIOHTTP,),
        sleeps_s=(1.0,),
        concurrencies=(200, 300),
        requests=600,
    ),
    Study(
        name="holdout-cpu-clients",
        title="Hold-out: CPU-dominated, no sleep, more clients",
        x=X_CONCURRENCY,
        series=(_AIOHTTP, _DJANGO_1, _DJANGO_4),
        sleeps_s=(0.0,),
        concurrencies=(1, 10, 50, 200),
        requests=2000,
    ),
    Study(
        name="holdout-cpu-sleep",
        title="Hold-out: CPU-dominated, sleeps of 0-2 ms",
        x=X_SLEEP,
        series=(_AIOHTTP, _DJANGO_1, _DJANGO_4),
        sleeps_s=(0.0, 0.001, 0.002),
        concurrencies=(10,),
        requests=2000,
    ),
)

# The seed's closing section: Django's async path (ASGI under uvicorn, an async view, a sync view
# through sync_to_async) and what an event loop does with a blocking call pushed into an executor
# or kept as a short slice; aiohttp of task 7 is the reference line.
TASK10 = Study(
    name="task10",
    title="Task 10: Django's async path, and a blocking call in an event loop",
    x=X_CONCURRENCY,
    series=(
        _AIOHTTP,
        _DJANGO_1,
        Series(server="django-asgi", workers=1),
        Series(server="django-asgi-sync", workers=1),
        Series(server="aiohttp-executor"),
        Series(server="aiohttp-mixed", blocking_s=0.001),
        Series(server="aiohttp-mixed", blocking_s=0.005),
    ),
    sleeps_s=(0.1,),
    concurrencies=(5, 10, 20, 40),
)

# A hold-out set for the shapes beyond the lab, predicted before it is measured.
SHAPES = (
    Study(
        name="shapes-threads",
        title="Shapes: threads and workers at 0.05 s",
        x=X_CONCURRENCY,
        series=(
            Series(server="django-gthread", workers=1, threads=4),
            Series(server="django-gthread", workers=2, threads=8),
            Series(server="aiohttp-executor", threads=4),
            Series(server="django-asgi", workers=2),
        ),
        sleeps_s=(0.05,),
        concurrencies=(10, 50, 300),
        requests=600,
    ),
    Study(
        name="shapes-sleep",
        title="Shapes: sleeps of 0 to 0.2 s at C = 20",
        x=X_SLEEP,
        series=(
            Series(server="django-gthread", workers=1, threads=4),
            Series(server="aiohttp-executor"),
            Series(server="aiohttp-mixed", blocking_s=0.002),
            Series(server="django-asgi", workers=1),
            Series(server="django-asgi-sync", workers=1),
        ),
        sleeps_s=(0.0, 0.02, 0.2),
        concurrencies=(20,),
        requests=400,
    ),
    Study(
        name="shapes-keepalive",
        title="Shapes: keep-alive (ab -k) at 0.02 s",
        x=X_CONCURRENCY,
        series=(
            Series(server="django-gthread", workers=1, threads=4),
            Series(server="aiohttp-executor"),
        ),
        sleeps_s=(0.02,),
        concurrencies=(10, 40),
        requests=800,
        keepalive=True,
    ),
)

BUILTIN_TASKS: dict[str, tuple[Study, ...]] = {
    "task7": (TASK7,),
    "task8": (TASK8,),
    "task9": (TASK9,),
    "task10": (TASK10,),
    "all": (TASK7, TASK8, TASK9, TASK10),
    "holdout": HOLDOUT,
    "shapes": SHAPES,
}


def resolve_plan(task: str, *, repeats: int | None = None) -> Plan:
    """The plan for a built-in task name or a TOML scenario file.

    ``repeats`` overrides the file's ``repeats``; without either, each point runs
    `DEFAULT_REPEATS` times.
    """
    if task in BUILTIN_TASKS:
        return Plan(
            name=task,
            studies=BUILTIN_TASKS[task],
            repeats=DEFAULT_REPEATS if repeats is None else repeats,
        )
    path = Path(task)
    if path.suffix == ".toml" or path.exists():
        plan = load_plan(path)
        return plan.with_repeats(repeats) if repeats is not None else plan
    raise InputError(
        f"unknown task {task!r}; choose {', '.join(BUILTIN_TASKS)} or a path to a .toml "
        "scenario file"
    )
