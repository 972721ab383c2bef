import numpy as np
import pandas as pd
import pytest

from modelworks.training import early_stopping_split, kfolds, out_of_time_split, stratified_folds


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


def test_kfolds_cover_every_row_once_and_are_shuffled():
    folds = kfolds(103, n_splits=4, seed=5)
    assert len(folds) == 4
    for train, valid in folds:
        assert not set(train) & set(valid)
        assert len(train) + len(valid) == 103
        assert len(valid) in (25, 26)
    assert sorted(np.concatenate([valid for _, valid in folds]).tolist()) == list(range(103))
    assert not np.array_equal(folds[0][1], np.arange(len(folds[0][1])))


def test_kfolds_are_reproducible_for_a_seed():
    first, again, other = (kfolds(50, n_splits=5, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize(
    ("n_rows", "n_splits", "message"),
    [
        (10, 1, "n_splits must be at least 2"),
        (3, 5, r"at least n_splits=5 rows.*n_rows=3"),
        (10.0, 2, "n_rows must be an int"),
    ],
)
def test_kfolds_explain_bad_requests(n_rows, n_splits, message):
    with pytest.raises(ValueError, match=message):
        kfolds(n_rows, n_splits=n_splits, seed=0)


def test_early_stopping_split_is_disjoint_covering_and_stratified():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    fit, stop = early_stopping_split(y, fraction=0.2, seed=3, stratify=True)
    assert len(stop) == 20 and len(fit) == 80
    assert not set(fit) & set(stop)
    assert sorted(np.concatenate([fit, stop]).tolist()) == list(range(100))
    assert np.bincount(y[stop]).tolist() == [12, 6, 2]
    assert np.bincount(y[fit]).tolist() == [48, 24, 8]
    assert np.array_equal(fit, np.sort(fit)) and np.array_equal(stop, np.sort(stop))


def test_early_stopping_split_is_reproducible_for_a_seed():
    y = np.arange(40.0)  # regression targets: unstratified
    first = early_stopping_split(y, fraction=0.25, seed=1, stratify=False)
    again = early_stopping_split(y, fraction=0.25, seed=1, stratify=False)
    other = early_stopping_split(y, fraction=0.25, seed=2, stratify=False)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[1], other[1])
    assert len(first[1]) == 10
    assert not np.array_equal(first[1], np.arange(10))


def test_early_stopping_split_keeps_both_parts_non_empty():
    fit, stop = early_stopping_split([0, 1, 0], fraction=0.1, seed=0, stratify=False)
    assert len(stop) == 1 and len(fit) == 2


@pytest.mark.parametrize(
    ("y", "fraction", "stratify", "message"),
    [
        ([0, 1] * 5, 0.0, False, r"fraction must be in \(0, 0.5\]"),
        ([0, 1] * 5, 0.6, False, r"fraction must be in \(0, 0.5\]"),
        ([0], 0.5, False, "two non-empty parts"),
        ([0] * 10 + [1], 0.2, True, r"at least 2 rows of every class.*\{0: 10, 1: 1\}"),
        ([0, 0, 1, 1, 2, 2], 0.2, True, r"fewer than the 3 classes.*\{0: 2, 1: 2, 2: 2\}"),
        ([[0, 1]], 0.2, False, "y must be 1-D"),
    ],
)
def test_early_stopping_split_explains_bad_requests(y, fraction, stratify, message):
    with pytest.raises(ValueError, match=message):
        early_stopping_split(y, fraction=fraction, seed=0, stratify=stratify)
