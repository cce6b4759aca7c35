"""A simulated company: months of customers of every stream, billed by the real services.

``levante simulate`` builds one on a fresh database so that the revenue dashboard can be
checked against a known answer (the scenario's ARR and shares). Only demand is made up: token
counts come from a model of demand, not from the engine; every subscription, invoice,
payment, usage record, licence report and ticket is written by the package that owns it.
"""

from __future__ import annotations

from datetime import datetime

from levante.settings import Settings
from levante.simulation.company import Outcome, Progress, Simulation
from levante.simulation.scenario import Scenario, default_text, load_scenario
from levante.storage import Database, utcnow


def simulate(
    database: Database,
    settings: Settings,
    scenario: Scenario,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Run ``scenario`` on ``database`` (which must hold no customer yet): its months end
    with the last closed month before ``now``."""
    return Simulation(database, settings, scenario, now=now or utcnow(), progress=progress).run()


__all__ = [
    "default_text",
    "load_scenario",
    "simulate",
]
