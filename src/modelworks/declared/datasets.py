"""The source tables of a declared use case as a Kedro dataset, found by the catalog pattern
``{use_case}.source_{table}`` (conf/base/catalog/layers.yml)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from modelworks.io import SourceTableDataset
from modelworks.params import ParameterError


class DeclaredSourceDataset(AbstractDataset[None, pd.DataFrame]):
    """Table ``table`` as ``declared.tables.<table>`` of use case ``use_case`` describes it.

    A ``SourceTableDataset`` over the declared file (a project path or a file shipped in an
    installed package): read-only, its ``datetime`` columns parsed as UTC, every load stamped
    with the file's content hash. To read your own file instead, give the dataset
    ``<use_case>.source_<table>`` an entry of its own in ``conf/local/catalog.yml``.
    """

    def __init__(self, use_case: str, table: str, metadata: dict[str, Any] | None = None) -> None:
        self._use_case = use_case
        self._table = table
        self.metadata = metadata

    def _source(self) -> SourceTableDataset:
        from modelworks.declared.discovery import declared_spec
        from modelworks.use_cases import session_env

        try:
            spec = declared_spec(self._use_case, session_env())
        except ParameterError as exc:
            raise DatasetError(str(exc)) from None
        if self._table not in spec.tables:
            raise DatasetError(
                f"{self._use_case}.declared.tables has no table {self._table!r}; "
                f"tables: {list(spec.tables)}"
            )
        table = spec.tables[self._table]
        return SourceTableDataset(
            table.path, file_format=table.format, timestamps=table.timestamps, package=table.package
        )

    def load(self) -> pd.DataFrame:
        return self._source().load()

    def save(self, data: None) -> None:
        raise DatasetError(
            f"{self._use_case}.source_{self._table} is a declared source table; "
            "modelworks never writes it"
        )

    def _exists(self) -> bool:
        return self._source().exists()

    def _describe(self) -> dict[str, Any]:
        return {"use_case": self._use_case, "table": self._table}
