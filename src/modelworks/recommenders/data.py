"""What every recommender shares: column names, id vocabularies and feature encoding.

All of it is plain numpy and pandas and round-trips through JSON, so a saved model needs no
pickles and the baselines need no torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelworks.params import StrictModel

UNKNOWN = 0
"""Position of the unknown id in every vocabulary: users and items never seen in training."""


class InteractionColumns(StrictModel):
    """Names of the user key, item key and event time in interaction and feature frames."""

    user: str = "user_id"
    item: str = "item_id"
    time: str = "timestamp"


DEFAULT_COLUMNS = InteractionColumns()
"""``user_id``, ``item_id``, ``timestamp``; parameter models are frozen, so one is shared."""

RELEVANT = "relevant_items"
"""Column of judged users: the items each went on to choose, a list per user."""
COLD_START = "cold_start"
"""Column of judged users: whether a user had no interaction the model was trained on."""


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, name: str) -> None:
    """Raise a ValueError that names the frame and the columns it lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; it has {list(frame.columns)}")


def feature_table(frame: pd.DataFrame, key: str, *, name: str) -> pd.DataFrame:
    """``frame`` indexed by its unique ``key`` column; every other column is a feature."""
    require_columns(frame, [key], name=name)
    if frame[key].duplicated().any():
        dupes = frame.loc[frame[key].duplicated(), key].unique()[:5].tolist()
        raise ValueError(f"{name} must have one row per {key}; repeated: {dupes}")
    return frame.set_index(key)


@dataclass(frozen=True)
class IdIndex:
    """Ids and their positions 1..n in an embedding table; every other id maps to UNKNOWN."""

    ids: pd.Index

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> IdIndex:
        """Sorted distinct ids of ``values``."""
        return cls(pd.Index(values).unique().sort_values())

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, values: Any) -> np.ndarray:
        """Embedding row of each id: 1..n for known ids, UNKNOWN (0) for the rest."""
        return self.ids.get_indexer(pd.Index(np.asarray(values))) + 1

    def to_json(self) -> list[Any]:
        """The ids as a JSON list (numpy scalars become Python ones)."""
        return self.ids.tolist()

    @classmethod
    def from_json(cls, values: list[Any]) -> IdIndex:
        """Read back what ``to_json`` wrote."""
        return cls(pd.Index(values))


@dataclass(frozen=True)
class FeatureEncoder:
    """Numeric columns standardised, categorical ones one-hot; fitted once, stored as JSON.

    A missing numeric value becomes the training mean (0 after standardising) and an unseen
    or missing category an all-zero block, so a row with no features at all scores as an
    average one: that is what a cold-start user without a profile gets.
    """

    numeric: dict[str, tuple[float, float]]  # column -> (mean, std)
    categorical: dict[str, tuple[str, ...]]  # column -> categories

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> FeatureEncoder:
        """Learn means, standard deviations and categories of every column of ``frame``."""
        numeric: dict[str, tuple[float, float]] = {}
        categorical: dict[str, tuple[str, ...]] = {}
        for name, column in frame.items():
            if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
                values = column.astype(float)
                std = float(values.std(ddof=0)) if values.notna().any() else 0.0
                mean = float(values.mean()) if values.notna().any() else 0.0
                numeric[str(name)] = (mean, std if std > 0 else 1.0)
            elif pd.api.types.is_object_dtype(column) or isinstance(
                column.dtype, pd.CategoricalDtype | pd.StringDtype
            ):
                categorical[str(name)] = tuple(sorted(column.dropna().astype(str).unique()))
            else:
                raise ValueError(
                    f"feature {name!r} has dtype {column.dtype}; features must be numeric, "
                    "boolean or categorical (derive numbers from timestamps before training)"
                )
        return cls(numeric, categorical)

    @property
    def columns(self) -> list[str]:
        """Input columns, in the order they are encoded."""
        return [*self.numeric, *self.categorical]

    @property
    def names(self) -> list[str]:
        """Output columns: numeric names, then ``<column>=<category>`` for each category."""
        return [*self.numeric] + [
            f"{name}={value}" for name, values in self.categorical.items() for value in values
        ]

    @property
    def width(self) -> int:
        """Number of encoded columns."""
        return len(self.numeric) + sum(len(v) for v in self.categorical.values())

    def output_mask(self, columns: Iterable[str]) -> np.ndarray:
        """Which encoded columns come from the input ``columns``."""
        wanted = set(columns)
        numeric = [name in wanted for name in self.numeric]
        one_hot = [name in wanted for name, values in self.categorical.items() for _ in values]
        return np.array(numeric + one_hot, dtype=bool)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encoded float32 matrix, one row per row of ``frame``; missing columns count as NaN."""
        # One block conversion for every numeric column: a pandas operation per column would
        # be most of the cost of ranking for one user.
        values = frame.reindex(columns=list(self.numeric)).to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        scale = np.array(list(self.numeric.values()), dtype=np.float64).reshape(-1, 2)
        blocks = [np.nan_to_num((values - scale[:, 0]) / scale[:, 1]).astype(np.float32)]
        for name, categories in self.categorical.items():
            values = _column(frame, name)
            codes = pd.Categorical(values.astype("string"), categories=list(categories)).codes
            blocks.append((codes[:, None] == np.arange(len(categories))).astype(np.float32))
        return np.concatenate(blocks, axis=1)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description, read back by ``from_json``."""
        return {
            "numeric": {k: list(v) for k, v in self.numeric.items()},
            "categorical": {k: list(v) for k, v in self.categorical.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureEncoder:
        """Read back what ``to_json`` wrote."""
        return cls(
            numeric={k: (float(v[0]), float(v[1])) for k, v in data["numeric"].items()},
            categorical={k: tuple(v) for k, v in data["categorical"].items()},
        )


def preference_profiles(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    *,
    columns: InteractionColumns = DEFAULT_COLUMNS,
    prefix: str = "pref_",
) -> pd.DataFrame:
    """Each user's taste as seen in their interactions, one row per user with a key column.

    ``<prefix><feature>``: mean of a numeric or boolean item feature over the user's
    interactions (a boolean's mean is the share of items that have it);
    ``<prefix><feature>_<category>``: share of a categorical feature's values;
    ``<prefix>interactions``: how many interactions the profile rests on. Computed from
    whatever ``interactions`` holds: pass only those before a cut-off for a point-in-time
    profile.
    """
    require_columns(interactions, [columns.user, columns.item], name="interactions")
    table = feature_table(items, columns.item, name="items")
    joined = table.reindex(interactions[columns.item].to_numpy())
    joined.index = pd.Index(interactions[columns.user].to_numpy(), name=columns.user)
    encoder = FeatureEncoder.fit(table)
    parts = [joined[list(encoder.numeric)].astype(float).groupby(level=0).mean()]
    for name in encoder.categorical:
        shares = pd.crosstab(joined.index, joined[name], normalize="index")
        parts.append(shares.rename(columns=lambda value, n=name: f"{n}_{value}"))
    profiles = pd.concat(parts, axis=1).add_prefix(prefix)
    profiles[f"{prefix}interactions"] = joined.groupby(level=0).size()
    profiles.index.name = columns.user
    return profiles.reset_index()


def item_list(value: Any) -> list[Any]:
    """A list feature as the store, parquet or JSON give it (None, array, list) as a list."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return list(value)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or all-missing when the frame lacks it."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(np.nan, index=frame.index, dtype=object)
