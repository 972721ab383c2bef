"""The MLflow UI of a project copy, served by `mlflow ui` and read in headless Chromium.

Chromium is Debian's package (`make test` installs it); Playwright drives it. Pages are the
UI's own routes, opened in its model-training view (`workflowType=machine_learning`), which is
where runs, models and their tags are shown.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TRAINING_VIEW = "workflowType=machine_learning"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def mlflow_ui(database: Path, artifacts: Path, timeout_s: float = 120) -> Iterator[str]:
    """`mlflow ui` on ``database`` (SQLite) at a free loopback port; yields its base URL."""
    port = _free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    process = subprocess.Popen(
        [
            str(mlflow),
            "ui",
            "--backend-store-uri",
            f"sqlite:///{database}",
            "--default-artifact-root",
            str(artifacts),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert process.poll() is None, f"mlflow ui exited {process.returncode}"
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow ui did not start"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def browser_page(width: int = 1600, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium page."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"no Chromium at {CHROMIUM}: `make test` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def runs_url(base: str, experiment_id: str, search: str = "") -> str:
    """An experiment's runs table, optionally filtered by a search expression."""
    query = f"{TRAINING_VIEW}&searchFilter={quote(search)}" if search else TRAINING_VIEW
    return f"{base}/#/experiments/{experiment_id}/runs?{query}"


def model_version_url(base: str, model: str, version: str) -> str:
    return f"{base}/#/models/{quote(model)}/versions/{version}"


# The button beside a parent run's name that shows the runs nested under it.
_EXPAND = 'button[data-component-id*="runnamecellrenderer"]'


def open_page(
    page: Any, url: str, *, wait_for: str, expand: str | None = None, timeout_ms: int = 60_000
) -> str:
    """Go to ``url`` and wait until ``wait_for`` shows; the page's text. ``expand`` names the
    run to open first: the UI lists runs that match a search under their parent, folded."""
    page.goto(url)
    if expand is not None:
        page.get_by_role("link", name=expand).first.wait_for(timeout=timeout_ms)
        page.locator(_EXPAND).first.click()
    page.get_by_text(wait_for).first.wait_for(timeout=timeout_ms)
    return str(page.inner_text("body"))
