"""Issue 11's calibration goal, measured: `asim calibrate` three times in a row, then one table.

    .venv/bin/python tools/calibration_check.py [OUT_DIR] [--runs 3] [--rounds R] [--analyse]

Each pass runs the real `asim calibrate --out OUT_DIR/calibration-<i>.json` (a subprocess, as a
user runs it; about a minute each; ``--rounds R`` is passed on). The goal:
- every calibration run reproduced within max(3 %, its repeats' spread) in every pass (3 of 3);
- every fitted parameter within 15 % of each other across the passes (max / min - 1).
Beside the second part, the machine's own spread: each freely fitted parameter next to the
spread, across the same passes, of the measured CPU per request that pins it (`PINNED_BY`); a
fit that follows its runs cannot hold a parameter steadier than that measurement, so a
parameter within max(15 %, that spread) is as steady as this machine allows.
The table prints each run's measured RPS, spread and model error per pass with its count of
reproduced passes, then each parameter per pass with its max / min - 1: first the ones the runs
identify (fitted freely; the goal's verdict covers these), then the weakly identified ones the
fit holds near their priors (`asim.calibration.knobs.KNOBS`, ``prior``; their spread is shown
but is no part of the verdict), then the ones fixed outright, with where their values come from.
``--analyse`` reprints the table from the files already in OUT_DIR without measuring.

Run it on an idle machine: the load average at the start is printed, and numbers taken while
other work shares the cores say more about that work than about asim.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asim.calibration.file import Calibration, load  # noqa: E402
from asim.calibration.knobs import (  # noqa: E402
    FIXED,
    KNOBS,
    TRACED,
    UNFITTED_SOURCE,
    knob_values,
)

PARAM_AGREEMENT = 0.15  # fitted parameters of the passes within 15 % of each other


def _cpu(run: str, side: str = "server", minus: str = "") -> Callable[[Calibration], float]:
    """A run's measured CPU per request (us) of one side, less another run's (a cold extra)."""
    key = f"{side}_cpu_us_per_request"

    def value(cal: Calibration) -> float:
        measured = cal.measured[run][key]  # type: ignore[index]
        return measured - (cal.measured[minus][key] if minus else 0.0)  # type: ignore[index]

    return value


# What measures each freely fitted parameter directly: the run's CPU per request that pins it
# (fit.py's docstring). Its spread across the passes is the machine's own: a fit that follows
# the runs cannot hold a parameter steadier than the quantity that pins it.
PINNED_BY: dict[str, tuple[str, Callable[[Calibration], float]]] = {
    "ab_cpu_s": ("ab's CPU, aiohttp saturated", _cpu("aiohttp saturated", "ab")),
    "loop_cpu_s": ("server CPU, aiohttp warm", _cpu("aiohttp warm")),
    # At C = 1 a request takes nine select() rounds, under saturation a fraction of one: the
    # round is what the warm run's CPU has above the saturated run's (measurements.md 31).
    "loop_iteration_cpu_s": ("server CPU, aiohttp warm - sat.",
                             _cpu("aiohttp warm", minus="aiohttp saturated")),
    "loop_cold_cpu_s": ("server CPU, aiohttp cold - warm",
                        _cpu("aiohttp cold", minus="aiohttp warm")),
    "worker_cpu_s": ("server CPU, django warm", _cpu("django warm")),
    "worker_cold_cpu_s": ("server CPU, django cold - warm",
                          _cpu("django cold", minus="django warm")),
}
IDLE_LOAD = 0.5  # a 1-minute load average above this: the machine is shared


def calibrate(path: Path, extra: list[str]) -> float:
    """One real `asim calibrate` into ``path`` (with ``extra`` options); its wall time in
    seconds."""
    t0 = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "asim", "calibrate", "--out", str(path), *extra],
                         env=env, text=True, capture_output=True)
    if out.returncode != 0:
        sys.exit(f"asim calibrate failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return time.monotonic() - t0


def unit(name: str) -> tuple[float, str]:
    knob = next(k for k in KNOBS if k.name == name)
    return {1e-6: (1e6, "us"), 1e-3: (1e3, "ms"), 1e-2: (1e2, "%")}[knob.unit]


def parameter_row(name: str, cals: list[Calibration], checks: list, note: str = "") -> float:
    """Print one parameter's values across the passes; its max / min - 1."""
    scale, label = unit(name)
    values = [knob_values(c.costs)[name] for c in cals]
    spread = max(values) / min(values) - 1 if min(values) > 0 else float("inf")
    cells = "".join(f" | {v * scale:7.1f} {label:2}" for v in values)
    flag = "" if spread <= PARAM_AGREEMENT else " over"
    pinned = sorted(ch.uncertainty_pct.get(name, float("nan")) for ch in checks)
    print(f"{name:24}{cells} | {spread * 100:6.1f} %{flag:5} | "
          f"{pinned[len(pinned) // 2]:.0f} %" + (f" | {note}" if note else ""))
    return spread


