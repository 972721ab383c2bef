"""Behaviour every registered adapter must show, run against each built-in one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from modelworks.training import (
    METADATA_FILE,
    CandidateParams,
    FeatureSpec,
    FittedModel,
    get_adapter,
    load_fitted,
    register_adapter,
    registered_adapters,
)
from modelworks.training.adapters import base

FEATURES = FeatureSpec(numeric=["x1", "x2"], categorical=["segment"])
PARAMS = {
    "catboost": {"learning_rate": 0.2, "depth": 4, "thread_count": 1},
    "lightgbm": {"learning_rate": 0.2, "num_leaves": 8, "min_data_in_leaf": 10, "num_threads": 1},
}
ADAPTERS = ["catboost", "lightgbm"]


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """x1 pushes the label up in segments a/b and down in c/d: learnable only with the category."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(list("abcd"), n)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    sign = np.where(np.isin(segment, ["a", "b"]), 1.0, -1.0)
    logit = 3.0 * sign * x1 + 0.5 * x2
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"x1": x1, "segment": segment, "x2": x2, "id": np.arange(n)})
    return frame, y


def candidate(name: str, **overrides) -> CandidateParams:
    return CandidateParams(
        adapter=name, params=PARAMS[name], max_rounds=300, early_stopping_rounds=15, **overrides
    )


@pytest.fixture(scope="module")
def data():
    return {"train": synthetic(800, 1), "valid": synthetic(300, 2), "test": synthetic(400, 3)}


@pytest.fixture(scope="module", params=ADAPTERS)
def early_stopped(request, data) -> FittedModel:
    (X, y), (Xv, yv) = data["train"], data["valid"]
    return get_adapter(request.param).fit(
        X, y, features=FEATURES, candidate=candidate(request.param), seed=0, X_valid=Xv, y_valid=yv
    )


def test_learns_a_signal_that_needs_the_categorical_interaction(early_stopped, data):
    X, y = data["test"]
    assert roc_auc_score(y, early_stopped.predict_proba(X)) > 0.8


def test_early_stopping_keeps_fewer_rounds_than_the_budget(early_stopped):
    assert 1 <= early_stopped.best_iteration < 300
    assert isinstance(early_stopped, FittedModel)


def test_predictions_are_probabilities_one_per_row(early_stopped, data):
    X, _ = data["test"]
    p = early_stopped.predict_proba(X)
    assert p.shape == (len(X),)
    assert ((p > 0) & (p < 1)).all()


def test_extra_columns_and_column_order_do_not_matter(early_stopped, data):
    X, _ = data["test"]
    shuffled = X.assign(unrelated="zzz")[["unrelated", "segment", "x2", "id", "x1"]]
    np.testing.assert_array_equal(
        early_stopped.predict_proba(shuffled), early_stopped.predict_proba(X)
    )


def test_missing_feature_column_is_named(early_stopped, data):
    X, _ = data["test"]
    with pytest.raises(ValueError, match=r"missing feature columns: \['x2'\]"):
        early_stopped.predict_proba(X.drop(columns="x2"))


def test_unknown_and_missing_categories_score_without_error(early_stopped, data):
    X = data["test"][0].head(4).copy()
    X["segment"] = ["never-seen", None, np.nan, "a"]
    p = early_stopped.predict_proba(X)
    assert np.isfinite(p).all()


def test_categorical_dtype_of_the_batch_does_not_change_scores(early_stopped, data):
    X, _ = data["test"]
    as_category = X.assign(segment=X["segment"].astype("category"))
    np.testing.assert_array_equal(
        early_stopped.predict_proba(as_category), early_stopped.predict_proba(X)
    )


