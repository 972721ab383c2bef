"""Kedro's OmegaConfigLoader, reading each configuration once per process.

A run reads ``parameters`` four times (use-case discovery, parameter validation, kedro-mlflow's
logging, the context) and resolving every use case's YAML through OmegaConf costs about 0.4 s
each time. ``ProjectConfigLoader`` keeps what it resolved, keyed by everything the result can
depend on: the configuration key, folder, environments and runtime parameters, each file's
path, size and modification time, and the process environment (``${secret:...}`` and
``${oc.env:...}`` read it). Any change to one of them reads the files afresh. Callers get
their own deep copy, so no one edits what another reads.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader

_RESOLVED: dict[tuple[Any, ...], dict[str, Any]] = {}
_KEPT = 64  # entries; a process with more distinct configurations reads afresh


class ProjectConfigLoader(OmegaConfigLoader):
    """``OmegaConfigLoader`` whose resolved keys are reused while nothing they read changed."""

    def __getitem__(self, key: str) -> dict[str, Any]:
        fingerprint = self._fingerprint(key)
        if fingerprint is None:
            return super().__getitem__(key)
        if fingerprint not in _RESOLVED:
            if len(_RESOLVED) >= _KEPT:
                _RESOLVED.clear()
            _RESOLVED[fingerprint] = super().__getitem__(key)
        return copy.deepcopy(_RESOLVED[fingerprint])

    def _fingerprint(self, key: str) -> tuple[Any, ...] | None:
        """What ``key``'s value depends on; None where it cannot be told (set explicitly, a
        remote configuration source)."""
        if key in self.data or key not in self.config_patterns or self._protocol != "file":
            return None
        conf = Path(self.conf_source)
        envs = (self.base_env, self.env or self.default_run_env)
        files = tuple(
            (str(path), stat.st_size, stat.st_mtime_ns)
            for env in envs
            if env and (conf / env).is_dir()
            for path in sorted((conf / env).rglob("*"))
            if path.suffix in {".yml", ".yaml", ".json"} and (stat := path.stat())
        )
        return (
            key,
            str(conf.resolve()),
            envs,
            repr(sorted((self.runtime_params or {}).items(), key=str)),
            repr(self.config_patterns[key]),
            files,
            hash(frozenset(os.environ.items())),
        )
