"""Replays of a simulated world through the closed loop, several policies side by side."""

from modelworks.simulation.params import ReplayPolicy, SimulationParams
from modelworks.simulation.pipeline import plot_timeline, simulate, simulation_pipeline

__all__ = ["ReplayPolicy", "SimulationParams", "plot_timeline", "simulate", "simulation_pipeline"]
