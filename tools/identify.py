"""Which calibration knobs the runs identify, measured offline on recorded calibrations.

    .venv/bin/python tools/identify.py fit OUT.json [--free | --fix=NAME=SECONDS ...] FILE...
    .venv/bin/python tools/identify.py compare A.json B.json
    .venv/bin/python tools/identify.py holdout A.json B.json DIR... [-v]

``fit`` refits each calibration file's recorded runs (`asim.calibration.fit.fit`, one process:
a refit is a deterministic function of the runs), by default with the knobs of
`asim.calibration.knobs.TRACED` fixed, with ``--free`` with none fixed, with ``--fix`` with the
ones given; then, at the solution, a central-difference Jacobian of the runs' residuals (the
fit's own, in tolerances) over every fitted knob's logarithm, steps of ±2 % (the simulated
residuals are piecewise constant in small steps). From it: each knob's standard error if every
run were off by its tolerance (in % of its value, as `Check.uncertainty_pct`) and the
correlation matrix, whose entries near ±1 are the directions the runs leave flat. The costs,
self-check and both are written to OUT.json.

``compare`` prints, for two such outputs, every file's reproduction (runs within tolerance,
worst run) and, per group of calibrations made minutes apart (the files' folders with more
than one file: calibration-check*, noise-floor/*), each knob's max / min - 1 before and after.

``holdout`` predicts the points of each DIR (an `asim validate holdout` folder with its
calibration.json) with that calibration's costs from A and from B, and prints how far the RPS
predictions move (median and max) and the CPU-dominated points' error against the measured
median of the repeats; ``-v`` every point.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asim.calibration.file import load  # noqa: E402
from asim.calibration.fit import (  # noqa: E402
    AB_CPU_TOLERANCE,
    CPU_TOLERANCE,
    FIT_MAX_REQUESTS,
    fit,
    rps_tolerance,
)
from asim.calibration.knobs import KNOBS, apply, knob_values, model_outcome  # noqa: E402
from asim.calibration.simpool import OutcomePool  # noqa: E402
from asim.sim.costs import Costs  # noqa: E402

STEP = 0.02  # relative step of the Jacobian's central differences


def residuals(runs: dict, costs: Costs) -> np.ndarray:
    """The fit's run residuals (`asim.calibration.fit._Objective.run_residuals`)."""
    res = []
    for run in runs.values():
        out = model_outcome(run, costs, FIT_MAX_REQUESTS)
        res.append((out.requests_per_second / run.requests_per_second - 1) / rps_tolerance(run))
        if run.sleep_s == 0:
            both = out.server_cpu_s + out.ab_cpu_s
            res.append((both / (run.server_cpu_s + run.ab_cpu_s) - 1) / CPU_TOLERANCE)
            res.append((out.ab_cpu_s / run.ab_cpu_s - 1) / AB_CPU_TOLERANCE)
        else:
            res.append((out.server_cpu_s / run.server_cpu_s - 1) / CPU_TOLERANCE)
    return np.asarray(res)


def jacobian(runs: dict, costs: Costs, names: list[str]) -> np.ndarray:
    """d residuals / d ln(knob) at ``costs``, central differences."""
    values = knob_values(costs)
    cols = []
    for name in names:
        v = values[name]
        up = residuals(runs, apply(costs, {name: v * (1 + STEP)}))
        down = residuals(runs, apply(costs, {name: v * (1 - STEP)}))
        cols.append((up - down) / (np.log1p(STEP) - np.log1p(-STEP)))
    return np.column_stack(cols)


def identifiability(jac: np.ndarray, names: list[str]) -> tuple[dict, list[list[float]]]:
    """Standard errors (% of the value) and the correlation matrix of the knobs."""
    cov = np.linalg.pinv(jac.T @ jac)
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-30))
    corr = cov / np.outer(sd, sd)
    return ({n: round(float(s) * 100, 1) for n, s in zip(names, sd, strict=True)},
            [[round(float(c), 3) for c in row] for row in corr])


def group(path: Path) -> str:
    """The calibrations made minutes apart that ``path`` belongs to ("" when none): the files of
    one folder (calibration-check*/calibration-N.json), or of the pass-N folders of one."""
    folder = path.parent.parent if path.parent.name.startswith("pass-") else path.parent
    siblings = [*folder.glob("calibration-*.json"), *folder.glob("pass-*/calibration.json")]
    return str(folder) if len(siblings) > 1 else ""


def fit_files(out: Path, files: list[Path], traced: dict[str, float] | None) -> None:
    results = {}
    with OutcomePool(1) as pool:
        for path in files:
            cal = load(path)
            runs, ts_over, aio_over = cal.recorded_runs()
            t0 = time.perf_counter()
            result = fit(runs, ts_over, aio_over, pool=pool, traced=traced)
            seconds = time.perf_counter() - t0
            names = list(result.check.fitted)
            stderr, corr = identifiability(jacobian(runs, result.costs, names), names)
            results[str(path)] = {
                "group": group(path),
                "knobs": knob_values(result.costs),
                "fitted": names,
                "costs": result.costs.to_dict(),
                "check": result.check.to_dict(),
                "passed": result.check.passed,
                "stderr_pct": stderr,
                "corr": corr,
                "seconds": round(seconds, 1),
            }
            worst = max(result.check.runs, key=lambda r: abs(r.error_pct) / r.tolerance_pct)
            print(f"{path}: {'passed' if result.check.passed else 'FAILED'}, worst {worst.name} "
                  f"{worst.error_pct:+.1f} % (tol. {worst.tolerance_pct:.1f} %), "
                  f"{result.check.simulations} simulations, {seconds:.1f} s", flush=True)
            out.write_text(json.dumps(results, indent=1))


