"""Task families behind one contract (``Task``): binary and multiclass classification,
regression, uplift and ranking.

A family is looked up by the name a use case's ``training.task`` gives; its module is imported
on first use, so a run of one family never imports another family's libraries.
"""

from __future__ import annotations

import importlib
from functools import cache

from modelworks.tasks.base import Fit, Task

# name -> "module:Class"; the names are the values of ``training.task`` in a use case's YAML,
# and the ``task`` tag of every registered version.
FAMILIES: dict[str, str] = {
    "binary_classification": "modelworks.tasks.binary:BinaryClassification",
    "multiclass_classification": "modelworks.tasks.multiclass:MulticlassClassification",
    "regression": "modelworks.tasks.regression:Regression",
    "uplift": "modelworks.tasks.uplift:Uplift",
    "ranking": "modelworks.tasks.ranking:Ranking",
}


@cache
def get_task(name: str) -> Task:
    """The task family called ``name``; an error listing the families when there is none."""
    try:
        target = FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; task families: {sorted(FAMILIES)}") from None
    module, _, cls = target.partition(":")
    task: Task = getattr(importlib.import_module(module), cls)()
    return task


__all__ = ["FAMILIES", "Fit", "Task", "get_task"]
