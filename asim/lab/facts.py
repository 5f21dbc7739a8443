"""Facts about the machine and the software a measurement ran on, recorded when it is made.

A result read later, on another machine or after an upgrade, still says where it came from
(the calibration file's ``machine``, every validate run's ``facts``).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path


def machine_facts() -> dict[str, object]:
    """CPU model, usable cores, kernel and Python of this machine."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


@cache
def ab_version() -> str:
    """ApacheBench's version line ("2.3 <$Revision: ...$>"), or "not found"."""
    ab = shutil.which("ab")
    if ab is None:
        return "not found"
    try:
        out = subprocess.run([ab, "-V"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    first = out.splitlines()[0] if out else ""
    return first.removeprefix("This is ApacheBench, Version ").strip() or "unknown"


def measurement_facts(*, calibration: str) -> dict[str, str]:
    """What one measured run records about where it ran: machine, software, and the model's
    calibration at the time (``calibration``: "built-in defaults" or the file's path)."""
    m = machine_facts()
    return {
        "machine": f"{m['cores']} cores usable, {platform.system()} {m['kernel']}, "
        f"Python {m['python']}" + (f", {m['cpu']}" if m["cpu"] else ""),
        "servers": f"aiohttp {_version('aiohttp')}, Django {_version('django')}, "
        f"gunicorn {_version('gunicorn')}",
        "ab": ab_version(),
        "calibration": calibration,
    }
