"""The local stack's weighted alias routing gives each additional version its exact share, in order."""

from __future__ import annotations

from types import SimpleNamespace

from lambdapipe_local.lambda_runtime.alias_routing import AliasRouter


def alias(weights: dict[str, float], version: str = "1") -> SimpleNamespace:
    """What the router reads of moto's alias: its version and routing config."""
    return SimpleNamespace(function_version=version, routing_config={"AdditionalVersionWeights": weights})


def test_a_tenth_goes_to_the_canary_every_tenth_invocation() -> None:
    router = AliasRouter()

    versions = [router.version_for("f:live", alias({"2": 0.1})) for _ in range(30)]

    assert [index for index, version in enumerate(versions) if version == "2"] == [9, 19, 29]


def test_aliases_keep_their_own_shares() -> None:
    router = AliasRouter()

    half = [router.version_for("f:live", alias({"2": 0.5})) for _ in range(4)]
    none = [router.version_for("g:live", alias({})) for _ in range(4)]

    assert (half, none) == (["1", "2", "1", "2"], ["1"] * 4)


def test_an_alias_whose_weights_change_starts_owing_from_zero() -> None:
    router = AliasRouter()
    router.version_for("f:live", alias({"2": 0.5}))  # half a share owed to version 2

    after_change = [router.version_for("f:live", alias({"2": 0.1})) for _ in range(10)]

    assert after_change == ["1"] * 9 + ["2"]
