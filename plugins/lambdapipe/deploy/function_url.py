"""A function URL (payload 2.0, ``AuthType NONE``) on the alias."""

from __future__ import annotations

from typing import Any

from lambdapipe.deploy.endpoint_context import EndpointContext
from lambdapipe.deploy.endpoint_permissions import function_url_statements
from lambdapipe.packaging.http_settings import HttpSettings

STATEMENT_ID = "lambdapipe-function-url"


def find(context: EndpointContext) -> dict[str, Any] | None:
    client = context.clients.lambda_
    try:
        return client.get_function_url_config(
            FunctionName=context.function_name, **context.permissions.qualifier_kwargs
        )
    except client.exceptions.ResourceNotFoundException:
        return None


def ensure(context: EndpointContext, settings: HttpSettings) -> dict[str, Any]:
    client = context.clients.lambda_
    config = find(context)
    if config is None:
        config = client.create_function_url_config(
            FunctionName=context.function_name, AuthType="NONE", **context.permissions.qualifier_kwargs
        )
        context.wrote(f"created function URL {config['FunctionUrl']}")
    elif config.get("AuthType") != "NONE":
        client.update_function_url_config(
            FunctionName=context.function_name, AuthType="NONE", **context.permissions.qualifier_kwargs
        )
        context.wrote("function URL: AuthType NONE")
    context.permissions.ensure(function_url_statements(STATEMENT_ID))
    return config


def remove(context: EndpointContext) -> None:
    if find(context) is not None:
        context.clients.lambda_.delete_function_url_config(
            FunctionName=context.function_name, **context.permissions.qualifier_kwargs
        )
        context.wrote("deleted the function URL")
    context.permissions.remove([statement.sid for statement in function_url_statements(STATEMENT_ID)])
