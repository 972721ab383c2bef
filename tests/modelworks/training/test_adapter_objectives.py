"""Multiclass, regression and sample weights, run against each built-in adapter."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, r2_score

from modelworks.training import (
    METADATA_FILE,
    CandidateParams,
    FeatureSpec,
    FittedModel,
    get_adapter,
    load_fitted,
)
from modelworks.training.adapters.base import prepare_fit

FEATURES = FeatureSpec(numeric=["x1", "x2"], categorical=["segment"])
PARAMS = {
    "catboost": {"learning_rate": 0.2, "depth": 4, "thread_count": 1},
    "lightgbm": {"learning_rate": 0.2, "num_leaves": 8, "min_data_in_leaf": 10, "num_threads": 1},
}
ADAPTERS = ["catboost", "lightgbm"]


def candidate(name: str) -> CandidateParams:
    return CandidateParams(
        adapter=name, params=PARAMS[name], max_rounds=200, early_stopping_rounds=15
    )


def three_classes(n: int, seed: int, *, spread: float = 0.4) -> tuple[pd.DataFrame, np.ndarray]:
    """Class c sits around x1 = 2c; ``spread`` sets how much the classes overlap."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    frame = pd.DataFrame(
        {
            "x1": 2.0 * y + rng.normal(scale=spread, size=n),
            "x2": rng.normal(size=n),
            "segment": rng.choice(list("abc"), n),
        }
    )
    return frame, y


