"""The production profile's configuration: secrets by name, typed servers.yml, servers that do
not answer named, the Feast configuration filled from secrets, and serving pointed at it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kedro.config import OmegaConfigLoader

from modelworks import secrets, servers
from modelworks.features.store import open_feature_store
from modelworks.params import ParameterError
from modelworks.secrets import MissingSecretError
from modelworks.serving.launch import feature_store_env
from tests.servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Kedro project folder as the working directory, with conf/local."""
    (tmp_path / "pyproject.toml").write_text('[tool.kedro]\npackage_name = "x"\n')
    (tmp_path / "conf" / "local").mkdir(parents=True)
    (tmp_path / "conf" / "base").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    for name in ("MW_TEST_A", "MW_TEST_B", "MW_TEST_REDIS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _local(project: Path, values: dict[str, str]) -> None:
    (project / "conf" / "local" / "credentials.yml").write_text(yaml.safe_dump(values))


def test_the_environment_wins_over_the_local_file_which_wins_over_a_default(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _local(project, {"MW_TEST_A": "from-file"})
    assert secrets.lookup("MW_TEST_A") == "from-file"
    monkeypatch.setenv("MW_TEST_A", "from-env")
    assert secrets.lookup("MW_TEST_A") == "from-env"
    assert secrets.lookup("MW_TEST_B", "fallback") == "fallback"


def test_a_missing_secret_is_named_with_where_to_set_it(project: Path) -> None:
    with pytest.raises(MissingSecretError) as caught:
        secrets.lookup("MW_TEST_B", needed_by="conf/prod/servers.yml")
    assert str(caught.value) == (
        "MW_TEST_B is not set (needed by conf/prod/servers.yml): export it in the environment "
        f"or add `MW_TEST_B: ...` to {project / 'conf' / 'local' / 'credentials.yml'}"
    )


def test_expand_fills_references_and_names_every_missing_one(project: Path) -> None:
    _local(project, {"MW_TEST_A": "db.internal:5432"})
    assert secrets.expand("url: ${MW_TEST_A}/x", needed_by="f") == "url: db.internal:5432/x"
    with pytest.raises(MissingSecretError) as caught:
        secrets.expand("${MW_TEST_A} ${MW_TEST_B} ${MW_TEST_REDIS}", needed_by="f")
    assert caught.value.names == ["MW_TEST_B", "MW_TEST_REDIS"]
    assert str(caught.value).startswith("MW_TEST_B and MW_TEST_REDIS are not set (needed by f)")


def test_the_config_resolver_error_is_found_behind_omegaconf(project: Path) -> None:
    (project / "conf" / "base" / "servers.yml").write_text("redis: ${secret:MW_TEST_REDIS}\n")
    loader = OmegaConfigLoader(
        conf_source=str(project / "conf"),
        base_env="base",
        default_run_env="local",
        config_patterns={"servers": ["servers*"]},
        custom_resolvers={"secret": secrets.secret},
    )
    with pytest.raises(Exception) as caught:
        loader["servers"]
    found = MissingSecretError.behind(caught.value)
    assert found is not None and found.names == ["MW_TEST_REDIS"]


def test_servers_yml_is_typed() -> None:
    config = yaml.safe_load((REPO_ROOT / "conf" / "prod" / "servers.yml").read_text())
    config["postgres"]["url"] = "postgresql://u:pw@db:5432"
    config["redis"]["connection"] = "cache:6379"
    config["mlflow"]["tracking_uri"] = "http://mlflow:5000"
    config["mlflow"]["artifacts_destination"] = "/srv/artifacts"
    typed = servers.ServersConfig.model_validate(config)
    assert typed.postgres.database_url("feast") == "postgresql://u:pw@db:5432/modelworks_feast"
    # the Feast configuration names the database servers.yml creates for it
    feast = (REPO_ROOT / "conf" / "prod" / "feature_store.yaml").read_text()
    assert "${MODELWORKS_POSTGRES_URL}/" + typed.postgres.databases["feast"] in feast
    config["mlflow"]["port"] = 5000
    with pytest.raises(ParameterError, match=r"servers\.yml\.mlflow\.port: Extra inputs"):
        servers.load_servers({"servers": config})


def test_redis_connection_strings_and_redacted_urls() -> None:
    assert servers.redis_kwargs("cache.internal:6380,db=3,password=s3cret,ssl=true") == {
        "host": "cache.internal",
        "port": 6380,
        "db": 3,
        "password": "s3cret",
        "ssl": True,
    }
    assert servers.redis_kwargs("localhost") == {"host": "localhost", "port": 6379}
    assert servers.redact("postgresql://mw:s3cret@db:5432/x") == "postgresql://mw:***@db:5432/x"
    assert servers.redact("postgresql://mw@db:5432") == "postgresql://mw@db:5432"


def test_check_names_each_server_that_does_not_answer() -> None:
    closed = free_port()
    config = servers.ServersConfig.model_validate(
        {
            "postgres": {
                "url": f"postgresql://mw:s3cret@127.0.0.1:{closed}",
                "databases": {"mlflow": "m"},
            },
            "redis": {"connection": f"127.0.0.1:{closed}"},
            "mlflow": {
                "tracking_uri": f"http://127.0.0.1:{closed}",
                "artifacts_destination": "/tmp/x",
            },
        }
    )
    with pytest.raises(servers.ServersError) as caught:
        servers.check(config)
    message = str(caught.value)
    assert f"PostgreSQL at postgresql://mw:***@127.0.0.1:{closed}/m does not answer" in message
    assert f"Redis at 127.0.0.1:{closed} does not answer" in message
    assert f"MLflow tracking server at http://127.0.0.1:{closed} does not answer" in message
    assert "s3cret" not in message


def test_up_starts_nothing_when_redis_does_not_answer(project: Path) -> None:
    closed = free_port()
    config = servers.ServersConfig.model_validate(
        {
            "postgres": {"url": "postgresql://postgres@127.0.0.1:5432", "databases": {}},
            "redis": {"connection": f"127.0.0.1:{closed}"},
            "mlflow": {"tracking_uri": "http://127.0.0.1:9", "artifacts_destination": "a"},
        }
    )
    with pytest.raises(servers.ServersError, match=rf"^Redis at 127.0.0.1:{closed} does not"):
        servers.up(config, echo=lambda _: None)
    assert not (project / ".servers").exists()


def test_the_feast_configuration_is_filled_from_secrets(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = project / "feature_repo"
    repo.mkdir()
    config = project / "feature_store.prod.yaml"
    config.write_text(
        "project: t\nprovider: local\n"
        "registry: {registry_type: sql, path: '${MW_TEST_A}/feast'}\n"
        "online_store: {type: redis, connection_string: '${MW_TEST_REDIS}'}\n"
        "entity_key_serialization_version: 3\n"
    )
    with pytest.raises(MissingSecretError) as caught:
        open_feature_store(repo, config)
    assert caught.value.names == ["MW_TEST_A", "MW_TEST_REDIS"]
    assert f"(needed by {config})" in str(caught.value)
    monkeypatch.setenv("MW_TEST_A", "postgresql://postgres@127.0.0.1:5432")
    _local(project, {"MW_TEST_REDIS": "127.0.0.1:6379,db=9"})
    store = open_feature_store(repo, config)
    assert store.config.registry.path == "postgresql+psycopg://postgres@127.0.0.1:5432/feast"
    assert store.config.online_store.connection_string == "127.0.0.1:6379,db=9"
    assert store.repo_path == repo


def test_serve_reads_online_features_through_the_environment_s_catalog(project: Path) -> None:
    catalog = yaml.safe_load((REPO_ROOT / "conf" / "base" / "catalog" / "layers.yml").read_text())
    assert feature_store_env(catalog, "credit_risk") == {}
    prod = yaml.safe_load(
        (REPO_ROOT / "conf" / "prod" / "catalog" / "feature_store.yml").read_text()
    )
    assert feature_store_env({**catalog, **prod}, "credit_risk") == {
        "FEAST_FS_YAML_FILE_PATH": str(project / "conf" / "prod" / "feature_store.yaml"),
    }
