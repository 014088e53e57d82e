"""Training health: `nn.Monitor` records per-step statistics of every layer and says what is wrong.

    mon = nn.Monitor(model, optimizer)
    ...train...
    print(mon.report()); mon.plot()

Reference: docs/monitor.md.
"""

from ._core import MODULE_KEYS, PARAM_KEYS, Monitor, MonitorWarning
from ._diagnose import DEFAULT_THRESHOLDS, KINDS, Diagnosis

__all__ = ["Monitor", "MonitorWarning", "Diagnosis", "DEFAULT_THRESHOLDS", "KINDS", "MODULE_KEYS",
           "PARAM_KEYS"]
