"""Feast's MLflow request-header plug-in stays loaded lazily, and still sends Feast's header."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.project import REPO_ROOT


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_mlflow_request_headers_do_not_import_feast() -> None:
    out = _run(
        """
        import sys
        import modelworks
        from mlflow.tracking.request_header.registry import resolve_request_headers
        headers = resolve_request_headers()
        print("feast" in sys.modules, "Authorization" in headers)
        """
    )
    assert out == "False False"


def test_feast_token_scope_still_sets_the_authorization_header() -> None:
    out = _run(
        """
        import modelworks
        from mlflow.tracking.request_header.registry import resolve_request_headers
        from feast.infra.data_sources.mlflow.auth import mlflow_token_scope
        with mlflow_token_scope("token-1"):
            inside = resolve_request_headers().get("Authorization")
        print(inside, resolve_request_headers().get("Authorization"))
        """
    )
    assert out == "Bearer token-1 None"


def test_without_modelworks_mlflow_loads_feast_eagerly() -> None:
    """The cost the deferral removes: plain MLflow imports Feast for its header registry."""
    out = _run(
        """
        import sys
        import mlflow.tracking.request_header.registry
        print("feast" in sys.modules)
        """
    )
    assert out == "True"
