"""Judge a model change offline: recorded validate folders refitted and predicted again by a tree.

    .venv/bin/python tools/rejudge.py TREE OUT FOLDER [FOLDER ...]

TREE is a checkout of asim (main, or a worktree with the change); each FOLDER a recorded
`asim validate` folder (figures/holdout-N, figures/shapes-N) holding its calibration. Each folder
is copied to OUT/<name>, its calibration refitted from the recorded calibration runs by TREE's
code (`asim calibrate --refit`), and its points predicted again from the recorded ab runs by
TREE's code (`asim validate --resume`): nothing is measured, so a change is judged on the same
runs as main. Prints, per folder, whether the refit passed its self-check and the report's
goal lines: the CPU-dominated median under issue 11's rule with its (point, metric) pairs within
max(10 %, floor), the IO-bound median / max and the IO-bound band. Run it once with main's tree
and once with the change's (docs/notes/measurements.md sections 44-47 were judged this way).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"

CPU = re.compile(r"model error median ([\d.]+) %.*?, (\d+) of (\d+) \(point, metric\)")
IO = re.compile(r"IO-bound \(sleep ≥ 20 ms[^|]*\| (\d+) \| ([\d.]+) % \| ([\d.]+) %")
BAND = re.compile(r"of the IO-bound points' (\d+), (\d+) \(")


def asim(tree: Path, *args: str, log: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with log.open("w") as out:
        return subprocess.run([str(PYTHON), "-m", "asim", *args], cwd=tree, env=env,
                              stdout=out, stderr=subprocess.STDOUT).returncode


def judge(tree: Path, folder: Path, out: Path) -> str:
    copy = out / folder.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy)
    calibration = copy / "calibration.json"
    refit_log, resume_log = out / f"{folder.name}.refit.log", out / f"{folder.name}.resume.log"
    if asim(tree, "calibrate", "--refit", str(calibration), "--out", str(calibration),
            log=refit_log):
        return f"{folder.name}: the refit failed (see {refit_log})"
    passed = "self-check passed" in refit_log.read_text()
    if asim(tree, "validate", "--resume", str(copy), log=resume_log):
        return f"{folder.name}: validate --resume failed (see {resume_log})"
    report = (copy / "report.md").read_text()
    cells = [f"{folder.name}: refit {'passed' if passed else 'FAILED'} its self-check"]
    if m := CPU.search(report):
        cells.append(f"CPU-dominated median {m[1]} % ({m[2]} of {m[3]} within the rule)")
    if m := IO.search(report):
        cells.append(f"IO-bound median / max {m[2]} / {m[3]} % ({m[1]} points)")
    if m := BAND.search(report):
        cells.append(f"band {m[2]} of {m[1]}")
    return "; ".join(cells)


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        sys.exit(__doc__)
    tree, out = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for folder in argv[2:]:
        print(judge(tree, Path(folder).resolve(), out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
