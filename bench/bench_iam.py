"""Cost of strict localaws (authentication and IAM evaluation) per request, against lax.

python -m bench.bench_iam [--requests N]: a role session calls KMS GenerateDataKey (identity
policy and key policy evaluated) and STS GetCallerIdentity on a strict and on a lax server in
the same process, interleaved in rounds; prints milliseconds per request and the ratio."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import boto3

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
    use = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key}]}
    iam.create_role(RoleName="Bench", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="Bench", PolicyName="use", PolicyDocument=json.dumps(use))
    creds = _client(url, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{TENANT_ACCOUNT}:role/Bench", RoleSessionName="bench")
    return _client(url, "kms", creds["Credentials"]), key


def _time(kms: Any, key: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    return (time.perf_counter() - start) / n * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_iam")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    with LocalAws(strict=False) as lax, LocalAws() as strict:
        # moto's state is process-wide: both servers see the same role and key.
        kms_strict, key = _setup(strict.url)
        creds = kms_strict._request_signer._credentials
        kms_lax = boto3.client("kms", endpoint_url=lax.url, region_name="us-east-1",
                               aws_access_key_id=creds.access_key,
                               aws_secret_access_key=creds.secret_key,
                               aws_session_token=creds.token)
        rounds = 5
        totals = {"lax": 0.0, "strict": 0.0}
        for _ in range(rounds):
            totals["lax"] += _time(kms_lax, key, args.requests // rounds)
            totals["strict"] += _time(kms_strict, key, args.requests // rounds)
    lax_ms, strict_ms = totals["lax"] / rounds, totals["strict"] / rounds
    print(f"KMS GenerateDataKey through a role session, {args.requests} requests each\n")
    print(f"{'localaws':<10}{'ms/request':>12}{'ratio':>8}")
    print(f"{'lax':<10}{lax_ms:>12.2f}{1.0:>8.2f}")
    print(f"{'strict':<10}{strict_ms:>12.2f}{strict_ms / lax_ms:>8.2f}")


if __name__ == "__main__":
    main()
