"""A mistyped catalog setting fails with a clear error; it no longer starts a second catalog over the
same warehouse (whose maintenance would delete the first one's files as orphans)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.ownership import MARKER, CatalogMismatchError, catalog_location
from lambdapipe_local import LocalAws


def config(catalog_uri: str, warehouse: str) -> TablesConfig:
    return TablesConfig(catalog_uri=catalog_uri, warehouse=warehouse, aws_conn_id=None, create_bucket=True)


def test_a_second_catalog_over_the_same_warehouse_is_refused_before_it_writes(
    aws: LocalAws, aws_environment: dict[str, str], tmp_path: Path
) -> None:
    warehouse = f"s3://lambdapipe-ownership/{uuid.uuid4().hex[:8]}"
    ensure_table("orders", config(f"sqlite:///{tmp_path / 'catalog.db'}", warehouse))
    objects_before = sorted(
        item["Key"] for item in aws.client("s3").list_objects_v2(Bucket="lambdapipe-ownership")["Contents"]
    )

    with pytest.raises(CatalogMismatchError) as refused:
        ensure_table("orders", config(f"sqlite:///{tmp_path / 'catolog.db'}", warehouse))

    message = str(refused.value)
    assert f"warehouse {warehouse} belongs to catalog sqlite:{tmp_path / 'catalog.db'}#lambdapipe" in message
    assert f"this process uses sqlite:{tmp_path / 'catolog.db'}#lambdapipe" in message
    objects_after = sorted(
        item["Key"] for item in aws.client("s3").list_objects_v2(Bucket="lambdapipe-ownership")["Contents"]
    )
    assert objects_after == objects_before, "the refused catalog wrote nothing"
    assert any(key.endswith(MARKER) for key in objects_after)


def test_the_same_catalog_spelled_another_way_or_with_another_password_is_the_same_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    warehouse = "s3://bucket/warehouse"

    relative = catalog_location(config("sqlite:///catalog.db", warehouse))
    absolute = catalog_location(config(f"sqlite:///{tmp_path / 'catalog.db'}", warehouse))
    rotated = {
        catalog_location(config(f"postgresql+psycopg2://airflow:{password}@db:5432/tables", warehouse))
        for password in ("old", "new")
    }

    assert relative == absolute
    assert rotated == {"postgresql://db:5432/tables#lambdapipe"}, "no credentials in the owner's name"


def test_a_reader_with_a_mistyped_catalog_path_creates_nothing_and_says_which_path(tmp_path: Path) -> None:
    from lambdapipe.tables.catalog import CatalogNotFoundError, load_table

    mistyped = tmp_path / "airflw" / "lambdapipe" / "catalog.db"

    with pytest.raises(CatalogNotFoundError) as refused:
        load_table("orders", config(f"sqlite:///{mistyped}", "s3://bucket/warehouse"))

    assert f"no catalog at {mistyped}: nothing has been committed with these settings" in str(refused.value)
    assert not (tmp_path / "airflw").exists(), "no file and no folder left behind"


def test_tables_list_with_a_mistyped_catalog_path_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lambdapipe.commands.tables import main

    mistyped = tmp_path / "typo" / "catalog.db"
    # The connection beats the setting: drop one a session-scoped stack of this worker may have left.
    monkeypatch.delenv("AIRFLOW_CONN_LAMBDAPIPE_TABLES", raising=False)
    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__TABLES_CATALOG_URI", f"sqlite:///{mistyped}")

    exit_code = main(["list"])

    assert exit_code != 0
    assert f"no catalog at {mistyped}" in capsys.readouterr().err
    assert not mistyped.parent.exists()
