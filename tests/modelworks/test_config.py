"""ProjectConfigLoader: resolved once, read afresh whenever a file or the environment changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelworks.config import ProjectConfigLoader
from modelworks.secrets import secret


def _conf(tmp_path: Path, value: int) -> Path:
    conf = tmp_path / "conf"
    for env in ("base", "local"):
        (conf / env).mkdir(parents=True, exist_ok=True)
    (conf / "base" / "parameters.yml").write_text(
        f"model:\n  depth: {value}\n  token: ${{secret:MODELWORKS_TEST_TOKEN}}\n"
    )
    return conf


def _loader(conf: Path, **kwargs: object) -> ProjectConfigLoader:
    return ProjectConfigLoader(
        conf_source=str(conf),
        base_env="base",
        default_run_env="local",
        custom_resolvers={"secret": secret},
        **kwargs,
    )


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELWORKS_TEST_TOKEN", "first")


def test_second_loader_reuses_the_resolved_parameters(tmp_path: Path, token: None) -> None:
    conf = _conf(tmp_path, 3)
    first = _loader(conf)["parameters"]
    first["model"]["depth"] = 99  # a caller's edit stays its own
    assert _loader(conf)["parameters"] == {"model": {"depth": 3, "token": "first"}}


def test_an_edited_file_is_read_afresh(tmp_path: Path, token: None) -> None:
    conf = _conf(tmp_path, 3)
    assert _loader(conf)["parameters"]["model"]["depth"] == 3
    path = conf / "base" / "parameters.yml"
    stat = path.stat()
    path.write_text(path.read_text().replace("depth: 3", "depth: 40"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert _loader(conf)["parameters"]["model"]["depth"] == 40


def test_a_changed_environment_is_read_afresh(
    tmp_path: Path, token: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = _conf(tmp_path, 3)
    assert _loader(conf)["parameters"]["model"]["token"] == "first"
    monkeypatch.setenv("MODELWORKS_TEST_TOKEN", "second")
    assert _loader(conf)["parameters"]["model"]["token"] == "second"


def test_runtime_params_are_part_of_the_key(tmp_path: Path, token: None) -> None:
    conf = _conf(tmp_path, 3)
    assert _loader(conf)["parameters"]["model"]["depth"] == 3
    overridden = _loader(conf, runtime_params={"model": {"depth": 7}})["parameters"]
    assert overridden["model"]["depth"] == 7
    assert _loader(conf)["parameters"]["model"]["depth"] == 3


def test_a_key_set_explicitly_wins(tmp_path: Path, token: None) -> None:
    loader = _loader(_conf(tmp_path, 3))
    loader["parameters"] = {"model": {"depth": 1}}
    assert loader["parameters"] == {"model": {"depth": 1}}
