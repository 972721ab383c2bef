import numpy as np
import pandas as pd
import pytest

from modelworks.training import out_of_time_split, stratified_folds


def _frame(times):
    return pd.DataFrame(
        {"t": pd.to_datetime(times, format="ISO8601"), "v": range(len(times))},
        index=list("abcde")[: len(times)],
    )


def test_row_exactly_holdout_days_before_the_latest_is_training():
    frame = _frame(
        ["2024-01-01", "2024-01-21 23:59:59", "2024-01-22", "2024-01-22 00:00:01", "2024-01-31"]
    )
    train, holdout = out_of_time_split(frame, time_column="t", holdout_days=9)
    # cutoff = 2024-01-31 - 9 days = 2024-01-22 00:00:00, which itself is training
    assert train.index.tolist() == ["a", "b", "c"]
    assert holdout.index.tolist() == ["d", "e"]


def test_split_keeps_index_and_row_order_of_unsorted_frames():
    frame = _frame(["2024-03-01", "2024-01-01", "2024-02-20", "2024-01-15"])
    train, holdout = out_of_time_split(frame, time_column="t", holdout_days=30)
    assert train.index.tolist() == ["b", "d"]
    assert holdout.index.tolist() == ["a", "c"]


def test_timezone_aware_times_split_the_same_way():
    frame = _frame(["2024-01-01", "2024-01-10", "2024-01-20"])
    frame["t"] = frame["t"].dt.tz_localize("Europe/Amsterdam")
    train, holdout = out_of_time_split(frame, time_column="t", holdout_days=10)
    assert train.index.tolist() == ["a", "b"]
    assert holdout.index.tolist() == ["c"]


def test_holdout_covering_everything_is_an_error():
    frame = _frame(["2024-01-01", "2024-01-05"])
    train, _ = out_of_time_split(frame, time_column="t", holdout_days=4)
    assert train.index.tolist() == ["a"]
    with pytest.raises(ValueError, match="no training rows"):
        out_of_time_split(frame, time_column="t", holdout_days=5)


@pytest.mark.parametrize(
    ("frame", "column", "days", "message"),
    [
        (_frame(["2024-01-01"]).iloc[:0], "t", 5, "empty frame"),
        (_frame(["2024-01-01"]), "when", 5, "time column 'when' not in frame"),
        (pd.DataFrame({"t": ["2024-01-01"]}), "t", 5, "datetime dtype"),
        (_frame(["2024-01-01", None]), "t", 5, "1 missing values"),
        (_frame(["2024-01-01"]), "t", 0, "holdout_days must be at least 1"),
    ],
)
def test_bad_split_requests_are_explained(frame, column, days, message):
    with pytest.raises(ValueError, match=message):
        out_of_time_split(frame, time_column=column, holdout_days=days)


def test_stratified_folds_keep_the_class_ratio_and_cover_every_row_once():
    y = np.array([1] * 20 + [0] * 80)
    folds = stratified_folds(y, n_splits=5, seed=7)
    assert len(folds) == 5
    for train, valid in folds:
        assert len(valid) == 20
        assert y[valid].mean() == pytest.approx(0.2)
        assert y[train].mean() == pytest.approx(0.2)
        assert not set(train) & set(valid)
    assert sorted(np.concatenate([valid for _, valid in folds]).tolist()) == list(range(100))


def test_stratified_folds_are_shuffled_and_reproducible_for_a_seed():
    y = np.array([0, 1] * 30)
    first = stratified_folds(y, n_splits=3, seed=1)
    again = stratified_folds(y, n_splits=3, seed=1)
    other = stratified_folds(y, n_splits=3, seed=2)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, other, strict=True))
    assert not np.array_equal(first[0][1], np.arange(20))


def test_stratified_folds_name_the_class_counts_when_a_class_is_too_small():
    y = pd.Series([0] * 10 + [1] * 3)
    with pytest.raises(ValueError, match=r"n_splits=5.*\{0: 10, 1: 3\}"):
        stratified_folds(y, n_splits=5, seed=0)


def test_stratified_folds_need_two_classes():
    with pytest.raises(ValueError, match="two classes"):
        stratified_folds([1] * 10, n_splits=2, seed=0)
