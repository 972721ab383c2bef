"""Refuse a run that could not write all of its outputs, before it writes any.

Files are replaced atomically one by one, but a node's outputs are several files: a scoring run
whose reporting folder is read-only would rewrite the predictions and then fail on their
summary, leaving the two disagreeing. Checking every local output's folder before the first
node keeps a run all-or-nothing for this most common cause (permissions, a read-only mount).
A full disk or a remote store can still fail later; each file then stays whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline


class OutputsNotWritableError(PermissionError):
    """Folders the run would write into and cannot."""

    def __init__(self, blocked: dict[str, list[str]]) -> None:
        self.blocked = blocked
        lines = "\n".join(
            f"  {folder}: for {', '.join(sorted(datasets))}" for folder, datasets in blocked.items()
        )
        super().__init__(
            f"The run would write into {len(blocked)} folder(s) it has no permission to write; "
            f"nothing was written\n{lines}"
        )


def local_output_path(dataset: Any) -> Path | None:
    """The local file a dataset writes, or None (memory, a remote URL, a database)."""
    filepath = getattr(dataset, "_filepath", None)
    if not isinstance(filepath, PurePath | str):
        return None
    if getattr(dataset, "_protocol", "file") not in ("file", None):
        return None
    return Path(str(filepath))


def unwritable_folders(paths: dict[str, Path]) -> dict[str, list[str]]:
    """Folder -> datasets, for each output whose folder (or its nearest existing ancestor, where
    the folder is yet to be made) the process cannot write into."""
    blocked: dict[str, list[str]] = {}
    for name, path in paths.items():
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        # access() also answers for a read-only mount, which binds root too.
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            blocked.setdefault(str(path.parent), []).append(name)
    return blocked


def check_outputs_writable(names: Iterable[str], catalog: Any) -> None:
    """Raise OutputsNotWritableError naming each folder and its datasets, if any."""
    paths = {}
    for name in names:
        try:
            dataset = catalog.get(name)
        except Exception:  # not in the catalog: a memory dataset Kedro makes at run time
            continue
        path = local_output_path(dataset)
        if path is not None:
            paths[name] = path
    blocked = unwritable_folders(paths)
    if blocked:
        raise OutputsNotWritableError(blocked)


class WritableOutputsHook:
    """Before the first node: every local file the pipeline writes can be written."""

    # tryfirst: before kedro-mlflow's hook opens the run's MLflow run.
    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        check_outputs_writable(pipeline.all_outputs(), catalog)
