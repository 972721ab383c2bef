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


def project_root() -> str:
    """The project's root as an absolute POSIX path: the ``${project_root:}`` config resolver.

    ``kedro run`` finds the project from the working directory upward but does not change
    into it, so paths that Kedro does not make absolute itself (MLflow's
    ``sqlite:///...`` URIs, a Feast ``repo_path``) are written ``${project_root:}/...``.
    The root is the one ``kedro run`` found (the working directory or a folder above it);
    outside any project, the project this package was loaded from.
    """
    try:
        return find_root().as_posix()
    except ProjectError:
        # src/modelworks/root.py -> the root, for a session created from elsewhere
        return find_root(Path(__file__).resolve().parent).as_posix()


def under_root(path: str | Path) -> Path:
    """``path`` as the project means it: a relative path is taken from the root of the project
    around the working directory (``kedro run`` may start in a subfolder), or from the working
    directory outside any project."""
    path = Path(path)
    if path.is_absolute():
        return path
    try:
        return find_root() / path
    except ProjectError:
        return path.resolve()
