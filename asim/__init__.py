"""asim: predict, then prove, how web servers behave under ApacheBench load.

`predict` uses the costs `asim predict` uses: ``calibration="auto"`` (this machine's `asim
calibrate` file if there is one, else the built-in costs), ``"none"`` or a file's path.

>>> from asim import predict, Scenario
>>> [p.report.requests_per_second > 0 for p in predict(Scenario(server="django", sleep_s=0.05))]
[True]
"""

from asim.grid import Prediction, predict, scenarios
from asim.sim.abreport import AbReport
from asim.sim.costs import Costs
from asim.sim.spec import Scenario

__version__ = "0.1.0"
__all__ = ["AbReport", "Costs", "Prediction", "Scenario", "predict", "scenarios", "__version__"]
