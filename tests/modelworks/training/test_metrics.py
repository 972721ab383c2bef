import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from modelworks.training import binary_classification_metrics, summarise_folds


def test_hand_computed_small_case():
    y = [0, 0, 1, 1]
    p = [0.1, 0.6, 0.4, 0.8]
    metrics = binary_classification_metrics(y, p)

    # pairs (pos, neg): (0.4 > 0.1), (0.4 < 0.6), (0.8 > 0.1), (0.8 > 0.6) -> 3 of 4
    assert metrics["roc_auc"] == pytest.approx(0.75)
    # ranked 0.8(+) 0.6(-) 0.4(+) 0.1(-): precision at each positive 1/1 and 2/3
    assert metrics["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    assert metrics["log_loss"] == pytest.approx(
        -(math.log(0.9) + math.log(0.4) + math.log(0.4) + math.log(0.8)) / 4
    )
    assert metrics["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.04) / 4)
    # CDFs: negatives {0.1, 0.6}, positives {0.4, 0.8}; at t in [0.1, 0.4): F_neg 0.5, F_pos 0
    assert metrics["ks"] == pytest.approx(0.5)
    assert set(metrics) == {"roc_auc", "pr_auc", "log_loss", "brier", "ks"}
    assert all(type(value) is float for value in metrics.values())


def test_ks_is_one_for_perfect_separation_and_symmetric_for_inverted_scores():
    assert binary_classification_metrics([0, 0, 1], [0.1, 0.2, 0.9])["ks"] == pytest.approx(1.0)
    assert binary_classification_metrics([0, 0, 1], [0.9, 0.8, 0.1])["ks"] == pytest.approx(1.0)


def test_ks_with_tied_scores_across_classes():
    # negatives {0.5, 0.5, 0.2}, positives {0.5, 0.9}: at t in [0.2, 0.5) F_neg 1/3, F_pos 0;
    # at t in [0.5, 0.9) F_neg 1, F_pos 1/2 -> max distance 1/2
    metrics = binary_classification_metrics([0, 0, 0, 1, 1], [0.5, 0.5, 0.2, 0.5, 0.9])
    assert metrics["ks"] == pytest.approx(0.5)


def test_agrees_with_sklearn_and_scipy_on_random_scores():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 300), 0, 1)
    metrics = binary_classification_metrics(y, p)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert metrics["log_loss"] == pytest.approx(log_loss(y, p))
    assert metrics["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert metrics["ks"] == pytest.approx(ks_2samp(p[y == 1], p[y == 0]).statistic)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1, 1], [0.1, 0.2], "3 values but y_score has 2"),
        ([1, 1, 1], [0.1, 0.2, 0.3], "both classes; got 0 negatives and 3 positives"),
        ([0, 2, 1], [0.1, 0.2, 0.3], "binary labels 0/1; found \\['2'\\]"),
        ([0, 1], [0.1, 1.5], "probabilities in \\[0, 1\\]"),
        ([0, 1], [0.1, np.nan], "1 NaN or infinite"),
        ([0, 1], [[0.9, 0.1], [0.2, 0.8]], "must be 1-D"),
        ([], [], "empty"),
    ],
)
def test_bad_input_is_rejected_with_the_reason(y, p, message):
    with pytest.raises(ValueError, match=message):
        binary_classification_metrics(y, p)


def test_summarise_folds_gives_mean_and_sample_std():
    summary = summarise_folds(
        [{"roc_auc": 0.7, "ks": 0.2}, {"roc_auc": 0.8, "ks": 0.4}, {"roc_auc": 0.9, "ks": 0.3}]
    )
    # squared deviations sum to 0.02 over 3 folds: ddof=1 divides by 2
    assert summary == pytest.approx(
        {
            "roc_auc_mean": 0.8,
            "roc_auc_std": math.sqrt(0.02 / 2),
            "ks_mean": 0.3,
            "ks_std": math.sqrt(0.02 / 2),
        }
    )


def test_summarise_two_folds_divides_by_one_not_two():
    summary = summarise_folds([{"brier": 0.6}, {"brier": 0.9}])
    # deviations of +-0.15: the sample std is sqrt(2 * 0.15**2 / 1), the population one 0.15
    assert summary["brier_std"] == pytest.approx(0.15 * math.sqrt(2))
    assert summary["brier_mean"] == pytest.approx(0.75)


def test_summarise_single_fold_has_no_std():
    assert summarise_folds([{"brier": 0.2}]) == {"brier_mean": 0.2}


def test_summarise_folds_rejects_empty_and_mismatched_folds():
    with pytest.raises(ValueError, match="at least one fold"):
        summarise_folds([])
    with pytest.raises(ValueError, match="fold 1 has metrics \\['ks'\\]"):
        summarise_folds([{"roc_auc": 0.7}, {"ks": 0.2}])


@pytest.mark.parametrize("name", ["roc_auc", "log_loss", "brier", "pr_auc", "ks"])
def test_subset_metric_equals_the_metric_on_the_resampled_rows(name: str) -> None:
    from modelworks.training.metrics import subset_metric

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 400)
    p = np.round(rng.uniform(size=400), 2)  # rounded: plenty of tied scores
    metric = subset_metric(name, y, p)
    for _ in range(5):
        rows = rng.integers(0, 400, 400)
        expected = binary_classification_metrics(y[rows], p[rows])[name]
        assert metric(rows) == pytest.approx(expected, abs=1e-12)