def test_array_scoring_matches_the_library_on_the_training_layout(early_stopped, data):
    """Scoring builds arrays, not frames; the library must see what it saw when training."""
    X = data["test"][0].copy()
    X.loc[X.index[:3], "segment"] = ["never-seen", None, "a"]
    X["x2"] = X["x2"].round().astype("Int64")  # an integer batch with a gap
    X.loc[X.index[5], "x2"] = pd.NA
    selected = FEATURES.select(X)
    if early_stopped.adapter == "catboost":
        from catboost import Pool

        from modelworks.training.adapters.catboost import _encode

        pool = Pool(_encode(selected, FEATURES), cat_features=FEATURES.categorical)
        expected = early_stopped.native.predict_proba(pool)[:, 1]
    else:
        from modelworks.training.adapters.lightgbm import _encode

        encoded = _encode(selected, early_stopped.categories)
        expected = early_stopped.native.predict(encoded, num_iteration=early_stopped.best_iteration)
    np.testing.assert_allclose(early_stopped.predict_proba(X), expected, rtol=0, atol=1e-12)
    one_by_one = [early_stopped.predict_proba(X.iloc[[i]])[0] for i in range(10)]
    np.testing.assert_allclose(one_by_one, expected[:10], rtol=0, atol=1e-12)


def test_feature_importance_covers_every_feature_and_sums_to_one(early_stopped):
    importance = early_stopped.feature_importance()
    assert importance.index.tolist() == FEATURES.columns
    assert importance.sum() == pytest.approx(1.0)
    assert importance["x1"] > importance["x2"]


def test_save_and_load_round_trip_predicts_identically(early_stopped, data, tmp_path):
    X, _ = data["test"]
    early_stopped.save(tmp_path / "model")
    loaded = load_fitted(tmp_path / "model")
    assert loaded.adapter == early_stopped.adapter
    assert loaded.features == FEATURES
    assert loaded.best_iteration == early_stopped.best_iteration
    assert loaded.params == early_stopped.params
    np.testing.assert_array_equal(loaded.predict_proba(X), early_stopped.predict_proba(X))
    np.testing.assert_allclose(loaded.feature_importance(), early_stopped.feature_importance())
    unknown = X.head(2).assign(segment="never-seen")
    np.testing.assert_array_equal(
        loaded.predict_proba(unknown), early_stopped.predict_proba(unknown)
    )


@pytest.mark.parametrize("name", ADAPTERS)
def test_refit_without_validation_trains_exactly_n_rounds(name, data):
    X, y = data["train"]
    model = get_adapter(name).fit(
        X, y, features=FEATURES, candidate=candidate(name), seed=0, n_rounds=7
    )
    assert model.best_iteration == 7
    native = model.native
    assert (native.tree_count_ if name == "catboost" else native.num_trees()) == 7


@pytest.mark.parametrize("name", ADAPTERS)
def test_same_seed_same_model(name, data):
    (X, y), (Xt, _) = data["train"], data["test"]

    def fit(seed: int) -> np.ndarray:
        model = get_adapter(name).fit(
            X, y, features=FEATURES, candidate=candidate(name), seed=seed, n_rounds=20
        )
        return model.predict_proba(Xt)

    np.testing.assert_array_equal(fit(3), fit(3))


@pytest.mark.parametrize("name", ADAPTERS)
def test_training_writes_nothing_to_the_working_directory(name, data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (X, y), (Xv, yv) = data["train"], data["valid"]
    get_adapter(name).fit(
        X, y, features=FEATURES, candidate=candidate(name), seed=0, X_valid=Xv, y_valid=yv
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ADAPTERS)
def test_missing_training_column_is_named(name, data):
    X, y = data["train"]
    with pytest.raises(ValueError, match=r"missing feature columns: \['segment'\]"):
        get_adapter(name).fit(
            X.drop(columns="segment"),
            y,
            features=FEATURES,
            candidate=candidate(name),
            seed=0,
            n_rounds=5,
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "pass n_rounds"),
        ({"n_rounds": 5, "valid": True}, "n_rounds is for refitting"),
        ({"X_valid_only": True, "n_rounds": 5}, "both X_valid and y_valid"),
        ({"n_rounds": 0}, "n_rounds must be at least 1"),
        ({"labels": "constant", "n_rounds": 5}, "both classes"),
        ({"labels": "short", "n_rounds": 5}, "799 labels for 800 feature rows"),
        ({"labels": "three", "n_rounds": 5}, "binary labels 0/1"),
    ],
)
def test_fit_arguments_are_checked(kwargs, message, data):
    X, y = data["train"]
    Xv, yv = data["valid"]
    labels = {
        None: y,
        "constant": np.zeros_like(y),
        "short": y[:-1],
        "three": np.where(y == 1, 2, 0),
    }[kwargs.get("labels")]
    extra = {}
    if kwargs.get("valid"):
        extra = {"X_valid": Xv, "y_valid": yv}
    if kwargs.get("X_valid_only"):
        extra = {"X_valid": Xv}
    with pytest.raises(ValueError, match=message):
        get_adapter("lightgbm").fit(
            X,
            labels,
            features=FEATURES,
            candidate=candidate("lightgbm"),
            seed=0,
            n_rounds=kwargs.get("n_rounds"),
            **extra,
        )


