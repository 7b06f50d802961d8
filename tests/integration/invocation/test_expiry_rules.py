"""What the operators write per run to S3 expires: lambdapipe's lifecycle rules, merged into the bucket's."""

from __future__ import annotations

from lambdapipe.lifecycle import WRITTEN_PREFIXES, ensure_expiry
from lambdapipe_local import LocalAws

BUCKET = "pipeline"
THEIRS = {
    "ID": "their-archive",
    "Filter": {"Prefix": "archive/"},
    "Status": "Enabled",
    "Expiration": {"Days": 365},
}


def _rules(s3) -> dict[str, dict]:
    return {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}


def test_expiry_rules_cover_the_written_prefixes_and_keep_the_buckets_own_rules(aws: LocalAws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [THEIRS]})

    changed = ensure_expiry(s3, BUCKET, days=7)

    rules = _rules(s3)
    assert changed is True
    assert rules["their-archive"]["Expiration"] == {"Days": 365}
    ours = [rule for rule in rules.values() if rule["ID"].startswith("lambdapipe-expire-")]
    assert sorted(rule["Filter"]["Prefix"] for rule in ours) == sorted(WRITTEN_PREFIXES)
    assert {rule["Expiration"]["Days"] for rule in ours} == {7}
    assert {rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for rule in ours} == {1}


def test_a_rerun_changes_nothing_and_new_days_replace_the_old_rules(aws: LocalAws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    ensure_expiry(s3, BUCKET, days=7)

    again = ensure_expiry(s3, BUCKET, days=7)
    longer = ensure_expiry(s3, BUCKET, days=30)

    assert (again, longer) == (False, True)
    assert len(_rules(s3)) == len(WRITTEN_PREFIXES)
    assert {rule["Expiration"]["Days"] for rule in _rules(s3).values()} == {30}


def test_the_demo_infrastructure_expires_fan_outs_offloads_and_order_extracts(
    aws: LocalAws, aws_environment: dict[str, str]
) -> None:
    from include.demo_infrastructure import ensure_infrastructure
    from lambdapipe_demo import settings

    ensure_infrastructure(deploy=False)

    rules = aws.client("s3").get_bucket_lifecycle_configuration(Bucket=settings.PIPELINE_BUCKET)["Rules"]
    assert sorted(rule["Filter"]["Prefix"] for rule in rules) == sorted(
        [*WRITTEN_PREFIXES, settings.EXTRACT_PREFIX]
    )
