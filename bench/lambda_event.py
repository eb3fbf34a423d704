"""API Gateway REST proxy events and a Lambda context, shaped like ``chalice.local`` builds them."""

from __future__ import annotations

import uuid
from typing import Any

ACCOUNT = "123456789012"
API_ID = "abcdef1234"


def rest_event(
    method: str,
    resource: str,
    path: str,
    *,
    body: str | None,
    headers: dict[str, str],
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API proxy event (chalice.local's ``LambdaEventConverter.create_lambda_event``)."""
    return {
        "requestContext": {
            "httpMethod": method,
            "resourcePath": resource,
            "identity": {"sourceIp": "127.0.0.1"},
            "path": path,
            "requestId": str(uuid.uuid4()),
            "stage": "api",
        },
        "headers": {k.lower(): v for k, v in headers.items()},
        "pathParameters": path_parameters or {},
        "multiValueQueryStringParameters": None,
        "stageVariables": {},
        "body": body,
        "isBase64Encoded": False,
    }


def token_event(token: str, method: str, path: str) -> dict[str, Any]:
    """A TOKEN authorizer event, as API Gateway sends it to ``api_key_auth``."""
    return {
        "type": "TOKEN",
        "authorizationToken": token,
        "methodArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{API_ID}/api/{method}{path}",
    }


class LambdaContext:
    """The attributes of the Lambda context object that handlers read."""

    def __init__(self, function_name: str = "whatsapp-evolution-prod", memory_mb: int = 512) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