def linear(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """y = 3 x1 + noise."""
    rng = np.random.default_rng(seed)
    x1 = rng.uniform(-2, 2, n)
    frame = pd.DataFrame(
        {"x1": x1, "x2": rng.normal(size=n), "segment": rng.choice(list("abc"), n)}
    )
    return frame, 3.0 * x1 + rng.normal(scale=0.3, size=n)


def fit(name: str, X, y, **kwargs) -> FittedModel:
    return get_adapter(name).fit(
        X, y, features=FEATURES, candidate=candidate(name), seed=0, **kwargs
    )


@pytest.fixture(scope="module", params=ADAPTERS)
def multiclass(request):
    (X, y), (Xv, yv) = three_classes(300, 1), three_classes(150, 2)
    model = fit(request.param, X, y, objective="multiclass", n_classes=3, X_valid=Xv, y_valid=yv)
    return model, three_classes(200, 3)


@pytest.fixture(scope="module", params=ADAPTERS)
def regression(request):
    (X, y), (Xv, yv) = linear(300, 1), linear(150, 2)
    model = fit(request.param, X, y, objective="regression", X_valid=Xv, y_valid=yv)
    return model, linear(200, 3)


def test_multiclass_learns_separable_classes_and_gives_rows_summing_to_one(multiclass):
    model, (X, y) = multiclass
    proba = model.predict(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert accuracy_score(y, proba.argmax(axis=1)) > 0.9
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    assert (model.objective, model.n_classes) == ("multiclass", 3)
    assert 1 <= model.best_iteration < 200
    assert isinstance(model, FittedModel)


def test_regression_fits_a_linear_signal(regression):
    model, (X, y) = regression
    predicted = model.predict(X)
    assert predicted.shape == (len(X),)
    assert r2_score(y, predicted) > 0.9
    assert (model.objective, model.n_classes) == ("regression", None)
    with pytest.raises(TypeError, match=r"regression models have no probabilities.*use predict"):
        model.predict_proba(X)


def test_binary_predict_is_predict_proba():
    X, y = three_classes(200, 4)
    for name in ADAPTERS:
        model = fit(name, X, (y == 2).astype(int), n_rounds=5)
        assert (model.objective, model.n_classes) == ("binary", 2)
        np.testing.assert_array_equal(model.predict(X), model.predict_proba(X))
        assert model.predict(X).shape == (len(X),)


def _assert_round_trip(model: FittedModel, X: pd.DataFrame, directory) -> None:
    model.save(directory)
    loaded = load_fitted(directory)
    assert (loaded.objective, loaded.n_classes) == (model.objective, model.n_classes)
    assert loaded.best_iteration == model.best_iteration
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    unknown = X.head(3).assign(segment=["never-seen", None, "a"])
    np.testing.assert_array_equal(loaded.predict(unknown), model.predict(unknown))


def test_multiclass_save_and_load_round_trip(multiclass, tmp_path):
    model, (X, _) = multiclass
    _assert_round_trip(model, X, tmp_path / "model")


def test_regression_save_and_load_round_trip(regression, tmp_path):
    model, (X, _) = regression
    _assert_round_trip(model, X, tmp_path / "model")


@pytest.mark.parametrize("name", ADAPTERS)
def test_binary_metadata_without_an_objective_loads_as_binary(name, tmp_path):
    X, y = three_classes(200, 5)
    model = fit(name, X, (y == 0).astype(int), n_rounds=5)
    model.save(tmp_path)
    saved = json.loads((tmp_path / METADATA_FILE).read_text())
    assert (saved["objective"], saved["n_classes"]) == ("binary", 2)
    old = {key: value for key, value in saved.items() if key not in ("objective", "n_classes")}
    (tmp_path / METADATA_FILE).write_text(json.dumps(old))
    loaded = load_fitted(tmp_path)
    assert (loaded.objective, loaded.n_classes) == ("binary", 2)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("name", ADAPTERS)
def test_heavy_weight_on_a_class_raises_its_predicted_probability(name):
    X, y = three_classes(300, 6, spread=1.5)  # overlapping, so weights can move the model
    weight = np.where(y == 2, 10.0, 1.0)
    kwargs = {"objective": "multiclass", "n_classes": 3, "n_rounds": 20}
    plain = fit(name, X, y, **kwargs).predict(X)[:, 2].mean()
    weighted = fit(name, X, y, sample_weight=weight, **kwargs).predict(X)[:, 2].mean()
    assert weighted > plain + 0.1


@pytest.mark.parametrize("name", ADAPTERS)
def test_weights_reach_binary_and_regression_fits(name):
    X, y = three_classes(300, 7, spread=1.5)
    binary = (y == 2).astype(int)
    plain = fit(name, X, binary, n_rounds=10).predict(X).mean()
    weighted = fit(name, X, binary, n_rounds=10, sample_weight=np.where(binary == 1, 10.0, 1.0))
    assert weighted.predict(X).mean() > plain + 0.1

    X, target = linear(300, 8)
    target = np.where(X["x1"] > 0, target + 5.0, target)  # x1 > 0 rows shifted up
    ones = fit(name, X, target, objective="regression", n_rounds=30, sample_weight=np.ones(300))
    unweighted = fit(name, X, target, objective="regression", n_rounds=30)
    np.testing.assert_allclose(ones.predict(X), unweighted.predict(X), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("objective", ["multiclass", "regression"])
def test_same_seed_same_model(name, objective):
    X, y = three_classes(200, 9) if objective == "multiclass" else linear(200, 9)
    kwargs = {"objective": objective, "n_rounds": 10}
    if objective == "multiclass":
        kwargs["n_classes"] = 3
    np.testing.assert_array_equal(
        fit(name, X, y, **kwargs).predict(X), fit(name, X, y, **kwargs).predict(X)
    )


@pytest.mark.parametrize("name", ADAPTERS)
def test_library_objective_follows_the_requested_one(name):
    X, y = three_classes(200, 10)
    multiclass = fit(name, X, y, objective="multiclass", n_classes=3, n_rounds=3)
    regression = fit(name, X, y.astype(float), objective="regression", n_rounds=3)
    if name == "lightgbm":
        assert multiclass.params["objective"] == "multiclass"
        assert (multiclass.params["num_class"], multiclass.params["metric"]) == (3, "multi_logloss")
        assert (regression.params["objective"], regression.params["metric"]) == ("regression", "l2")
    else:
        assert multiclass.params["loss_function"] == "MultiClass"
        assert regression.params["loss_function"] == "RMSE"
        assert type(regression.native).__name__ == "CatBoostRegressor"


@pytest.mark.parametrize("name", ADAPTERS)
def test_refit_without_validation_trains_exactly_n_rounds(name):
    X, y = three_classes(200, 11)
    model = fit(name, X, y, objective="multiclass", n_classes=3, n_rounds=4)
    assert model.best_iteration == 4


def _labels(kind: str, y: np.ndarray) -> np.ndarray:
    return {
        "codes": y,
        "out_of_range": np.where(y == 2, 5, y),
        "negative": np.where(y == 2, -1, y),
        "fractional": np.where(y == 2, 1.5, y),
        "nan": np.where(y == 2, np.nan, y),
        "absent": np.where(y == 2, 1, y),
        "float": y.astype(float) + 0.25,
        "inf": np.where(y == 2, np.inf, y.astype(float)),
    }[kind]


@pytest.mark.parametrize(
    ("objective", "n_classes", "labels", "extra", "message"),
    [
        ("multiclass", None, "codes", {}, "needs n_classes"),
        ("multiclass", 1, "codes", {}, "n_classes must be at least 2"),
        (
            "multiclass",
            3,
            "out_of_range",
            {},
            r"codes 0\.\.2 \(n_classes=3\); found \d+ outside that range, e\.g\. \[.5.\]",
        ),
        ("multiclass", 3, "negative", {}, r"0\.\.2.*\['-1'\]"),
        ("multiclass", 3, "fractional", {}, r"0\.\.2.*\['1\.5'\]"),
        ("multiclass", 3, "nan", {}, r"y_train has \d+ missing labels"),
        ("multiclass", 3, "absent", {}, r"no rows of class codes \[2\]"),
        ("multiclass", 3, "codes", {"bad_valid": True}, r"y_valid must hold int class codes"),
        ("binary", 3, "codes", {}, "objective='binary' has 2 classes"),
        ("binary", None, "codes", {}, "binary labels 0/1"),
        ("regression", 3, "float", {}, "n_classes is for classification"),
        ("regression", None, "inf", {}, r"y_train has \d+ NaN or infinite values"),
        ("ranking", None, "codes", {}, r"objective must be one of \['binary', 'multiclass'"),
        ("multiclass", 3, "codes", {"weight": "short"}, "sample_weight has 199 values for 200"),
        ("multiclass", 3, "codes", {"weight": "negative"}, "sample_weight has 1 negative"),
        ("multiclass", 3, "codes", {"weight": "nan"}, "sample_weight has 1 NaN or infinite"),
        ("multiclass", 3, "codes", {"weight": "zero"}, "sample_weight is zero for every"),
        ("multiclass", 3, "codes", {"weight": "2d"}, "sample_weight must be 1-D"),
    ],
)
def test_fit_arguments_for_objectives_are_checked(objective, n_classes, labels, extra, message):
    X, y = three_classes(200, 12)
    weight = None
    if "weight" in extra:
        weight = {
            "short": np.ones(199),
            "negative": np.r_[-1.0, np.ones(199)],
            "nan": np.r_[np.nan, np.ones(199)],
            "zero": np.zeros(200),
            "2d": np.ones((200, 1)),
        }[extra["weight"]]
    valid = {"n_rounds": 3}
    if extra.get("bad_valid"):
        valid = {"X_valid": X, "y_valid": np.where(y == 2, 7, y)}
    with pytest.raises(ValueError, match=message):
        prepare_fit(
            X,
            _labels(labels, y),
            features=FEATURES,
            objective=objective,
            n_classes=n_classes,
            sample_weight=weight,
            X_valid=valid.get("X_valid"),
            y_valid=valid.get("y_valid"),
            n_rounds=valid.get("n_rounds"),
        )


def test_prepare_fit_returns_labels_typed_for_the_objective():
    X, y = three_classes(50, 13)
    codes = prepare_fit(
        X,
        y.astype(float),
        features=FEATURES,
        objective="multiclass",
        n_classes=np.int64(3),
        X_valid=None,
        y_valid=None,
        n_rounds=1,
    )
    assert codes.y_train.dtype == np.int64 and codes.n_classes == 3
    assert codes.sample_weight is None
    targets = prepare_fit(
        X,
        pd.Series(y, dtype="Int64"),
        features=FEATURES,
        objective="regression",
        sample_weight=[1] * 50,
        X_valid=None,
        y_valid=None,
        n_rounds=1,
    )
    assert targets.y_train.dtype == np.float64 and targets.n_classes is None
    assert targets.sample_weight is not None and targets.sample_weight.dtype == np.float64
    binary = prepare_fit(X, y == 1, features=FEATURES, X_valid=None, y_valid=None, n_rounds=1)
    assert (binary.objective, binary.n_classes) == ("binary", 2)
