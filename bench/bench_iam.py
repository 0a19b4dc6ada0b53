"""Cost of strict localaws (authentication and IAM evaluation) per request, against lax.

python -m bench.bench_iam [--requests N]: a role session calls KMS GenerateDataKey (identity
policy and key policy evaluated), and GETs an S3 object through a presigned URL (query signature,
expiry and the signer's policy checked), on a strict and on a lax server in the same process,
interleaved in rounds; prints milliseconds per request and the ratio."""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from localaws import TENANT_ACCOUNT, LocalAws


def _client(url: str, service: str, creds: dict[str, str] | None = None) -> Any:
    keys = ({"aws_access_key_id": creds["AccessKeyId"],
             "aws_secret_access_key": creds["SecretAccessKey"],
             "aws_session_token": creds["SessionToken"]} if creds else
            {"aws_access_key_id": TENANT_ACCOUNT, "aws_secret_access_key": "local"})
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", **keys)


def _setup(url: str) -> tuple[Any, str]:
    iam, kms = _client(url, "iam"), _client(url, "kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": TENANT_ACCOUNT}, "Action": "sts:AssumeRole"}]}
    use = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key},
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::bench-bucket/object"}]}
    s3 = _client(url, "s3")
    s3.create_bucket(Bucket="bench-bucket")
    s3.put_object(Bucket="bench-bucket", Key="object", Body=b"x" * 1024)
    iam.create_role(RoleName="Bench", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="Bench", PolicyName="use", PolicyDocument=json.dumps(use))
    creds = _client(url, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{TENANT_ACCOUNT}:role/Bench", RoleSessionName="bench")
    return _client(url, "kms", creds["Credentials"]), key


def _presigned(url: str, creds: Any) -> str:
    """A presigned GET of a small object, signed by the role session."""
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      config=Config(signature_version="s3v4"),
                      aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
                      aws_session_token=creds.token)
    return str(s3.generate_presigned_url("get_object", ExpiresIn=3600,
                                         Params={"Bucket": "bench-bucket", "Key": "object"}))


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()


def _time(call: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n * 1000


def _compare(title: str, lax: Callable[[], Any], strict: Callable[[], Any], n: int) -> None:
    rounds = 5
    totals = {"lax": 0.0, "strict": 0.0}
    for _ in range(rounds):
        totals["lax"] += _time(lax, n // rounds)
        totals["strict"] += _time(strict, n // rounds)
    lax_ms, strict_ms = totals["lax"] / rounds, totals["strict"] / rounds
    print(f"{title}, {n} requests each\n")
    print(f"{'localaws':<10}{'ms/request':>12}{'ratio':>8}")
    print(f"{'lax':<10}{lax_ms:>12.2f}{1.0:>8.2f}")
    print(f"{'strict':<10}{strict_ms:>12.2f}{strict_ms / lax_ms:>8.2f}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_iam")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    with LocalAws(strict=False) as lax, LocalAws() as strict:
        # moto's state is process-wide: both servers see the same role, key and bucket.
        kms_strict, key = _setup(strict.url)
        creds = kms_strict._request_signer._credentials
        kms_lax = boto3.client("kms", endpoint_url=lax.url, region_name="us-east-1",
                               aws_access_key_id=creds.access_key,
                               aws_secret_access_key=creds.secret_key,
                               aws_session_token=creds.token)
        _compare("KMS GenerateDataKey through a role session",
                 lambda: kms_lax.generate_data_key(KeyId=key, KeySpec="AES_256"),
                 lambda: kms_strict.generate_data_key(KeyId=key, KeySpec="AES_256"),
                 args.requests)
        lax_url, strict_url = _presigned(lax.url, creds), _presigned(strict.url, creds)
        _compare("S3 GetObject through a presigned URL of a role session",
                 lambda: _get(lax_url), lambda: _get(strict_url), args.requests)


if __name__ == "__main__":
    main()
