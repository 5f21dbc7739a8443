"""The built-in costs (`--calibration none`) from recorded calibrations: which one, and why.

    .venv/bin/python tools/builtin_costs.py FILE.json...

The built-ins must be one calibration's joint fit, not a mix: the fitted parameters trade
against each other (a C = 1 cycle is CPU plus wake-ups plus overshoot), so per-parameter medians
of several fits can be a set that reproduces no run. Of the files given (calibrations made on an
idle machine with the current fit), the script takes the ones that passed their own check (both
stages), and among them the medoid: the file whose fitted values lie closest to the median of
every file's, in the sum of squared log ratios over the parameters the runs identify
(`asim.calibration.knobs.KNOBS` without a prior and not fixed by `TRACED`, and the second
stage's fitted costs). It prints each candidate's distance and the chosen file's costs rounded
to two significant figures, in the order of the calibration file (docs/notes/measurements.md
section 26 has the run).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asim.calibration.file import load  # noqa: E402
from asim.calibration.knobs import KNOBS, TRACED, knob_values  # noqa: E402

IDENTIFIED = tuple(k.name for k in KNOBS if k.prior is None and k.name not in TRACED)


def fitted(path: Path) -> dict[str, float]:
    """The parameters the runs identify: the first stage's knobs, the second stage's fitted
    costs."""
    cal = load(path)
    values = {name: knob_values(cal.costs)[name] for name in IDENTIFIED}
    shapes = json.loads(path.read_text()).get("shapes") or {}
    for name in shapes.get("fitted", ()):
        values[name] = getattr(cal.costs, name)
    return values


def passed(path: Path) -> bool:
    """Both stages reproduced every run they measured (the check holds the runs of both)."""
    check = load(path).check
    return check is not None and check.passed


def round2(value: float) -> float:
    return float(f"{value:.2g}") if value else 0.0


def main(paths: list[Path]) -> None:
    values = {p: fitted(p) for p in paths}
    names = sorted(set.intersection(*(set(v) for v in values.values())))
    median = {n: statistics.median(v[n] for v in values.values()) for n in names}
    heads = "".join(f" | {p.parent.name[-14:]:>12}/{p.stem[-1]}" for p in paths)
    print(f"{'parameter':24}{heads} | median")
    for n in names:
        print(f"{n:24}" + "".join(f" | {values[p][n] * 1e6:14.1f}" for p in paths)
              + f" | {median[n] * 1e6:8.1f}  (us)")
    best, best_d = None, math.inf
    for p in paths:
        d = sum(math.log(values[p][n] / median[n]) ** 2 for n in names
                if values[p][n] > 0 and median[n] > 0)
        ok = passed(p)
        print(f"{p}: distance to the medians {d:.3f}, self-check {'passed' if ok else 'FAILED'}")
        if ok and d < best_d:
            best, best_d = p, d
    if best is None:
        sys.exit("no file passed its own check")
    costs = load(best).costs
    print(f"\nchosen: {best}")
    for name, value in costs.to_dict().items():
        if name != "source":
            print(f"    {name}: float = {round2(float(value))!r}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main([Path(a) for a in sys.argv[1:]])
