"""``lambdapipe url``: where a deployed function answers HTTP, read from AWS; one line when it cannot say."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from lambdapipe.deploy.deployer import DeployResult
from tests.support.shipped_functions import FUNCTIONS_DIR

LAMBDAPIPE = str(Path(sys.executable).parent / "lambdapipe")
GREETING_API = FUNCTIONS_DIR / "greeting_api"


def url(*args: object, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAMBDAPIPE, "url", *map(str, args)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_url_prints_each_endpoint_the_deploy_made(
    aws_environment: dict[str, str], deploy: Callable[..., DeployResult]
) -> None:
    endpoints = deploy(GREETING_API, smoke_test=False).endpoints

    first = url(GREETING_API, env=aws_environment)
    rest = url(GREETING_API, "--api", "rest-api", env=aws_environment)
    every = url(GREETING_API, "--all", env=aws_environment)

    assert (first.returncode, first.stdout, first.stderr) == (0, endpoints["http-api"] + "\n", "")
    assert (rest.returncode, rest.stdout) == (0, endpoints["rest-api"] + "\n")
    assert every.stdout.splitlines() == [f"{kind} {address}" for kind, address in endpoints.items()]


def test_url_says_in_one_line_what_is_missing(aws_environment: dict[str, str]) -> None:
    not_deployed = url(GREETING_API, env=aws_environment)
    no_http = url(FUNCTIONS_DIR / "hello_world", env=aws_environment)

    assert (not_deployed.returncode, not_deployed.stdout) == (1, "")
    assert not_deployed.stderr == (
        f"lambdapipe url: greeting_api is not deployed: lambdapipe deploy {GREETING_API}\n"
    )
    assert (no_http.returncode, no_http.stderr) == (
        1,
        "lambdapipe url: hello_world has no [http] in its function.toml\n",
    )
