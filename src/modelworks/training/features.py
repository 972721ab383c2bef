"""Which columns a model reads, and how categorical values look before a library sees them."""

from __future__ import annotations

from collections import Counter
from typing import NoReturn

import numpy as np
import pandas as pd
from pydantic import model_validator

from modelworks.params import StrictModel


class FeatureSpec(StrictModel):
    """The model's input columns: numeric ones are read as floats, categorical ones as labels."""

    numeric: list[str] = []
    categorical: list[str] = []

    @model_validator(mode="after")
    def _names_are_unique(self) -> FeatureSpec:
        repeated = sorted(name for name, count in Counter(self.columns).items() if count > 1)
        if repeated:
            raise ValueError(
                f"feature names must be unique across numeric and categorical; repeated: {repeated}"
            )
        return self

    @property
    def columns(self) -> list[str]:
        """All feature columns, numeric first, in the order a model sees them."""
        return [*self.numeric, *self.categorical]

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature columns of ``frame`` in model order; extra columns are ignored.

        Numeric columns come back as float64 (nullable integers become NaN where missing) so a
        batch whose dtypes drifted (int vs float) still reads the same as the training data.
        """
        if not self.columns:
            raise ValueError("FeatureSpec has no columns: list at least one numeric or categorical")
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise ValueError(f"missing feature columns: {missing}")
        selected = frame.loc[:, self.columns].copy()
        casts = {name: "float64" for name in self.numeric if selected[name].dtype != "float64"}
        if casts:
            # One astype for all columns: per-column casts dominate single-row scoring.
            try:
                selected = selected.astype(casts)
            except (TypeError, ValueError):
                self._raise_unreadable(frame, list(casts))
        return selected

    def arrays(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(numeric float64 matrix, categorical label matrix with NaN for missing), model order.

        The scoring path: two block conversions instead of a pandas operation per column,
        which is what a single-row prediction would otherwise spend its time on. Labels follow
        ``categorical_as_strings``.
        """
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise ValueError(f"missing feature columns: {missing}")
        try:
            numeric = frame[self.numeric].to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError):
            self._raise_unreadable(frame, self.numeric)
        labels = np.empty((len(frame), len(self.categorical)), dtype=object)
        for position, name in enumerate(self.categorical):
            labels[:, position] = categorical_labels(frame[name].to_numpy(dtype=object))
        return numeric, labels

    def _raise_unreadable(self, frame: pd.DataFrame, names: list[str]) -> NoReturn:
        """Name the first numeric column that cannot be read as float, and why."""
        for name in names:
            try:
                frame[name].astype("float64")
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"numeric feature {name!r} (dtype {frame[name].dtype}) "
                    f"cannot be read as float: {exc}"
                ) from None
        raise ValueError(f"numeric features {names} cannot be read as float together")


def categorical_as_strings(values: pd.Series) -> pd.Series:
    """Categorical values as strings, missing kept as NaN.

    Strings make a category mean the same at training and scoring time whatever dtype the
    batch arrives in: a code column that gained a missing value turns int into float, and
    3 and 3.0 must still be one category ("3").
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = np.array([_label(value) for value in uniques] + [np.nan], dtype=object)
    # code -1 (missing) indexes the trailing NaN
    return pd.Series(labels[codes], index=values.index, name=values.name, dtype=object)


def categorical_labels(values: np.ndarray) -> np.ndarray:
    """``categorical_as_strings`` for an object array: labels as str, NaN where missing."""
    missing = pd.isna(values)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        labels = values.copy()
        labels[missing] = np.nan
        return labels
    return categorical_as_strings(pd.Series(values)).to_numpy(dtype=object)


def _label(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)
