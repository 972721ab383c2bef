"""Where the Kedro project is: the nearest folder with a ``pyproject.toml`` that says so."""

from __future__ import annotations

from pathlib import Path


class ProjectError(RuntimeError):
    """The command cannot find or use the project."""


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` with a Kedro ``pyproject.toml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.kedro]" in pyproject.read_text():
            return folder
    raise ProjectError(
        f"{here} is not inside a Kedro project (no pyproject.toml with [tool.kedro])"
    )
