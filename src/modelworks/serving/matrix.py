"""A LightGBM model's input built straight from columns of values: LightGBM's numpy path.

``LightGBMModel.predict`` reads a frame with pandas (a column selection, an index per
categorical column) before it hands LightGBM a float matrix; on a one-row request that pandas
work costs several times the prediction. ``LightGBMMatrix`` builds the same matrix from the
request's columns (lists or arrays, one value per row) with the model's own conversions
(``categorical_labels``, the training categories' positions as codes, NaN where unseen) and
predicts with the same booster and iteration, so its answers equal the model's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelworks.training.features import categorical_labels

VECTORISED_ROWS = 64
"""From this many rows on, category codes are looked up by pandas rather than one by one."""


@dataclass(frozen=True)
class LightGBMMatrix:
    """The booster, the best iteration, the columns in model order, and each categorical
    column's training categories as codes."""

    booster: Any
    best_iteration: int
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    codes: tuple[dict[str, int], ...]

    @classmethod
    def of(cls, model: Any) -> LightGBMMatrix | None:
        """The matrix path of a ``LightGBMModel``; None for any other model."""
        from modelworks.training.adapters.lightgbm import LightGBMModel

        if not isinstance(model, LightGBMModel):
            return None
        categorical = tuple(model.features.categorical)
        return cls(
            booster=model.native,
            best_iteration=model.best_iteration,
            numeric=tuple(model.features.numeric),
            categorical=categorical,
            codes=tuple(
                {label: code for code, label in enumerate(model.categories[name])}
                for name in categorical
            ),
        )

    def matrix(self, columns: Mapping[str, Sequence[Any]], count: int) -> np.ndarray:
        """``count`` rows of float64: numeric columns (None as NaN), then category codes."""
        matrix = np.empty((count, len(self.numeric) + len(self.categorical)), dtype=np.float64)
        for position, name in enumerate(self.numeric):
            matrix[:, position] = _floats(columns[name])
        offset = len(self.numeric)
        for position, (name, codes) in enumerate(zip(self.categorical, self.codes, strict=True)):
            labels = categorical_labels(np.asarray(columns[name], dtype=object))
            matrix[:, offset + position] = _codes(labels, codes)
        return matrix

    def predict(self, columns: Mapping[str, Sequence[Any]], count: int) -> np.ndarray:
        """What ``LightGBMModel.predict`` answers for a frame of these columns."""
        prediction = self.booster.predict(
            self.matrix(columns, count), num_iteration=self.best_iteration
        )
        return np.asarray(prediction, dtype=float)


def _codes(labels: np.ndarray, codes: dict[str, int]) -> np.ndarray:
    """Each label's position among the training categories, NaN where it has none: a lookup
    per label for a request's few rows, pandas' vectorised one for a batch."""
    if len(labels) < VECTORISED_ROWS:
        return np.array([codes.get(label, np.nan) for label in labels], dtype=np.float64)
    positions = pd.Index(list(codes)).get_indexer(labels).astype(np.float64)
    positions[positions < 0] = np.nan
    return positions


def _floats(values: Sequence[Any]) -> np.ndarray:
    """A column as float64, missing values (None, NaN, pandas' NA) as NaN."""
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    cells = array.astype(object)
    return np.where(pd.isna(cells), np.nan, cells).astype(np.float64)
