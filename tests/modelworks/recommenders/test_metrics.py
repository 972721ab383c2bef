"""Ranking metrics against cases worked out by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelworks.recommenders import (
    Recommender,
    auc_per_user,
    catalogue_coverage,
    evaluate_recommender,
    ndcg_at_k,
    per_user_metrics,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    top_k_positions,
)
from modelworks.recommenders.metrics import hits_at_k

LOG2_3, LOG2_5 = np.log2(3), np.log2(5)
# One user, five items ranked 0 > 1 > 2 > 3 > 4; items 1 and 3 are relevant.
SCORES = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
RELEVANT = np.array([[False, True, False, True, False]])


def test_precision_recall_and_ndcg_of_one_ranking():
    hits = hits_at_k(top_k_positions(SCORES, 4), RELEVANT)
    assert hits.tolist() == [[False, True, False, True]]
    n_relevant = RELEVANT.sum(axis=1)
    assert precision_at_k(hits, 2) == pytest.approx([1 / 2])
    assert precision_at_k(hits, 4) == pytest.approx([2 / 4])
    assert recall_at_k(hits, n_relevant, 2) == pytest.approx([1 / 2])
    assert recall_at_k(hits, n_relevant, 4) == pytest.approx([1.0])
    ideal = 1 + 1 / LOG2_3  # both relevant items on top
    assert ndcg_at_k(hits, n_relevant, 2) == pytest.approx([(1 / LOG2_3) / ideal])
    assert ndcg_at_k(hits, n_relevant, 4) == pytest.approx([(1 / LOG2_3 + 1 / LOG2_5) / ideal])


def test_ndcg_is_one_for_a_perfect_ranking_and_caps_the_ideal_at_k():
    hits = np.array([[True, True, False], [True, False, False]])
    assert ndcg_at_k(hits, np.array([2, 1]), 3) == pytest.approx([1.0, 1.0])
    # Five relevant items but k = 2: the ideal list is two hits, so two hits score 1.
    assert ndcg_at_k(hits[:1], np.array([5]), 2) == pytest.approx([1.0])
    assert np.isnan(ndcg_at_k(hits[:1], np.array([0]), 2)).all()


def test_auc_counts_correctly_ordered_pairs():
    candidates = np.ones_like(RELEVANT)
    # Pairs (relevant, irrelevant) in the right order: 1>2, 1>4, 3>4 out of 2 x 3.
    assert auc_per_user(SCORES, RELEVANT, candidates) == pytest.approx([3 / 6])
    ties = np.ones_like(SCORES)
    assert auc_per_user(ties, RELEVANT, candidates) == pytest.approx([0.5])
    assert np.isnan(auc_per_user(SCORES, np.zeros_like(RELEVANT), candidates)).all()


def test_excluded_items_are_neither_ranked_nor_relevant():
    exclude = np.array([[True, False, False, True, False]])  # item 0 on top, relevant item 3
    per_user, top = per_user_metrics(RELEVANT, scores=SCORES, exclude=exclude, ks=(2,))
    assert top.tolist() == [[1, 2]]
    row = per_user.iloc[0]
    assert row["n_relevant"] == 1  # item 3 no longer counts
    assert row["precision_at_2"] == pytest.approx(1 / 2)
    assert row["recall_at_2"] == pytest.approx(1.0)
    assert row["ndcg_at_2"] == pytest.approx(1.0)
    assert row["auc"] == pytest.approx(1.0)  # item 1 outscores items 2 and 4


def test_ranked_lists_without_scores_give_every_metric_but_auc():
    relevant = np.array([[True, False, False, False], [False, False, True, False]])
    top = np.array([[0, 1], [1, -1]])  # the second list is short
    per_user, _ = per_user_metrics(relevant, top=top, ks=(1, 2))
    assert "auc" not in per_user.columns
    assert per_user["precision_at_1"].tolist() == [1.0, 0.0]
    assert per_user["recall_at_2"].tolist() == [1.0, 0.0]


def test_catalogue_coverage_counts_distinct_recommended_items():
    top = np.array([[0, 1, 4], [1, 2, -1]])
    assert catalogue_coverage(top, n_items=5, k=2) == pytest.approx(3 / 5)
    assert catalogue_coverage(top, n_items=5, k=3) == pytest.approx(4 / 5)


def test_summary_averages_users_with_relevant_items_per_group():
    scores = np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    relevant = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    cold = np.array([False, False, True, True])
    summary = ranking_metrics(relevant, scores=scores, cold=cold, ks=(1,))
    assert summary["n_users"] == 3  # the fourth user has nothing relevant
    assert summary["n_users_warm"] == 2
    assert summary["n_users_cold"] == 1
    assert summary["precision_at_1_warm"] == pytest.approx(0.5)
    assert summary["precision_at_1_cold"] == pytest.approx(0.0)
    assert summary["precision_at_1"] == pytest.approx(1 / 3)
    assert summary["auc_warm"] == pytest.approx((1.0 + 0.5) / 2)
    assert summary["coverage_at_1_warm"] == pytest.approx(1 / 3)
    assert summary["coverage_at_1"] == pytest.approx(2 / 3)


def test_a_group_without_users_reports_only_its_count():
    summary = ranking_metrics(RELEVANT, scores=SCORES, ks=(5,))
    assert summary["n_users_cold"] == 0
    assert not any(key.endswith("_cold") for key in summary if key != "n_users_cold")


def test_scores_and_lists_are_checked():
    with pytest.raises(ValueError, match="either scores"):
        per_user_metrics(RELEVANT)
    with pytest.raises(ValueError, match="shape"):
        per_user_metrics(RELEVANT, scores=SCORES[:, :3])
    with pytest.raises(ValueError, match="need 10"):
        per_user_metrics(RELEVANT, top=np.array([[0, 1]]))


class FixedScores(Recommender):
    """Scores every user with the same row: items a, b, c, d in that order."""

    def __init__(self) -> None:
        self.item_ids = pd.Index(["a", "b", "c", "d"])

    def score_matrix(self, user_ids: Any, user_features: pd.DataFrame | None = None) -> np.ndarray:
        return np.tile([4.0, 3.0, 2.0, 1.0], (len(np.asarray(user_ids)), 1))


def test_evaluate_recommender_builds_the_matrices_from_frames():
    held_out = pd.DataFrame({"user_id": [1, 1, 2], "item_id": ["b", "a", "d"]})
    history = pd.DataFrame({"user_id": [1], "item_id": ["a"]})
    summary = evaluate_recommender(
        FixedScores(), held_out, history=history, exclude=history, ks=(1, 2)
    )
    # User 1 (warm): "a" is excluded, so "b" is first and the only relevant item left.
    assert summary["ndcg_at_1_warm"] == pytest.approx(1.0)
    # User 2 (cold, never in history): "d" is last of four.
    assert summary["recall_at_2_cold"] == pytest.approx(0.0)
    assert summary["auc_cold"] == pytest.approx(0.0)
    assert summary["n_users"] == 2


def test_evaluate_recommender_names_items_outside_the_catalogue():
    held_out = pd.DataFrame({"user_id": [1], "item_id": ["zz"]})
    with pytest.raises(ValueError, match=r"\['zz'\] are not in the catalogue"):
        evaluate_recommender(FixedScores(), held_out, history=held_out.iloc[:0])
