"""asim: predict, then prove, how web servers behave under ApacheBench load.

`predict` uses the costs `asim predict` uses: ``calibration="auto"`` (this machine's `asim
calibrate` file if there is one, else the built-in costs), ``"none"`` or a file's path.

>>> from asim import predict, Scenario
>>> [p.report.requests_per_second > 0 for p in predict(Scenario(server="django", sleep_s=0.05))]
[True]

The names below are imported on first use (PEP 562): the lab's servers are modules of this
package (`asim.servers`), and importing the model with them (numpy, SimPy) would add about
9 MiB to every server process whose memory asim measures.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asim.grid import Prediction, predict, scenarios
    from asim.sim.abreport import AbReport
    from asim.sim.costs import Costs
    from asim.sim.spec import Scenario

__version__ = "0.1.0"
__all__ = ["AbReport", "Costs", "Prediction", "Scenario", "predict", "scenarios", "__version__"]

_HOMES = {
    "Prediction": "asim.grid",
    "predict": "asim.grid",
    "scenarios": "asim.grid",
    "AbReport": "asim.sim.abreport",
    "Costs": "asim.sim.costs",
    "Scenario": "asim.sim.spec",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'asim' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
