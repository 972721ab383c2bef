"""What the console log leaves out."""

from __future__ import annotations

import logging
import re

# "<path>:<line>: <Category>: <message>", the form logging.captureWarnings gives a warning.
_WARNING = re.compile(r"^(?P<path>.*?):\d+: (?P<category>\w+): (?P<message>.*)", re.DOTALL)
_NOTICE_CATEGORIES = ("DeprecationWarning", "FutureWarning", "DeprecatedSince")
_LIBRARY_ADVICE = ("type hints to the `predict` method",)


class LibraryNoticeFilter(logging.Filter):
    """Drops deprecation notices and API advice raised inside installed libraries.

    They are addressed to those libraries' maintainers and say nothing a modelworks user can
    act on. Warnings filters cannot do this job: Feast and MLflow rewrite them on import.
    A warning raised from the project's own code passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        match = _WARNING.match(record.getMessage())
        if match is None or not _inside_a_library(match["path"]):
            return True
        if any(marker in match["category"] for marker in _NOTICE_CATEGORIES):
            return False
        return not any(text in match["message"] for text in _LIBRARY_ADVICE)


def _inside_a_library(path: str) -> bool:
    return "site-packages" in path or path.startswith("<frozen importlib")
