"""Secrets and server addresses: from the environment, else ``conf/local/credentials.yml``.

Configuration in git names the variables it needs and never holds their values:
``${secret:MODELWORKS_POSTGRES_URL}`` in any Kedro config file, ``${MODELWORKS_REDIS}`` in a
``feature_store.yaml`` (Feast's own syntax). A value comes from the process environment
(what a scheduler, a container or CI sets) or, on a workstation, from a top-level key of the
same name in the git-ignored ``conf/local/credentials.yml``, whichever Kedro environment runs::

    MODELWORKS_POSTGRES_URL: postgresql://modelworks:s3cret@db.internal:5432
    MODELWORKS_REDIS: cache.internal:6379,password=s3cret,ssl=true

A variable found in neither place stops the run before anything starts, naming it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from modelworks.root import under_root

LOCAL_CREDENTIALS = Path("conf") / "local" / "credentials.yml"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NO_DEFAULT = object()


class MissingSecretError(KeyError):
    """A configuration names a variable that is neither in the environment nor in
    ``conf/local/credentials.yml``."""

    def __init__(self, names: str | list[str], needed_by: str | None = None) -> None:
        self.names = [names] if isinstance(names, str) else list(names)
        where = f" (needed by {needed_by})" if needed_by else ""
        listed = " and ".join(self.names)
        verb = "is" if len(self.names) == 1 else "are"
        assignment = ", ".join(f"`{name}: ...`" for name in self.names)
        super().__init__(
            f"{listed} {verb} not set{where}: export it in the environment or add "
            f"{assignment} to {under_root(LOCAL_CREDENTIALS)}"
        )

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])

    @classmethod
    def behind(cls, exc: BaseException) -> MissingSecretError | None:
        """The ``MissingSecretError`` that ``exc`` wraps (OmegaConf wraps a resolver's
        error in its own), or None."""
        seen: BaseException | None = exc
        while seen is not None:
            if isinstance(seen, cls):
                return seen
            seen = seen.__cause__ or seen.__context__
        return None


def local_credentials() -> dict[str, Any]:
    """The top-level keys of ``conf/local/credentials.yml``; empty when there is none."""
    path = under_root(LOCAL_CREDENTIALS)
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} must hold a mapping of names to values")
    return loaded


def lookup(name: str, default: Any = _NO_DEFAULT, *, needed_by: str | None = None) -> str:
    """The value of ``name``: the environment first, then ``conf/local/credentials.yml``."""
    if name in os.environ:
        return os.environ[name]
    local = local_credentials()
    if name in local and local[name] is not None:
        return str(local[name])
    if default is not _NO_DEFAULT:
        return str(default)
    raise MissingSecretError(name, needed_by)


def secret(name: str, default: Any = _NO_DEFAULT) -> str:
    """The ``${secret:NAME}`` / ``${secret:NAME,default}`` config resolver."""
    return lookup(name, default)


def expand(text: str, *, needed_by: str) -> str:
    """``text`` with every ``${NAME}`` replaced by its value (Feast's ``feature_store.yaml``
    syntax), each missing one reported by name before anything reads the result."""
    names = sorted(set(_REFERENCE.findall(text)))
    missing = []
    values = {}
    for name in names:
        try:
            values[name] = lookup(name)
        except MissingSecretError:
            missing.append(name)
    if missing:
        raise MissingSecretError(missing, needed_by)
    return _REFERENCE.sub(lambda match: values[match.group(1)], text)
