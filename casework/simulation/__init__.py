"""The season simulation (`casework simulate season`): a training database played through a
whole season by its staff, with the engine's invariants checked after every day."""

from casework.simulation.invariants import SeasonBroken
from casework.simulation.season import SeasonPlan, SeasonResult, simulate_season

__all__ = ["SeasonBroken", "SeasonPlan", "SeasonResult", "simulate_season"]
