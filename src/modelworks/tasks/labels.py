"""Class labels as a model sees them: codes, probability frames and class weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def encode(labels: pd.Series, classes: list[str], *, column: str) -> np.ndarray:
    """Class labels as codes 0..k-1 in ``classes`` order; unseen labels are an error."""
    as_text = labels.astype(str).to_numpy()
    index = {c: i for i, c in enumerate(classes)}
    codes = np.fromiter((index.get(v, -1) for v in as_text), dtype=np.int64, count=len(as_text))
    unseen = codes < 0
    if unseen.any():
        raise ValueError(
            f"Label column {column!r} holds classes the model was not trained on: "
            f"{sorted(set(as_text[unseen]))[:5]}; known classes: {classes}"
        )
    return codes


def probabilities(predictions: Any) -> tuple[np.ndarray, list[str]]:
    """(n_rows x n_classes probabilities, class labels) of a multiclass model's answer: a frame
    with one column per class, as the task and the served model return it."""
    if not isinstance(predictions, pd.DataFrame):
        raise TypeError(
            "multiclass predictions must be a frame with one column per class, got "
            f"{type(predictions).__name__}"
        )
    return predictions.to_numpy(dtype=float), [str(c) for c in predictions.columns]


def class_weights(
    codes: np.ndarray, classes: list[Any], setting: str | dict[str, float] | None
) -> np.ndarray | None:
    """Per-row weights for integer class ``codes`` (positions in ``classes``).

    ``balanced`` weighs each class by n_rows / (n_classes * its count), as scikit-learn does;
    a mapping gives the weight of each class by its label (unnamed classes weigh 1).
    """
    if setting is None:
        return None
    if setting == "balanced":
        counts = np.bincount(codes, minlength=len(classes)).astype(float)
        per_class = np.divide(
            len(codes), len(classes) * counts, out=np.zeros_like(counts), where=counts > 0
        )
    else:
        assert isinstance(setting, dict)
        known = {str(c) for c in classes}
        unknown = sorted(set(setting) - known)
        if unknown:
            raise ValueError(f"class_weight names classes {unknown} not among {sorted(known)}")
        per_class = np.array([setting.get(str(c), 1.0) for c in classes], dtype=float)
    return per_class[codes]
