"""Which ``Allow`` resources count as over-broad wildcards (they need ``allow_wildcard = true``).

The rule (see ``lambdapipe.packaging.resource_arns``): no wildcard in the partition, service,
region or account, nor in the part of the resource that names *one* resource; what follows a named
resource may be a pattern. Each row is checked through ``Permission``, the code path a
``function.toml`` takes.
"""

from __future__ import annotations

import pytest

from lambdapipe.packaging import ManifestError, Permission

ACCOUNT = "123456789012"
REGION = "us-east-1"

# (resource, over-broad?, why)
VERDICTS = [
    # --- anything, anywhere
    ("*", True, "every resource of every service"),
    ("arn:*", True, "an ARN that names nothing"),
    ("arn:aws:s3:::*", True, "every bucket"),
    # --- partition, service, region, account
    ("arn:*:s3:::uploads/*", True, "wildcard partition: the same bucket name in every partition"),
    ("arn:aws*:s3:::uploads/*", True, "partition pattern"),
    (f"arn:aws:*:{REGION}:{ACCOUNT}:table/orders", True, "wildcard service"),
    (f"arn:aws:dynamo*:{REGION}:{ACCOUNT}:table/orders", True, "service pattern"),
    (f"arn:aws:sqs:*:{ACCOUNT}:orders", True, "the queue of that name in every region"),
    (f"arn:aws:sqs:us-*:{ACCOUNT}:orders", True, "region pattern"),
    (f"arn:aws:dynamodb:{REGION}:*:table/orders", True, "the table of that name in every account"),
    (f"arn:aws:dynamodb:{REGION}:12345678901?:table/orders", True, "account pattern"),
    # --- resource type position
    (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:*", True, "every resource of the service"),
    (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:*/orders", True, "wildcard resource type"),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:*:orders", True, "wildcard resource type (colon form)"),
    (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:tab*/orders", True, "resource type pattern"),
    # --- S3 buckets and keys
    ("arn:aws:s3:::uploads", False, "one bucket"),
    ("arn:aws:s3:::uploads/*", False, "the keys of one bucket"),
    ("arn:aws:s3:::uploads/incoming/*.jpg", False, "a key pattern inside one bucket"),
    ("arn:aws:s3:::*/resized/*", True, "that prefix in every bucket"),
    ("arn:aws:s3:::upload*/*", True, "every bucket whose name starts so"),
    ("arn:aws:s3:::uploads?/*", True, "bucket name pattern"),
    # --- S3 access points and other regional S3 resources: type/name, then a pattern
    (f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/uploads-ap", False, "one access point"),
    (f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/uploads-ap/object/*", False, "objects via one access point"),
    (f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/*", True, "every access point of the account"),
    (f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/*/object/*", True, "objects through any access point"),
    (f"arn:aws:s3:{REGION}:{ACCOUNT}:job/*", True, "every batch operations job"),
    (f"arn:aws:s3-object-lambda:{REGION}:{ACCOUNT}:accesspoint/*", True, "every Object Lambda access point"),
    # --- IAM: the name is the last segment, what comes before is a path
    (f"arn:aws:iam::{ACCOUNT}:role/lambdapipe-orders", False, "one role"),
    (f"arn:aws:iam::{ACCOUNT}:role/service-role/lambdapipe-orders", False, "one role under a path"),
    (f"arn:aws:iam::{ACCOUNT}:role/*", True, "every role"),
    (f"arn:aws:iam::{ACCOUNT}:role/service-role/*", True, "every role under a path"),
    (f"arn:aws:iam::{ACCOUNT}:role/lambdapipe-*", True, "every role whose name starts so"),
    (f"arn:aws:iam::{ACCOUNT}:policy/team/*", True, "every policy under a path"),
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/*", True, "every session of a role counts as any caller"),
    # --- Secrets Manager: AWS appends "-" and six random characters to every secret's ARN
    (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf", False, "one secret, full ARN"),
    (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-??????", False, "one secret: AWS's random suffix"),
    (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-??????",
        False,
        "one secret with a path-like name, random suffix",
    ),
    (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-*",
        True,
        "also matches every secret named db-<anything>: use db-??????",
    ),
    (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db*", True, "every secret whose name starts with db"),
    (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/*", True, "every secret under prod/"),
    (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:*", True, "every secret"),
    (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-?????", True, "five ?: not the suffix, a pattern"),
    (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:d?-??????", True, "pattern in the name itself"),
    # --- API Gateway: the API id names the API; stage, method and path are normal patterns
    (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/prod/GET/orders", False, "one route"),
    (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/*/GET/orders", False, "one route, any stage"),
    (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/prod/*/*", False, "every route of one stage"),
    (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/*", False, "one API"),
    (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:*/prod/GET/orders", True, "that route of every API"),
    (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:*", True, "every API"),
    (f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5/stages/prod", False, "one API's stage (management)"),
    (f"arn:aws:apigateway:{REGION}::/restapis/*", True, "every REST API (management)"),
    # --- DynamoDB, Lambda, logs, SQS, SNS, SSM, KMS
    (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders", False, "one table"),
    (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/index/*", False, "one table's indexes"),
    (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/stream/*", False, "one table's streams"),
    (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/*", True, "every table"),
    (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/ord*", True, "every table whose name starts so"),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders", False, "one function"),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders:*", False, "one function's versions and aliases"),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:*", True, "every function"),
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/orders:*", False, "one log group's streams"),
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/*", True, "every function's logs"),
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/pay*:*", True, "log group name pattern"),
    (f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders", False, "one queue"),
    (f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-*", True, "every queue whose name starts so"),
    (f"arn:aws:sns:{REGION}:{ACCOUNT}:*", True, "every topic"),
    (f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/orders/*", False, "parameters under one named path"),
    (f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/*", True, "every parameter"),
    (f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab", False, "one key"),
    (f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*", True, "every key"),
]


@pytest.mark.parametrize(
    ("resource", "over_broad", "why"), VERDICTS, ids=[f"{row[0]} ({row[2]})" for row in VERDICTS]
)
def test_an_allow_statement_needs_the_opt_in_exactly_for_over_broad_resources(
    resource: str, over_broad: bool, why: str
) -> None:
    try:
        Permission(actions=("s3:GetObject",), resources=(resource,))
    except ManifestError as error:
        assert over_broad, f"{resource} refused, but it names one resource: {why} ({error})"
        assert f"wildcard resource {resource!r} is not least privilege" in str(error)
    else:
        assert not over_broad, f"{resource} accepted without allow_wildcard, but it is over-broad: {why}"


@pytest.mark.parametrize("resource", [row[0] for row in VERDICTS if row[1]])
def test_the_opt_in_and_a_deny_still_accept_every_over_broad_resource(resource: str) -> None:
    opted_in = Permission(actions=("s3:GetObject",), resources=(resource,), allow_wildcard=True)
    denied = Permission(actions=("s3:GetObject",), resources=(resource,), effect="Deny")

    assert opted_in.resources == denied.resources == (resource,)


def test_a_secret_pattern_is_refused_with_the_suffix_to_use_instead() -> None:
    resource = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-*"

    with pytest.raises(ManifestError, match=r"a secret is <name>-\?{6}"):
        Permission(actions=("secretsmanager:GetSecretValue",), resources=(resource,))
