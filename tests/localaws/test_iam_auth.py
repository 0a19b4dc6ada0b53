"""Credentials: root keys, IAM users' keys and role sessions; what AWS answers to bad ones."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config

from localaws import SERVICE_ACCOUNT, TENANT_ACCOUNT

from .conftest import Target, error_code, real

NO_RETRY = Config(retries={"total_max_attempts": 1})


def _client(target: Target, service: str, key: str, secret: str, token: str | None = None):
    return boto3.client(service, endpoint_url=target.url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        aws_session_token=token, config=NO_RETRY)


def _user(target: Target, name: str = "ops") -> dict[str, str]:
    iam = target.client("iam", TENANT_ACCOUNT)
    iam.create_user(UserName=name)
    return iam.create_access_key(UserName=name)["AccessKey"]


@pytest.mark.parametrize(("service", "call", "code"), [
    ("sts", "get_caller_identity", "SignatureDoesNotMatch"),
    ("kms", "list_keys", "InvalidSignatureException"),
    ("sqs", "list_queues", "SignatureDoesNotMatch"),
    ("s3", "list_buckets", "SignatureDoesNotMatch"),
])
def test_a_root_key_with_the_wrong_secret_is_refused(target: Target, service: str, call: str,
                                                     code: str) -> None:
    client = _client(target, service, TENANT_ACCOUNT, "not-the-secret")
    real(target, error_code(getattr(client, call)), code)


def test_the_documented_root_secret_acts_as_the_account(local: Target) -> None:
    ident = _client(local, "sts", TENANT_ACCOUNT, "local").get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{TENANT_ACCOUNT}:root"


@pytest.mark.parametrize(("service", "call", "code"), [
    ("sts", "get_caller_identity", "InvalidClientTokenId"),
    ("kms", "list_keys", "UnrecognizedClientException"),
    ("s3", "list_buckets", "InvalidAccessKeyId"),
])
def test_an_unknown_access_key_is_refused(target: Target, service: str, call: str,
                                          code: str) -> None:
    client = _client(target, service, "AKIAUNKNOWNKEY000000", "whatever")
    real(target, error_code(getattr(client, call)), code)


def test_an_iam_users_key_acts_as_that_user_and_its_secret_is_checked(local: Target) -> None:
    key = _user(local)
    sts = _client(local, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{TENANT_ACCOUNT}:user/ops"
    wrong = _client(local, "sts", key["AccessKeyId"], "x" * 40)
    assert error_code(wrong.get_caller_identity) == "SignatureDoesNotMatch"


def test_a_role_session_acts_as_the_assumed_role_and_needs_its_token(local: Target) -> None:
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": SERVICE_ACCOUNT}, "Action": "sts:AssumeRole"}]}
    local.client("iam", TENANT_ACCOUNT).create_role(
        RoleName="Worker", AssumeRolePolicyDocument=json.dumps(trust))
    creds = local.client("sts", SERVICE_ACCOUNT).assume_role(
        RoleArn=f"arn:aws:iam::{TENANT_ACCOUNT}:role/Worker", RoleSessionName="s1")["Credentials"]
    sts = local.client("sts", creds=creds)
    assert sts.get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{TENANT_ACCOUNT}:assumed-role/Worker/s1")
    forged = _client(local, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], "forged")
    assert error_code(forged.get_caller_identity) == "InvalidClientTokenId"
