"""Refusals as each AWS service words them: error codes per service and protocol-correct bodies."""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

Response = tuple[int, list[tuple[str, str]], bytes]

JSON_SERVICES = {"kms", "dynamodb", "sqs", "ebs"}
# AccessDenied, per service, as AWS answers it.
ACCESS_DENIED = {"kms": "AccessDeniedException", "dynamodb": "AccessDeniedException",
                 "ebs": "AccessDeniedException", "sns": "AuthorizationError"}
# Unknown access key ids and bad signatures, per service.
UNKNOWN_KEY = {"kms": "UnrecognizedClientException", "dynamodb": "UnrecognizedClientException",
               "ebs": "UnrecognizedClientException", "s3": "InvalidAccessKeyId"}
BAD_SIGNATURE = {"kms": "InvalidSignatureException", "dynamodb": "InvalidSignatureException",
                 "ebs": "InvalidSignatureException"}


class LocalAwsError(Exception):
    """An answer localaws gives in AWS's shape: error code, message and HTTP status."""

    def __init__(self, message: str, code: str = "LocalAwsUnsupported", status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def access_denied(service: str, message: str) -> LocalAwsError:
    return LocalAwsError(message, ACCESS_DENIED.get(service, "AccessDenied"), 403)


def unknown_key(service: str) -> LocalAwsError:
    message = ("The AWS Access Key Id you provided does not exist in our records." if
               service == "s3" else "The security token included in the request is invalid.")
    return LocalAwsError(message, UNKNOWN_KEY.get(service, "InvalidClientTokenId"), 403)


def bad_signature(service: str) -> LocalAwsError:
    return LocalAwsError(
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method.",
        BAD_SIGNATURE.get(service, "SignatureDoesNotMatch"), 403)


def response(service: str, error: LocalAwsError) -> Response:
    request_id = str(uuid.uuid4())
    code, message = error.code, error.message
    headers = [("x-amzn-RequestId", request_id)]
    if service in JSON_SERVICES:
        body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
        headers += [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", code),
                    # SQS's JSON protocol keeps its query-protocol codes in this header.
                    ("x-amzn-query-error", f"{code};Sender")]
    elif service == "s3":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId>"
                "</Error>").encode()
        headers.append(("Content-Type", "application/xml"))
    else:
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers.append(("Content-Type", "text/xml"))
    return error.status, headers, body