def spread(values: list[float]) -> float:
    return max(values) / min(values) - 1 if min(values) > 0 else float("inf")


def compare(a_path: Path, b_path: Path) -> None:
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    print("| file | A: reproduced, worst | B: reproduced, worst |\n|---|---|---|")
    for path in a:
        if path not in b:
            continue
        cells = []
        for r in (a[path], b[path]):
            runs = r["check"]["runs"]
            ok = sum(abs(x["model_rps"] / x["measured_rps"] - 1) * 100 <= x["tolerance_pct"]
                     for x in runs.values())
            name, w = max(runs.items(), key=lambda kv: abs(
                kv[1]["model_rps"] / kv[1]["measured_rps"] - 1) / kv[1]["tolerance_pct"])
            err = (w["model_rps"] / w["measured_rps"] - 1) * 100
            cells.append(f"{ok}/{len(runs)}, {name} {err:+.1f} % (tol. {w['tolerance_pct']:.1f} %)")
        print(f"| {path.removeprefix('figures/')} | {cells[0]} | {cells[1]} |")
    groups = sorted({group(Path(p)) for p in a} - {""})
    print()
    for name in groups:
        files = [p for p in a if group(Path(p)) == name and p in b]
        if len(files) < 2:
            continue
        print(f"{name} ({len(files)} files): knob, A values, A spread, B values, B spread")
        print("| knob | A values | A max/min-1 | B values | B max/min-1 |\n|---|---|---|---|---|")
        for k in KNOBS:
            scale, unit = {1e-6: (1e6, "us"), 1e-3: (1e3, "ms"), 1e-2: (1e2, "%")}[k.unit]
            cells = []
            for r in (a, b):
                vals = [r[p]["knobs"][k.name] for p in files]
                fixed = "" if all(k.name in r[p]["fitted"] for p in files) else " (fixed)"
                cells.append(" / ".join(f"{v * scale:.1f}" for v in vals) + f" {unit}{fixed}")
                cells.append(f"{spread(vals) * 100:.1f} %")
            print(f"| {k.name} | " + " | ".join(cells) + " |")
        verdict = []
        for label, r in (("A", a), ("B", b)):
            # The goal's knobs: fitted without a prior in every file of the group.
            free = [k.name for k in KNOBS if k.prior is None
                    and all(k.name in r[p]["fitted"] for p in files)]
            spreads = [spread([r[p]["knobs"][n] for p in files]) * 100 for n in free]
            verdict.append(f"{label}: {sum(x <= 15 for x in spreads)} of {len(free)} within 15 %, "
                           f"median {statistics.median(spreads):.1f} %, max {max(spreads):.1f} %")
        print("freely fitted knobs: " + "; ".join(verdict) + "\n")


def holdout(a_path: Path, b_path: Path, dirs: list[Path], verbose: bool = False) -> None:
    from asim.sim.model import ab_report
    from asim.validate.store import ResultsDir

    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    for d in dirs:
        key = str(d / "calibration.json")
        costs = [Costs.from_dict(r[key]["costs"]) for r in (a, b)]
        runs: dict[str, list] = {}
        for record in ResultsDir(d).completed().values():
            runs.setdefault(record.point.id, []).append(record)
        moves, cpu_errors = [], ([], [])
        recorded = json.loads((d / "predictions.json").read_text())
        rec_moves = []
        for point_id, rs in runs.items():
            sc = rs[0].point.scenario()
            measured = statistics.median(r.observed.requests_per_second for r in rs
                                         if r.observed)
            rps = [ab_report(sc, costs=c).requests_per_second for c in costs]
            moves.append(abs(rps[1] / rps[0] - 1) * 100)
            if verbose:
                print(f"  {point_id:32} measured {measured:8.1f}  A {rps[0]:8.1f}  B {rps[1]:8.1f}"
                      f"  moved {(rps[1] / rps[0] - 1) * 100:+6.1f} %")
            if point_id in recorded:
                rec = recorded[point_id]["predicted"]["requests_per_second"]
                rec_moves.append(abs(rps[1] / rec - 1) * 100)
            if sc.sleep_s <= 0.002:
                for errs, r in zip(cpu_errors, rps, strict=True):
                    errs.append(abs(r / measured - 1) * 100)
        print(f"{d}: {len(moves)} points; RPS moved A -> B median {statistics.median(moves):.2f} %"
              f" max {max(moves):.2f} %; B against the folder's predictions.json median "
              f"{statistics.median(rec_moves):.2f} % max {max(rec_moves):.2f} %; CPU-dominated "
              f"|error| median {statistics.median(cpu_errors[0]):.2f} -> "
              f"{statistics.median(cpu_errors[1]):.2f} %, max {max(cpu_errors[0]):.1f} -> "
              f"{max(cpu_errors[1]):.1f} %")


def main(args: list[str]) -> None:
    if not args:
        sys.exit(__doc__)
    if args[0] == "fit":
        out, rest = Path(args[1]), args[2:]
        traced: dict[str, float] | None = None
        if "--free" in rest:
            traced = {}
        fixes = [a.removeprefix("--fix=") for a in rest if a.startswith("--fix=")]
        if fixes:
            traced = {n: float(v) for n, v in (f.split("=") for f in fixes)}
        fit_files(out, [Path(a) for a in rest if not a.startswith("--")], traced)
    elif args[0] == "compare":
        compare(Path(args[1]), Path(args[2]))
    elif args[0] == "holdout":
        holdout(Path(args[1]), Path(args[2]), [Path(a) for a in args[3:] if a != "-v"],
                verbose="-v" in args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
