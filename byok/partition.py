"""The AWS partition (aws, aws-cn, aws-us-gov, ...) a region belongs to, and ARNs built in it."""

from __future__ import annotations

# Region-name prefixes of the partitions other than the commercial one.
_PREFIXES = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"),
             ("us-iso-", "aws-iso"))


def partition_for(region: str) -> str:
    """The partition of `region`: aws-cn for cn-north-1, aws-us-gov for us-gov-west-1, ..."""
    for prefix, partition in _PREFIXES:
        if region.startswith(prefix):
            return partition
    return "aws"


def arn(region: str, service: str, account: str, resource: str, *,
        arn_region: str | None = None) -> str:
    """An ARN in `region`'s partition. IAM and S3 ARNs carry no region: pass arn_region=""."""
    where = region if arn_region is None else arn_region
    return f"arn:{partition_for(region)}:{service}:{where}:{account}:{resource}"