def machine_table(cals: list[Calibration], spreads: dict[str, float]) -> bool:
    """Each freely fitted parameter's spread beside the spread, across the same passes, of the
    measured CPU per request that pins it; True when every parameter is within the larger of
    `PARAM_AGREEMENT` and that spread."""
    print(f"\n{'against the machine':24} | measurement that pins it        |"
          + "".join(f" pass {i + 1:<4}|" for i in range(len(cals)))
          + " its spread | the parameter's")
    ok = True
    for name, spread in spreads.items():
        if name not in PINNED_BY:
            continue
        label, measure = PINNED_BY[name]
        values = [measure(c) for c in cals]
        own = max(values) / min(values) - 1 if min(values) > 0 else float("inf")
        within = spread <= max(PARAM_AGREEMENT, own)
        ok &= within
        print(f"{name:24} | {label:31} |" + "".join(f" {v:7.1f} us|" for v in values)
              + f" {own * 100:7.1f} % | {spread * 100:6.1f} %{'' if within else ' over'}")
    return ok


def table(cals: list[Calibration]) -> bool:
    """Print the goal's table; True when both parts of the goal are met."""
    checks = [c.check for c in cals]
    if any(ch is None for ch in checks):
        sys.exit("a calibration file has no self-check (written before format 2)")
    names = [r.name for r in checks[0].runs]
    print(f"{'calibration run':24}" + "".join(
        f" | pass {i + 1}: RPS, spread, model error" for i in range(len(cals))) + " | reproduced")
    runs_ok = True
    for name in names:
        row, ok = f"{name:24}", 0
        for ch in checks:
            r = next((r for r in ch.runs if r.name == name), None)
            if r is None:
                row += f" | {'(not measured)':31}"
                continue
            spread = "-" if r.spread_pct is None else f"{r.spread_pct:.1f} %"
            mark = "" if r.reproduced else " NO"
            ok += r.reproduced
            row += f" | {r.measured_rps:9.1f} {spread:>7} {r.error_pct:+6.1f} %{mark:3}    "
        runs_ok &= ok == len(checks)
        print(f"{row} | {ok}/{len(checks)}")
    print()
    fitted = [n for n in checks[0].fitted if all(n in ch.fitted for ch in checks)]
    priors = {k.name: k for k in KNOBS if k.prior is not None}
    free = [n for n in fitted if n not in priors]
    held = [n for n in fitted if n in priors]
    print(f"{'fitted parameter':24}" + "".join(f" | pass {i + 1:<4}" for i in range(len(cals)))
          + " | max/min - 1 | pinned to (median standard error, see check.uncertainty_pct)")
    params_ok = True
    spreads = {}
    for name in free:
        spreads[name] = parameter_row(name, cals, checks)
        params_ok &= spreads[name] <= PARAM_AGREEMENT
    machine_ok = machine_table(cals, spreads)
    if held:
        print(f"\n{'held near a prior':24}" + "".join(
            f" | pass {i + 1:<4}" for i in range(len(cals))) + " | max/min - 1 | standard error"
            " | prior, source (not in the verdict)")
        for name in held:
            parameter_row(name, cals, checks, f"{priors[name].source}")
    fixed = sorted({n for ch in checks for n in ch.fixed})
    if fixed:
        print("\nfixed, not fitted:")
        for name in fixed:
            source = TRACED[name][1] if name in TRACED else FIXED.get(name, UNFITTED_SOURCE)
            print(f"  {name:24} {source}")
    print()
    print(f"every calibration run reproduced in every pass: {'yes' if runs_ok else 'NO'}")
    print(f"freely fitted parameters ({', '.join(free)}) within {PARAM_AGREEMENT * 100:.0f} % "
          f"across the passes: {'yes' if params_ok else 'NO'}")
    print(f"freely fitted parameters within max({PARAM_AGREEMENT * 100:.0f} %, the spread of "
          f"the measurement that pins each): {'yes' if machine_ok else 'NO'}")
    return runs_ok and params_ok


def main() -> None:
    args = sys.argv[1:]
    valued = ("--runs", "--rounds")
    unknown = [a for a in args if a.startswith("-") and a not in (*valued, "--analyse")]
    if unknown:  # never start three calibrations on a mistyped option
        print(__doc__.split("\n\n")[1] if "-h" in unknown or "--help" in unknown
              else f"calibration_check.py: unknown option {unknown[0]}", file=sys.stderr)
        sys.exit(0 if unknown[0] in ("-h", "--help") else 2)
    passes = int(args[args.index("--runs") + 1]) if "--runs" in args else 3
    extra = ["--rounds", args[args.index("--rounds") + 1]] if "--rounds" in args else []
    positional = [a for i, a in enumerate(args)
                  if not a.startswith("--") and (i == 0 or args[i - 1] not in valued)]
    out = Path(positional[0]) if positional else ROOT / "results" / time.strftime(
        "calibration-check-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"calibration-{i + 1}.json" for i in range(passes)]
    if "--analyse" not in args:
        load1 = os.getloadavg()[0]
        shared = " (shared machine: numbers are not this machine's own)" if (
            load1 > IDLE_LOAD) else ""
        print(f"load average at the start: {load1:.2f}{shared}", flush=True)
        for i, path in enumerate(paths):
            wall = calibrate(path, extra)
            print(f"pass {i + 1}: asim calibrate took {wall:.0f} s -> {path}", flush=True)
        print()
    ok = table([load(p) for p in paths])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
