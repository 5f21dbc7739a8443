"""How long a plan will measure, known before anything is predicted or measured.

`asim validate` prints this estimate first and refuses a plan beyond `MAX_MEASURING_S` unless
the user confirms it (``--yes``): nobody should discover a 30-hour plan by waiting for it. The
estimate adds, for every run still to measure, the time the asymptotic bounds give that ab run
(`asim.sim.theory`, method ``bounds``: microseconds a point, and a finite run only takes longer),
and a server start for every server configuration. A plan of more than `SAMPLE_POINTS` points
is estimated from a random sample of them, scaled to the whole (about 10 % off for a grid of
70,000 points; evenly spaced points would alias with the grid's own period).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from asim.errors import InputError
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.spec import machine_cores
from asim.sim.theory import ab_terms
from asim.validate.run import SERVER_START_S
from asim.validate.study import StudyPoint

MAX_MEASURING_S = 3600.0  # an afternoon's lab is minutes; an hour is already a long study
SAMPLE_POINTS = 400


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """The measuring time of the runs a plan still needs: at least ``measuring_s`` when every
    point was bounded, about that when only a sample was."""

    runs: int
    points: int
    sampled_points: int
    measuring_s: float

    def describe(self) -> str:
        """E.g. ``48 run(s) to measure, at least 4.2 min``."""
        duration = format_duration(self.measuring_s)
        if self.sampled_points < self.points:
            return (f"{self.runs} run(s) to measure, about {duration} (estimated from "
                    f"{self.sampled_points} of {self.points} points)")
        return f"{self.runs} run(s) to measure, at least {duration}"


def estimate_runs(
    runs: Sequence[tuple[StudyPoint, int]],
    *,
    costs: Costs | None = None,
    cores: int | None = None,
    seed: int = 0,
) -> Estimate:
    """The `Estimate` for ``runs`` (point, repeat) on ``cores`` (default: this machine's);
    ``seed`` chooses the sample of a large plan."""
    costs = costs or DEFAULT_COSTS
    cores = cores or machine_cores()
    repeats: dict[StudyPoint, int] = {}
    for point, _ in runs:
        repeats[point] = repeats.get(point, 0) + 1
    points = list(repeats)
    sample = (random.Random(seed).sample(points, SAMPLE_POINTS)
              if len(points) > SAMPLE_POINTS else points)
    sampled_s = sum(
        ab_terms(p.scenario(cores=cores), costs, method="bounds").time_taken_s * repeats[p]
        for p in sample
    )
    sampled_runs = sum(repeats[p] for p in sample)
    ab_s = sampled_s * len(runs) / sampled_runs if sampled_runs else 0.0
    servers = len({p.server_key for p in points})
    return Estimate(runs=len(runs), points=len(points), sampled_points=len(sample),
                    measuring_s=ab_s + SERVER_START_S * servers)


def check_budget(
    estimate: Estimate, *, yes: bool, limit_s: float = MAX_MEASURING_S
) -> None:
    """Refuse (`InputError`) a plan that measures longer than ``limit_s`` unless ``yes``."""
    if estimate.measuring_s > limit_s and not yes:
        raise InputError(
            f"this plan needs {estimate.describe()}, more than the "
            f"{format_duration(limit_s)} asim measures without asking: add --yes to run it, "
            "or measure fewer points, repeats or requests"
        )


def format_duration(seconds: float) -> str:
    """``45 s``, ``12.5 min``, ``1 h``, ``3.2 h`` or ``14 days``."""
    for unit, size, up_to in (("s", 1, 90), ("min", 60, 3600), ("h", 3600, 72 * 3600)):
        if seconds < up_to:
            return f"{seconds / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{seconds / 86400:.0f} days"
