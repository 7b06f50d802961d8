"""Every function shipped in lambda_functions/ deploys on the local stack and passes its own test events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambdapipe.deploy.deployer import DeployResult
from lambdapipe.packaging import load_manifest, load_test_events
from lambdapipe_local import LocalAws
from tests.support.shipped_functions import FUNCTIONS_DIR, SHIPPED_FUNCTIONS


def test_shipped_functions_cover_python_and_nodejs() -> None:
    languages = {load_manifest(FUNCTIONS_DIR / name).language for name in SHIPPED_FUNCTIONS}

    assert languages == {"python", "nodejs"}


@pytest.mark.parametrize("name", SHIPPED_FUNCTIONS)
def test_shipped_function_deploys_and_every_test_event_passes_against_the_new_version(
    name: str, aws: LocalAws, deploy: Callable[..., DeployResult], lambda_client: Any
) -> None:
    folder = FUNCTIONS_DIR / name
    events = sorted(load_test_events(folder))

    result = deploy(folder)

    assert events, f"{name} ships no events/*.json to smoke-test"
    assert (result.version, result.alias, result.smoke_tests) == ("1", "live", events)
    assert aws.calls.snapshot()[f"lambda:Invoke:{name}"] == len(events)
    configuration = lambda_client.get_function_configuration(FunctionName=name, Qualifier="live")
    assert configuration["Runtime"] == load_manifest(folder).runtime
    assert configuration["Version"] == "1"
