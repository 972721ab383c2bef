"""The live test: a challenger no better than the champion is promoted at most alpha of the
time, however often the test is looked at; a better one is found on a few thousand rows."""

from __future__ import annotations

import numpy as np
import pytest

from modelworks.registry.live import LiveTest, betting_wealth, judge_live

TEST = LiveTest(alpha=0.05, min_rows=1)


def _crossed(differences: np.ndarray, threshold: float) -> bool:
    return bool((betting_wealth(differences) >= threshold).any())


@pytest.mark.parametrize(
    "draw",
    [
        # symmetric, mean 0: the boundary of the null
        lambda rng, n: np.clip(rng.normal(0.0, 0.3, n), -1, 1),
        # skewed, mean exactly 0: small gains most of the time, a rare large loss
        lambda rng, n: np.where(rng.random(n) < 0.1, -0.9, 0.1),
        # a challenger slightly worse
        lambda rng, n: np.clip(rng.normal(-0.002, 0.05, n), -1, 1),
    ],
    ids=["symmetric", "skewed", "worse"],
)
def test_false_promotions_stay_below_alpha_looking_after_every_row(draw) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    runs = 600
    promoted = sum(_crossed(draw(rng, 3000), 1 / TEST.alpha) for _ in range(runs))
    # Ville's inequality bounds the rate by alpha (0.05); 600 runs put the 99.9 % binomial
    # upper bound of a true 0.05 at about 0.08.
    assert promoted / runs <= 0.08


def test_a_better_challenger_is_found_and_the_bound_is_on_its_advantage() -> None:
    rng = np.random.default_rng(3)
    champion = rng.uniform(0.05, 0.25, 4000)
    challenger = np.clip(champion - 0.01 + rng.normal(0, 0.03, 4000), 0, 1)
    evidence = judge_live(champion, challenger, TEST, champion_version="1", challenger_version="2")
    assert evidence.passed and evidence.e_value >= 20
    assert evidence.mean_advantage == pytest.approx(0.01, abs=0.002)
    # the same rows, but the challenger must beat the champion by more than it does
    demanding = TEST.model_copy(update={"min_delta": 0.02})
    assert not judge_live(
        champion, challenger, demanding, champion_version="1", challenger_version="2"
    ).passed


def test_slots_raise_the_bar_and_min_rows_holds_the_decision_back() -> None:
    rng = np.random.default_rng(4)
    champion = rng.uniform(0.05, 0.25, 600)
    challenger = np.clip(champion - 0.02 + rng.normal(0, 0.02, 600), 0, 1)
    one = judge_live(champion, challenger, TEST, champion_version="1", challenger_version="2")
    three = judge_live(
        champion, challenger, TEST, champion_version="1", challenger_version="2", n_challengers=3
    )
    assert one.threshold == pytest.approx(20) and three.threshold == pytest.approx(60)
    held = TEST.model_copy(update={"min_rows": 601})
    assert one.passed
    assert not judge_live(
        champion, challenger, held, champion_version="1", challenger_version="2"
    ).passed


def test_no_rows_is_no_evidence() -> None:
    evidence = judge_live(
        np.empty(0), np.empty(0), TEST, champion_version="1", challenger_version="2"
    )
    assert not evidence.passed and evidence.n_rows == 0 and evidence.e_value == 1.0
    assert evidence.describe() == "no labelled rows scored by both models yet"


def test_losses_outside_the_unit_interval_are_refused_naming_a_row() -> None:
    with pytest.raises(ValueError, match=r"1 losses are outside \[0, 1\].*row 1"):
        judge_live(
            np.array([0.1, 1.5]), np.array([0.1, 0.2]), TEST,
            champion_version="1", challenger_version="2",
        )  # fmt: skip
    with pytest.raises(ValueError, match="same rows"):
        judge_live(np.ones(2), np.ones(3), TEST, champion_version="1", challenger_version="2")
