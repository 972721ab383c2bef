"""A replay's summary from a timeline and scores made by hand: promotions, false ones, and the
first promotion whose champion beat the one it replaced on the rows it served."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelworks.simulation.outcome import add_realised, scores_table, summarise
from modelworks.simulation.params import ReplayPolicy, SimulationParams

# Six weeks, two rows each; the champion changes at week 1 (before the shift at week 2), at
# week 3 (to a worse model) and at week 4 (to a better one).
CHAMPIONS = ["1", "2", "2", "3", "4", "4"]
LOSS = {"run-1": 0.20, "run-2": 0.20, "run-3": 0.30, "run-4": 0.10}


def _replay() -> tuple[pd.DataFrame, pd.DataFrame]:
    scored = [
        {
            "policy": "p", "week": week, "role": "champion", "version": version,
            "run_id": f"run-{version}", "row": np.array([2 * week, 2 * week + 1]),
            "score": np.array([0.5, 0.5]), "loss": np.full(2, LOSS[f"run-{version}"]),
        }
        for week, version in enumerate(CHAMPIONS)
    ]  # fmt: skip
    timeline = pd.DataFrame(
        {
            "policy": "p",
            "week": range(6),
            "champion_version": CHAMPIONS,
            "retrain": [True, True, False, True, True, False],
            "live_promoted": [None, None, None, None, "4", None],
        }
    )
    scores = scores_table(scored)
    return add_realised(timeline, scores), scores


def test_the_summary_counts_promotions_and_finds_the_first_better_champion() -> None:
    timeline, scores = _replay()
    simulation = SimulationParams(
        weeks=6, shift_week=2, policies={"p": ReplayPolicy()}, current_policy="p"
    )
    summary = summarise(
        timeline, scores, simulation, loss="brier", model_names={"p": "m_p"},
        loss_of_run=lambda run: np.full(12, LOSS[run]),
    )  # fmt: skip
    outcome = summary["policies"]["p"]
    assert outcome["promotion_weeks"] == [1, 3, 4]
    assert outcome["false_promotions"] == 1  # week 1, before the shift
    assert outcome["live_promotion_weeks"] == [4]
    # week 3's champion was worse than the one it replaced; week 4's better
    assert outcome["first_better_champion_week"] == 4
    assert outcome["weeks_to_better_champion"] == 2
    assert outcome["mean_realised_loss"] == pytest.approx(np.mean([0.2, 0.2, 0.2, 0.3, 0.1, 0.1]))
    assert outcome["mean_realised_loss_after_shift"] == pytest.approx(0.175)
    assert summary["shift_week"] == 2 and summary["loss"] == "brier"


def test_without_a_shift_every_promotion_after_week_0_is_false() -> None:
    timeline, scores = _replay()
    simulation = SimulationParams(
        weeks=6, shift_week=2, shift_strength=0.0, policies={"p": ReplayPolicy()},
        current_policy="p",
    )  # fmt: skip
    outcome = summarise(
        timeline, scores, simulation, loss="brier", model_names={"p": "m_p"},
        loss_of_run=lambda run: np.full(12, LOSS[run]),
    )["policies"]["p"]  # fmt: skip
    assert outcome["false_promotions"] == 3
    assert outcome["weeks_to_better_champion"] is None
