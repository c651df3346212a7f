"""The fault suite (issue 12, item 6): real workers under real faults, compared with replay.

`scenarios` runs them, `compare` judges them, `proxy` cuts connections, `harness` drives the
worker processes (the integration tests use it too). `credence chaos` is the command.
"""

from credence.chaos.scenarios import (
    SCENARIOS,
    Reference,
    Result,
    reference,
    scenario,
    simulated_events,
    table,
)

__all__ = ["SCENARIOS", "Reference", "Result", "reference", "scenario", "simulated_events",
           "table"]
