"""The last deploy the Lambda view shows is read from what Lambda records, whichever path deployed."""

from __future__ import annotations

from lambdapipe.ui.functions import last_deploy

LATEST = {"Version": "$LATEST", "CodeSha256": "latest-sha", "LastModified": "2026-12-04T13:40:12.123+0000"}


def _alias(name: str, version: str, at: str) -> dict[str, str]:
    return {"name": name, "version": version, "code_sha256": f"sha-{version}", "last_modified": at}


def test_the_newest_aliased_version_is_the_last_deploy_with_its_time_in_utc() -> None:
    aliases = [
        _alias("canary", "3", "2026-12-04T13:40:12.123+0000"),
        _alias("live", "3", "2026-12-04T13:40:12.123+0000"),
        _alias("previous", "2", "2026-12-01T08:00:00.000+0000"),
    ]

    assert last_deploy(LATEST, aliases) == {
        "version": "3",
        "aliases": ["canary", "live"],
        "code_sha256": "sha-3",
        "deployed_at": "2026-12-04T13:40:12.123000+00:00",
    }


def test_versions_compare_as_numbers_not_text() -> None:
    aliases = [_alias("old", "9", "2026-12-01T08:00:00Z"), _alias("live", "10", "2026-12-04T09:00:00Z")]

    assert last_deploy(LATEST, aliases)["version"] == "10"


def test_without_an_aliased_version_the_last_deploy_is_latest() -> None:
    assert last_deploy(LATEST, []) == {
        "version": "$LATEST",
        "aliases": [],
        "code_sha256": "latest-sha",
        "deployed_at": "2026-12-04T13:40:12.123000+00:00",
    }
