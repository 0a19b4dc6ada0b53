"""A missing S3 object is 404 NoSuchKey only to a caller that may list the bucket; to anyone
else it is 403 AccessDenied, as on AWS (stock moto always answers 404)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from localaws import TENANT_ACCOUNT

from .conftest import Target, error_code
from .test_iam_eval import allow, session

BUCKET = "missing-objects"


def _reader(local: Target, *, may_list: bool) -> object:
    local.client("s3", TENANT_ACCOUNT).create_bucket(Bucket=BUCKET)
    local.client("s3", TENANT_ACCOUNT).put_object(Bucket=BUCKET, Key="there", Body=b"x")
    grants = [allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*")]
    if may_list:
        grants.append(allow("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"))
    return local.client("s3", TENANT_ACCOUNT, creds=session(local, *grants))


@pytest.mark.parametrize(("may_list", "get", "head"), [
    (True, "NoSuchKey", "404"), (False, "AccessDenied", "403")])
def test_a_missing_object_is_not_found_only_to_who_may_list(local: Target, may_list: bool,
                                                            get: str, head: str) -> None:
    s3 = _reader(local, may_list=may_list)
    assert error_code(s3.get_object, Bucket=BUCKET, Key="absent") == get  # type: ignore[attr-defined]
    assert error_code(s3.head_object, Bucket=BUCKET, Key="absent") == head  # type: ignore[attr-defined]
    # An object that is there is read either way.
    assert s3.get_object(Bucket=BUCKET, Key="there")["Body"].read() == b"x"  # type: ignore[attr-defined]


def test_a_deleted_object_is_missing_too(local: Target) -> None:
    s3 = _reader(local, may_list=False)
    local.client("s3", TENANT_ACCOUNT).delete_object(Bucket=BUCKET, Key="there")
    assert error_code(s3.get_object, Bucket=BUCKET, Key="there") == "AccessDenied"  # type: ignore[attr-defined]


def test_unsigned_reads_of_a_missing_public_object_are_access_denied(local: Target) -> None:
    owner = local.client("s3", TENANT_ACCOUNT)
    owner.create_bucket(Bucket=BUCKET)
    owner.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    owner.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    owner.put_object(Bucket=BUCKET, Key="public", Body=b"p")
    base = owner.meta.endpoint_url
    with urllib.request.urlopen(f"{base}/{BUCKET}/public", timeout=10) as resp:
        assert resp.read() == b"p"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{base}/{BUCKET}/absent", timeout=10)
    assert caught.value.code == 403