def test_candidate_with_unknown_adapter_lists_the_known_ones():
    with pytest.raises(
        ValidationError, match=r"unknown model adapter 'xgboost'.*catboost.*lightgbm"
    ):
        CandidateParams(adapter="xgboost")


def test_candidate_may_not_override_what_the_adapter_manages():
    with pytest.raises(ValidationError, match=r"\['iterations', 'random_seed'\].*catboost"):
        CandidateParams(adapter="catboost", params={"iterations": 10, "random_seed": 1, "depth": 4})
    with pytest.raises(ValidationError, match=r"\['n_estimators'\]"):
        CandidateParams(adapter="lightgbm", params={"n_estimators": 10})


def test_candidate_rejects_misspelt_keys_and_empty_budgets():
    with pytest.raises(ValidationError, match="max_round"):
        CandidateParams.model_validate({"adapter": "catboost", "max_round": 10})
    with pytest.raises(ValidationError, match="early_stopping_rounds"):
        CandidateParams(adapter="catboost", early_stopping_rounds=0)


def test_loading_a_directory_without_a_saved_model_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=METADATA_FILE):
        load_fitted(tmp_path)


def test_adapter_refuses_a_directory_saved_by_another(early_stopped, tmp_path):
    early_stopped.save(tmp_path)
    other = next(name for name in ADAPTERS if name != early_stopped.adapter)
    with pytest.raises(ValueError, match=f"holds a {early_stopped.adapter} model"):
        get_adapter(other).load(tmp_path)


class _ConstantModel:
    adapter = "constant"
    best_iteration = 0

    def __init__(self, features: FeatureSpec, rate: float) -> None:
        self.features = features
        self.rate = rate
        self.params = {"rate": rate}

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(self.features.select(X)), self.rate)

    def feature_importance(self) -> pd.Series:
        return pd.Series(0.0, index=self.features.columns)

    def save(self, directory: Path) -> None:
        base.write_metadata(
            directory,
            {"adapter": self.adapter, "features": self.features.model_dump(), "rate": self.rate},
        )


class _ConstantAdapter:
    name = "constant"
    reserved_params = frozenset({"rate"})

    def fit(
        self,
        X_train,
        y_train,
        *,
        features,
        candidate,
        seed,
        X_valid=None,
        y_valid=None,
        n_rounds=None,
    ):
        return _ConstantModel(features, float(np.mean(y_train)))

    def load(self, directory: Path) -> _ConstantModel:
        metadata = base.read_metadata(directory)
        return _ConstantModel(FeatureSpec.model_validate(metadata["features"]), metadata["rate"])


def test_a_new_adapter_plugs_in_without_changing_callers(monkeypatch, data, tmp_path):
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    register_adapter(_ConstantAdapter())
    assert "constant" in registered_adapters()

    spec = CandidateParams(adapter="constant")
    X, y = data["train"]
    model = get_adapter(spec.adapter).fit(
        X, y, features=FEATURES, candidate=spec, seed=0, n_rounds=1
    )
    model.save(tmp_path)
    np.testing.assert_array_equal(load_fitted(tmp_path).predict_proba(X), np.full(len(X), y.mean()))

    with pytest.raises(ValueError, match="already registered"):
        register_adapter(_ConstantAdapter())
