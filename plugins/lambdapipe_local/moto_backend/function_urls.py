"""A function URL created for an alias invokes that alias, as on AWS.

moto ignores ``CreateFunctionUrlConfig``'s ``Qualifier``, so its URL ran ``$LATEST``: code updated
after a deploy answered before its smoke tests, and a canary's weights did not apply to URL traffic.
The qualifier is kept on moto's config and shown in its ``FunctionArn``. One URL per function still
(AWS allows one per qualifier).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote


def install() -> None:
    from moto.awslambda.models import FunctionUrlConfig
    from moto.awslambda.responses import LambdaResponse

    LambdaResponse.create_function_url_config = _keeping_qualifier(LambdaResponse.create_function_url_config)
    FunctionUrlConfig.to_dict = _with_qualified_arn(FunctionUrlConfig.to_dict)


def target_arn(config: Any) -> str:
    """The ARN a function URL invokes: the function, qualified when the URL was made for an alias."""
    qualifier = getattr(config, "qualifier", None)
    arn = config.function.function_arn
    return f"{arn}:{qualifier}" if qualifier else arn


def _keeping_qualifier(original: Any) -> Any:
    def create_function_url_config(self: Any) -> Any:
        response = original(self)
        qualifier = self.querystring.get("Qualifier", [None])[0]
        if qualifier:
            function = self.backend.get_function(unquote(self.path.split("/")[-2]), None)
            function.url_config.qualifier = qualifier
        return response

    return create_function_url_config


def _with_qualified_arn(original: Any) -> Any:
    def to_dict(self: Any) -> dict[str, Any]:
        return {**original(self), "FunctionArn": target_arn(self)}

    return to_dict
