"""The lazy retrieval job ``DuckDBAsofOfflineStore`` hands Feast."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
from feast.infra.offline_stores.offline_store import RetrievalJob, RetrievalMetadata
from feast.on_demand_feature_view import OnDemandFeatureView

if TYPE_CHECKING:
    from feast.saved_dataset import ValidationReference


class DuckDBAsofRetrievalJob(RetrievalJob):
    """A lazy retrieval: ``compute`` runs when the result is asked for, each time it is.

    ``compute_df``, where given, builds the pandas result directly (without an arrow table of
    the whole result first); ``to_df`` uses it unless Feast must post-process the arrow table
    (on-demand features, validation).
    """

    def __init__(
        self,
        compute: Callable[[], pa.Table],
        *,
        compute_df: Callable[[], pd.DataFrame] | None = None,
        full_feature_names: bool = False,
        on_demand_feature_views: list[OnDemandFeatureView] | None = None,
        metadata: RetrievalMetadata | None = None,
    ) -> None:
        self._compute = compute
        self._compute_df = compute_df
        self._full_feature_names = full_feature_names
        self._on_demand_feature_views = on_demand_feature_views or []
        self._metadata = metadata

    @property
    def full_feature_names(self) -> bool:
        """Whether feature columns are named ``<view>__<feature>``."""
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        """On-demand views Feast applies to the result in ``to_arrow``."""
        return self._on_demand_feature_views

    @property
    def metadata(self) -> RetrievalMetadata | None:
        """Feature references, entity keys and event-time range of the request."""
        return self._metadata

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        """The result as an arrow table (Feast adds on-demand features and validation)."""
        return self._compute()

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        """The result as a pandas dataframe."""
        if self._compute_df is not None:
            return self._compute_df()
        return self._compute().to_pandas()

    def to_df(
        self,
        validation_reference: ValidationReference | None = None,
        timeout: int | None = None,
    ) -> pd.DataFrame:
        """The result as a pandas dataframe, indexed 0..n-1, as Feast's ``to_df`` returns it."""
        if self._compute_df is None or self.on_demand_feature_views or validation_reference:
            return super().to_df(validation_reference=validation_reference, timeout=timeout)
        return self._compute_df()
