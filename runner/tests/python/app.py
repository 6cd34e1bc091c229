"""A Python function for the runner's tests, run by AWS's runtime interface
client (awslambdaric) as Lambda runs it: it answers what it was given."""

import json
import os
import time

SEEN = ["TEST_VAR", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION"]


def handler(event, context):
    path = event.get("rawPath", "")
    if path.endswith("/fail"):
        raise ValueError("the handler failed on purpose")
    if path.endswith("/sleep"):
        time.sleep(30)
    body = {
        "version": event.get("version"),
        "routeKey": event.get("routeKey"),
        "query": event.get("queryStringParameters"),
        "cookies": event.get("cookies"),
        "functionName": context.function_name,
        "arn": context.invoked_function_arn,
        "memoryMb": context.memory_limit_in_mb,
        "requestId": context.aws_request_id,
        "remainingMs": context.get_remaining_time_in_millis(),
        "env": {name: os.environ.get(name) for name in SEEN},
        "cwd": os.getcwd(),
        "pid": os.getpid(),
    }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "cookies": ["flavour=python; Path=/", "session=abc; HttpOnly"],
        "body": json.dumps(body),
    }
