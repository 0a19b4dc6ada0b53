"""Unsigned requests and presigned URLs: refused as each service refuses them, S3 evaluated as the
anonymous principal, presigned URLs verified and evaluated as their signer."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from localaws import SERVICE_ACCOUNT, TENANT_ACCOUNT, LocalAws

from .conftest import Target, error_code, real

NO_RETRY = {"total_max_attempts": 1}
BUCKET = "tenant-bucket"


def _anonymous(target: Target, service: str) -> Any:
    return boto3.client(service, endpoint_url=target.url, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, retries=NO_RETRY))


def _s3v4(target: Target, creds: dict[str, str] | None = None) -> Any:
    keys = {"aws_access_key_id": TENANT_ACCOUNT, "aws_secret_access_key": "local"}
    if creds is not None:
        keys = {"aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"]}
        if "SessionToken" in creds:
            keys["aws_session_token"] = creds["SessionToken"]
    return boto3.client("s3", endpoint_url=target.url, region_name="us-east-1",
                        config=Config(signature_version="s3v4", retries=NO_RETRY), **keys)


def _failure(call: Any, *args: Any, **kwargs: Any) -> tuple[str, int] | None:
    """(error code, HTTP status) of a failing call, None when it succeeds."""
    try:
        call(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - botocore ClientError carries the answer
        response = getattr(error, "response", None) or {}
        return (response.get("Error", {}).get("Code", type(error).__name__),
                response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return None


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _http(url: str, method: str = "GET", data: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _code(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text


def _bucket(target: Target) -> Any:
    s3 = target.client("s3", TENANT_ACCOUNT)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="public/report", Body=b"open", ACL="public-read")
    s3.put_object(Bucket=BUCKET, Key="private/key", Body=b"secret")
    return s3


@pytest.mark.parametrize(("service", "call", "expected"), [
    ("kms", "list_keys", ("MissingAuthenticationTokenException", 403)),
    ("dynamodb", "list_tables", ("MissingAuthenticationTokenException", 400)),
    ("sts", "get_caller_identity", ("MissingAuthenticationToken", 403)),
    ("iam", "list_roles", ("MissingAuthenticationToken", 403)),
    ("sns", "list_topics", ("MissingAuthenticationToken", 403)),
    ("sqs", "list_queues", ("MissingAuthenticationToken", 403)),
    ("cloudformation", "list_stacks", ("MissingAuthenticationToken", 403)),
])
def test_unsigned_requests_are_refused_as_each_service_refuses_them(
        target: Target, service: str, call: str, expected: tuple[str, int]) -> None:
    real(target, _failure(getattr(_anonymous(target, service), call)), expected)


def test_an_unsigned_request_changes_nothing(target: Target) -> None:
    _failure(_anonymous(target, "kms").create_key, Description="anonymous")
    _failure(_anonymous(target, "s3").create_bucket, Bucket="anonymous-bucket")
    keys = target.client("kms", "123456789012").list_keys()["Keys"]  # moto's default account
    buckets = [b["Name"] for b in target.client("s3").list_buckets()["Buckets"]]
    real(target, (keys, "anonymous-bucket" in buckets), ([], False))


def test_anonymous_s3_is_refused_what_no_policy_or_acl_grants(target: Target) -> None:
    _bucket(target)
    s3 = _anonymous(target, "s3")
    observed = [error_code(s3.list_objects_v2, Bucket=BUCKET),
                error_code(s3.put_object, Bucket=BUCKET, Key="planted", Body=b"x"),
                error_code(s3.delete_object, Bucket=BUCKET, Key="private/key"),
                error_code(s3.create_bucket, Bucket="anonymous-bucket"),
                error_code(s3.list_buckets)]
    real(target, observed, ["AccessDenied"] * 5)
    if target.fixed:  # nothing changed
        owner = target.client("s3", TENANT_ACCOUNT)
        keys = [o["Key"] for o in owner.list_objects_v2(Bucket=BUCKET)["Contents"]]
        assert sorted(keys) == ["private/key", "public/report"]


def test_anonymous_s3_reads_a_public_read_object_and_nothing_else(local: Target) -> None:
    _bucket(local)
    s3 = _anonymous(local, "s3")
    assert s3.get_object(Bucket=BUCKET, Key="public/report")["Body"].read() == b"open"
    failure = _failure(s3.get_object, Bucket=BUCKET, Key="private/key")
    assert failure is not None and failure[0] == "AccessDenied"
    assert error_code(s3.get_object, Bucket="no-such-bucket", Key="k") == "NoSuchBucket"


def test_a_bucket_policy_granting_everyone_admits_anonymous_and_its_deny_binds(
        local: Target) -> None:
    owner = _bucket(local)
    owner.put_object(Bucket=BUCKET, Key="shared/a", Body=b"shared")
    owner.put_object(Bucket=BUCKET, Key="shared/hidden", Body=b"hidden", ACL="public-read")
    arn = f"arn:aws:s3:::{BUCKET}"
    owner.put_bucket_policy(Bucket=BUCKET, Policy=_policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"{arn}/shared/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"{arn}/shared/hidden"},
        {"Effect": "Allow", "Principal": {"AWS": TENANT_ACCOUNT}, "Action": "s3:ListBucket",
         "Resource": arn}))
    s3 = _anonymous(local, "s3")
    assert s3.get_object(Bucket=BUCKET, Key="shared/a")["Body"].read() == b"shared"
    # An explicit Deny beats even a public-read ACL; an account principal is not anonymous.
    assert error_code(s3.get_object, Bucket=BUCKET, Key="shared/hidden") == "AccessDenied"
    assert error_code(s3.list_objects_v2, Bucket=BUCKET) == "AccessDenied"
    assert error_code(s3.get_object, Bucket=BUCKET, Key="private/key") == "AccessDenied"


def test_block_public_access_voids_public_acls_and_public_policies(local: Target) -> None:
    owner = _bucket(local)
    owner.put_bucket_policy(Bucket=BUCKET, Policy=_policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/private/*"}))
    s3 = _anonymous(local, "s3")
    assert s3.get_object(Bucket=BUCKET, Key="private/key")["Body"].read() == b"secret"
    owner.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True})
    assert error_code(s3.get_object, Bucket=BUCKET, Key="public/report") == "AccessDenied"
    assert error_code(s3.get_object, Bucket=BUCKET, Key="private/key") == "AccessDenied"


def test_object_ownership_enforced_disables_acls(local: Target) -> None:
    owner = _bucket(local)
    owner.put_bucket_ownership_controls(Bucket=BUCKET, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3 = _anonymous(local, "s3")
    assert error_code(s3.get_object, Bucket=BUCKET, Key="public/report") == "AccessDenied"


def _reader(target: Target) -> dict[str, str]:
    """An IAM user of the tenant who may read public/* only."""
    iam = target.client("iam", TENANT_ACCOUNT)
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                "Resource": f"arn:aws:s3:::{BUCKET}/public/*"}]}))
    return dict(iam.create_access_key(UserName="reader")["AccessKey"])


def _presign(s3: Any, key: str, method: str = "get_object", expires: int = 300) -> str:
    return str(s3.generate_presigned_url(method, Params={"Bucket": BUCKET, "Key": key},
                                         ExpiresIn=expires))


def test_a_presigned_url_acts_as_its_signer(target: Target) -> None:
    _bucket(target)
    signer = _s3v4(target, _reader(target))
    allowed = _http(_presign(signer, "public/report"))
    denied = _http(_presign(signer, "private/key"))
    assert allowed == (200, b"open")
    real(target, (denied[0], _code(denied[1])), (403, "AccessDenied"))


def test_a_role_sessions_presigned_put_needs_its_token(local: Target) -> None:
    _bucket(local)
    iam = local.client("iam", TENANT_ACCOUNT)
    iam.create_role(RoleName="writer", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": TENANT_ACCOUNT}}]}))
    iam.put_role_policy(RoleName="writer", PolicyName="put", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                                                "Resource": f"arn:aws:s3:::{BUCKET}/in/*"}]}))
    creds = local.client("sts", TENANT_ACCOUNT).assume_role(
        RoleArn=f"arn:aws:iam::{TENANT_ACCOUNT}:role/writer",
        RoleSessionName="writer")["Credentials"]
    url = _presign(_s3v4(local, creds), "in/upload", "put_object")
    assert "X-Amz-Security-Token=" in url
    forged = url.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x")
    binary = {"Content-Type": "application/octet-stream"}  # not a form: urllib's default
    status, body = _http(forged, "PUT", b"nope", binary)
    assert (status, _code(body)) == (403, "InvalidAccessKeyId")
    assert _http(url, "PUT", b"uploaded", binary)[0] == 200
    owner = local.client("s3", TENANT_ACCOUNT)
    assert owner.get_object(Bucket=BUCKET, Key="in/upload")["Body"].read() == b"uploaded"


@pytest.mark.parametrize("tamper", ["signature", "key", "expiry"])
def test_a_tampered_presigned_url_does_not_match(target: Target, tamper: str) -> None:
    _bucket(target)
    url = _presign(_s3v4(target), "private/key")
    forged = {"signature": url.replace("X-Amz-Signature=", "X-Amz-Signature=0"),
              "key": url.replace("/private/key?", "/public/report?"),
              "expiry": url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000")}[tamper]
    status, body = _http(forged)
    real(target, (status, _code(body)), (403, "SignatureDoesNotMatch"))


def test_an_expired_presigned_url_is_refused(target: Target) -> None:
    _bucket(target)
    url = _presign(_s3v4(target), "private/key", expires=1)
    time.sleep(2.1)
    status, body = _http(url)
    real(target, (status, _code(body), b"Request has expired" in body),
         (403, "AccessDenied", True))


def test_presigned_urls_expire_on_localaws_clock(local: Target, server: LocalAws) -> None:
    _bucket(local)
    url = _presign(_s3v4(local), "private/key", expires=3600)
    assert _http(url) == (200, b"secret")
    server.advance_clock(hours=1, seconds=1)
    status, body = _http(url)
    assert (status, _code(body)) == (403, "AccessDenied")
    assert b"Request has expired" in body


def test_a_presigned_url_valid_for_more_than_a_week_is_refused(target: Target) -> None:
    _bucket(target)
    status, body = _http(_presign(_s3v4(target), "private/key", expires=604801))
    real(target, (status, _code(body)), (400, "AuthorizationQueryParametersError"))


def test_an_unknown_key_or_wrong_secret_in_a_presigned_url(target: Target) -> None:
    _bucket(target)
    unknown = _s3v4(target, {"AccessKeyId": "AKIAUNKNOWNKEY000000", "SecretAccessKey": "x"})
    wrong = _s3v4(target, {"AccessKeyId": TENANT_ACCOUNT, "SecretAccessKey": "not-local"})
    observed = [_code(_http(_presign(unknown, "private/key"))[1]),
                _code(_http(_presign(wrong, "private/key"))[1])]
    real(target, observed, ["InvalidAccessKeyId", "SignatureDoesNotMatch"])


def test_sigv2_presigned_urls_are_refused(target: Target) -> None:
    _bucket(target)
    s3 = boto3.client("s3", endpoint_url=target.url, region_name="us-east-1",
                      aws_access_key_id=TENANT_ACCOUNT, aws_secret_access_key="local",
                      config=Config(signature_version="s3"))
    url = _presign(s3, "private/key")
    assert "AWSAccessKeyId=" in url
    status, body = _http(url)
    real(target, (status, _code(body)), (400, "InvalidRequest"))


def test_an_authorization_header_that_is_not_sigv4_is_refused(target: Target) -> None:
    status, body = _http(f"{target.url}/", "POST", b"Action=GetCallerIdentity&Version=2011-06-15",
                         {"Content-Type": "application/x-www-form-urlencoded",
                          "Authorization": f"AWS4-HMAC-SHA256 Credential={SERVICE_ACCOUNT}"})
    real(target, (status, _code(body)), (400, "IncompleteSignature"))


def test_web_identity_is_not_served_unsigned(local: Target) -> None:
    sts = _anonymous(local, "sts")
    code = error_code(sts.assume_role_with_web_identity,
                      RoleArn=f"arn:aws:iam::{TENANT_ACCOUNT}:role/web",
                      RoleSessionName="web", WebIdentityToken="t" * 10)
    assert code == "LocalAwsUnsupported"


def test_localaws_control_endpoints_stay_unsigned(server: LocalAws) -> None:
    assert server.ping()
    assert "now" in server._call("GET", "clock")


def test_a_response_url_carries_its_own_signature_and_expiry(local: Target,
                                                             server: LocalAws) -> None:
    """The custom-resource ResponseURL stands in for CloudFormation's presigned S3 URL: it is
    signed by localaws (not by a caller's key), and S3's answers to a forged or expired one."""
    from .test_cfn_custom import _answer, _create, _queue, _request, _status

    topic, sqs, queue = _queue(local)
    cfn = _create(local, topic)
    event = _request(sqs, queue)
    url, body = event["ResponseURL"], json.dumps(_answer(event)).encode()
    expires = url.split("&Expires=", 1)[1].split("&", 1)[0]
    forged = [url.replace("X-Amz-Signature=", "X-Amz-Signature=0"),
              url.replace(f"&Expires={expires}", f"&Expires={int(expires) + 86400}"),
              url.replace("/cfn-response/", "/cfn-response/0")]
    for bad in forged:
        status, answer = _http(bad, "PUT", body, {"Content-Type": ""})
        assert (status, _code(answer)) == (403, "SignatureDoesNotMatch"), bad
    assert _status(cfn) == "CREATE_IN_PROGRESS"
    server.advance_clock(hours=2, seconds=1)
    status, answer = _http(url, "PUT", body, {"Content-Type": ""})
    assert (status, _code(answer)) == (403, "AccessDenied")
    assert b"Request has expired" in answer


@pytest.mark.parametrize("signed", [False, True])
def test_motos_own_api_is_not_served(local: Target, signed: bool) -> None:
    """moto answers /moto-api/* (its state, with every secret, and reset) before any service;
    AWS has no such thing, signed or not."""
    local.client("kms", TENANT_ACCOUNT).create_key(Description="kept")
    url = f"{local.url}/moto-api/data.json"
    headers = {}
    if signed:  # a root key's valid signature does not open it either
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method="GET", url=url)
        S3SigV4Auth(Credentials(TENANT_ACCOUNT, "local"), "s3", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
    status, body = _http(url, "GET", None, headers)
    assert (status, _code(body)) == (400, "LocalAwsUnsupported")
    assert b"kept" not in body
