"""The moto integration fails loudly on an unexpected moto, and keeps its own calls out of the counts."""

from __future__ import annotations

import logging

import pytest

from lambdapipe_local.moto_backend import compat
from tests.support.local_stack import invoke_json, wait_until


def test_installed_moto_passes_the_guard():
    compat.check_moto()


def test_a_different_moto_version_is_refused_with_a_clear_message(monkeypatch):
    import moto

    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(compat.IncompatibleMotoError, match=r"moto 9\.9\.9 is installed, .* supports 5\.2\.5"):
        compat.check_moto()


def test_a_changed_signature_is_named(monkeypatch):
    from moto.s3 import notifications

    monkeypatch.setattr(notifications, "_invoke_awslambda", lambda event, arn: None)
    with pytest.raises(compat.IncompatibleMotoError, match=r"moto\.s3\.notifications\._invoke_awslambda"):
        compat.check_moto()


def test_destination_deliveries_are_not_counted_as_client_calls(
    make_function, python_probe_zip, lambda_client, aws
):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="successes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_function("counted", python_probe_zip, "probe.echo")
    lambda_client.put_function_event_invoke_config(
        FunctionName="counted", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    aws.calls.reset()
    lambda_client.invoke(FunctionName="counted", InvocationType="Event", Payload=b"{}")
    assert aws.wait_for_async(timeout_s=20)
    wait_until(
        lambda: (
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
            == "1"
        ),
        what="the success record",
    )
    calls = aws.calls.snapshot()
    assert calls["sqs:SendMessage"] == 0
    assert calls["lambda:Invoke:counted"] == 1


def test_a_runtime_version_mismatch_warns_once(make_function, python_probe_zip, lambda_client, caplog):
    make_function("py313-a", python_probe_zip, "probe.echo", runtime="python3.13")
    make_function("py313-b", python_probe_zip, "probe.echo", runtime="python3.13")
    with caplog.at_level(logging.WARNING, logger="lambdapipe_local.lambda_runtime.runtimes"):
        for name in ("py313-a", "py313-b", "py313-a"):
            assert invoke_json(lambda_client, name, {"ok": 1})[1] == {"ok": 1}
    warnings = [r.getMessage() for r in caplog.records if "python3.13" in r.getMessage()]
    assert len(warnings) == 1
    assert "run on the local python3.11 interpreter" in warnings[0]
