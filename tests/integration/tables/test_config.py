"""Table settings come from arguments, the lambdapipe_tables connection, [lambdapipe] settings, defaults."""

from __future__ import annotations

import json
import os

import pytest

from lambdapipe.tables.config import TablesConfig, TablesConfigError, load_config, s3_properties


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith(("AWS_", "AIRFLOW_CONN_", "AIRFLOW__LAMBDAPIPE__")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return monkeypatch


def test_defaults_are_sqlite_under_airflow_home_and_the_default_warehouse(clean_environment) -> None:
    config = load_config()

    assert config == TablesConfig()
    assert config.sql_uri == f"sqlite:///{os.environ['AIRFLOW_HOME']}/lambdapipe/catalog.db"
    assert (config.warehouse, config.aws_conn_id, config.create_bucket) == (
        "s3://lambdapipe-tables/warehouse",
        "aws_default",
        False,
    )


def test_arguments_beat_the_connection_which_beats_the_airflow_settings(clean_environment) -> None:
    clean_environment.setenv("AIRFLOW__LAMBDAPIPE__TABLES_WAREHOUSE", "s3://from-settings/warehouse")
    clean_environment.setenv("AIRFLOW__LAMBDAPIPE__TABLES_NAMESPACE", "analytics")
    connection = {
        "conn_type": "generic",
        "extra": {"warehouse": "s3://from-connection/w", "create_bucket": "true"},
    }
    clean_environment.setenv("AIRFLOW_CONN_LAMBDAPIPE_TABLES", json.dumps(connection))

    config = load_config(region_name="eu-west-1")

    assert (config.warehouse, config.namespace, config.create_bucket, config.region_name) == (
        "s3://from-connection/w",
        "analytics",
        True,
        "eu-west-1",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"warehose": "s3://b/w"}, r"connection 'lambdapipe_tables': unknown keys \['warehose'\]"),
        ({"catalog_type": "hive"}, r"catalog_type 'hive' is not one of \('sql', 'glue'\)"),
        ({"warehouse": "bucket/w"}, r"warehouse 'bucket/w' must be a URI"),
        ({"create_bucket": "maybe"}, r"create_bucket must be true or false, got 'maybe'"),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_them(clean_environment, extra, message) -> None:
    clean_environment.setenv(
        "AIRFLOW_CONN_LAMBDAPIPE_TABLES", json.dumps({"conn_type": "generic", "extra": extra})
    )

    with pytest.raises(TablesConfigError, match=message):
        load_config()


def test_s3_settings_come_from_the_aws_connection(clean_environment) -> None:
    connection = {
        "conn_type": "aws",
        "login": "AKIDEXAMPLE",
        "password": "secret-key",
        "extra": {"endpoint_url": "http://127.0.0.1:4566", "region_name": "eu-central-1"},
    }
    clean_environment.setenv("AIRFLOW_CONN_WAREHOUSE_AWS", json.dumps(connection))

    assert s3_properties("warehouse_aws") == {
        "s3.endpoint": "http://127.0.0.1:4566",
        "s3.region": "eu-central-1",
        "s3.access-key-id": "AKIDEXAMPLE",
        "s3.secret-access-key": "secret-key",
    }


def test_s3_settings_come_from_the_aws_environment_without_a_connection(clean_environment) -> None:
    clean_environment.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    clean_environment.setenv("AWS_ACCESS_KEY_ID", "env-key")
    clean_environment.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    clean_environment.setenv("AWS_SESSION_TOKEN", "env-token")

    assert s3_properties(None) == {
        "s3.endpoint": "http://127.0.0.1:4566",
        "s3.region": "us-east-1",  # never left to a network lookup when an endpoint is set
        "s3.access-key-id": "env-key",
        "s3.secret-access-key": "env-secret",
        "s3.session-token": "env-token",
    }
