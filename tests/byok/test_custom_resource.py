"""The custom-resource request and response format, and which ResponseURLs we PUT to."""

from __future__ import annotations

import json

import pytest

from byok.custom_resource import (
    MalformedRequest,
    parse_message,
    response_body,
    response_url_allowed,
)

STACK = "arn:aws:cloudformation:eu-west-1:444455556666:stack/byok-vault-x/1a2b"
REQUEST = {"RequestType": "Create", "RequestId": "req-1", "LogicalResourceId": "Notify",
           "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1"
                          ".amazonaws.com/arn%3A...?X-Amz-Signature=abc",
           "StackId": STACK, "ResourceType": "Custom::ByokVaultNotify",
           "ResourceProperties": {"ServiceToken": "arn:aws:sns:eu-west-1:1:t", "token": "t"}}


def _sns(doc: dict) -> str:
    return json.dumps({"Type": "Notification", "Message": json.dumps(doc)})


def test_request_is_read_from_the_sns_envelope_and_the_account_from_the_stack_id() -> None:
    request = parse_message(_sns(REQUEST))
    assert (request.account_id, request.region) == ("444455556666", "eu-west-1")
    assert request.properties == {"token": "t"}  # ServiceToken is not a report field
    assert parse_message(json.dumps(REQUEST)) == request  # raw delivery too


@pytest.mark.parametrize(("change", "needle"), [
    ({"RequestType": "Replace"}, "RequestType"),
    ({"ResponseURL": ""}, "ResponseURL"),
    ({"StackId": "arn:aws:sns:eu-west-1:444455556666:x"}, "StackId"),
    ({"ResourceProperties": None}, "ResourceProperties"),
])
def test_malformed_requests_are_named(change: dict, needle: str) -> None:
    with pytest.raises(MalformedRequest, match=needle):
        parse_message(_sns(REQUEST | change))
    with pytest.raises(MalformedRequest):
        parse_message("not json")


def test_response_echoes_the_request_and_keeps_the_physical_id() -> None:
    request = parse_message(_sns(REQUEST | {"RequestType": "Update",
                                            "PhysicalResourceId": "phys-1"}))
    doc = json.loads(response_body(request, "FAILED", "x" * 5000))
    assert doc["PhysicalResourceId"] == "phys-1" and len(doc["Reason"]) == 1000
    assert (doc["RequestId"], doc["StackId"], doc["LogicalResourceId"]) == \
        ("req-1", STACK, "Notify")
    with pytest.raises(ValueError, match="SUCCESS or FAILED"):
        response_body(request, "MAYBE")


@pytest.mark.parametrize(("url", "allowed"), [
    (REQUEST["ResponseURL"], True),
    ("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k", True),
    ("http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k", False),
    ("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.io/", False),
    ("https://evil.io/cloudformation-custom-resource-response-useast1.s3.amazonaws.com", False),
    ("http://169.254.169.254/latest/meta-data/", False),
    ("http://127.0.0.1:4566/_localaws/cfn-response/r", True),  # the local endpoint below
    ("http://127.0.0.1:45660/_localaws/cfn-response/r", False),
])
def test_only_cloudformation_response_urls_are_called(url: str, allowed: bool) -> None:
    assert response_url_allowed(url, "http://127.0.0.1:4566") is allowed
