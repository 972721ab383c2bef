"""The MLflow pyfunc an uplift model is registered as: uplift and revenue uplift per row.

It answers what a targeting decision needs: each arm's outcome probability (``p_control``,
``p_treated``), their difference (``uplift``) and ``revenue_uplift``, the uplift times what a
positive outcome is worth for that row (the column named ``value_at_stake``, e.g. the amount
still owed). Like ``serving.pyfunc.ProbabilityModel`` it takes complete feature rows, or entity
keys plus request-time fields and reads the rest from the Feast online store; the fitted
meta-learner travels natively (``UpliftModel.save``) and this class as code (``model_code.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelworks.serving.pyfunc import (
    MissingFieldsError,
    ProbabilityModel,
    conform_to_schema,
)
from modelworks.uplift.learners import CONTROL, TREATED, UpliftModel, load_uplift_model

P_CONTROL, P_TREATED, UPLIFT, REVENUE_UPLIFT = "p_control", "p_treated", "uplift", "revenue_uplift"
OUTPUT_COLUMNS = (P_CONTROL, P_TREATED, UPLIFT, REVENUE_UPLIFT)
VALUE_AT_STAKE = "value_at_stake"
"""``model_config`` key: the input column holding what a positive outcome is worth."""


def predict_uplift_table(
    model: UpliftModel, rows: pd.DataFrame, value_at_stake: str
) -> pd.DataFrame:
    """``OUTPUT_COLUMNS`` for every row of ``rows`` (features and ``value_at_stake``)."""
    if value_at_stake not in rows.columns:
        raise MissingFieldsError([value_at_stake])
    arms = model.predict_arms(rows)
    uplift = (arms[TREATED] - arms[CONTROL]).to_numpy(dtype=float)
    worth = rows[value_at_stake].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            P_CONTROL: arms[CONTROL].to_numpy(dtype=float),
            P_TREATED: arms[TREATED].to_numpy(dtype=float),
            UPLIFT: uplift,
            REVENUE_UPLIFT: uplift * worth,
        },
        index=rows.index,
    )


class UpliftPyfunc(ProbabilityModel):
    """Uplift and revenue uplift, from feature rows or from entity keys.

    ``model_config``: ``value_at_stake`` always; ``feature_service``, ``join_keys``,
    ``online_features`` and ``feature_repo`` when features come from the online store, which
    is connected on first need as for ``ProbabilityModel`` (whose lookup this reuses; the repo
    is overridden by ``MODELWORKS_FEATURE_REPO``).
    """

    def _load(self, directory: Path) -> Any:
        return load_uplift_model(directory)

    def _answer(self, rows: pd.DataFrame) -> Any:
        return predict_uplift_table(self._model, rows, str(self._config[VALUE_AT_STAKE]))


def log_uplift_model(
    model: UpliftModel,
    example: pd.DataFrame,
    *,
    value_at_stake: str,
    serving: Mapping[str, Any] | None = None,
) -> str:
    """Log ``model`` as an ``UpliftPyfunc`` in the active run; returns its model URI.

    The signature requires the join keys, the request-time fields and ``value_at_stake``, and
    accepts the online store's features optionally (see ``tracking.log_probability_model``).
    """
    from modelworks.registry import tracking

    keys = list(serving["join_keys"]) if serving else []
    features = model.features.select(example)  # checks the columns; the model casts itself
    extra = [c for c in [*keys, value_at_stake] if c not in features.columns]
    # The signature takes the columns as the training frame holds them (ints as ints), so the
    # model accepts its own holdout as stored.
    inputs = example[[*extra, *features.columns]]
    online = set(serving["online_features"]) if serving else set()
    return tracking.log_pyfunc(
        model_code=tracking.code_file("modelworks.uplift.model_code"),
        save=model.save,
        signature=tracking.signature_of(
            inputs, predict_uplift_table(model, inputs, value_at_stake), optional=online
        ),
        input_example=inputs.head(5),
        model_config={VALUE_AT_STAKE: value_at_stake, **(serving or {})},
        libraries=(model.adapter,),
    )


def predict_served(pyfunc: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """A loaded ``UpliftPyfunc``'s ``OUTPUT_COLUMNS`` for ``rows``, aligned with their index."""
    schema = pyfunc.metadata.get_input_schema()
    predicted = pd.DataFrame(pyfunc.predict(conform_to_schema(rows, schema)))
    missing = [c for c in OUTPUT_COLUMNS if c not in predicted.columns]
    if missing:
        raise ValueError(
            f"the model predicts {list(predicted.columns)}, not the uplift columns {missing}: "
            "is it an uplift model?"
        )
    predicted.index = rows.index
    return predicted[list(OUTPUT_COLUMNS)].astype(np.float64)
