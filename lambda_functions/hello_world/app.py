"""The smallest Python function: proves a deploy and an invoke work end to end."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    logger.info("Saying hello", extra={"event_type": type(event).__name__})
    return {"statusCode": 200, "body": "Hello, AWS Lambda!"}
