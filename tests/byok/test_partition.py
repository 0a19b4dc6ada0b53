"""The AWS partition follows the region; ARNs the service builds carry it."""

import pytest

from byok.errors import InvalidSettings
from byok.partition import arn, partition_for
from byok.settings import load_settings


@pytest.mark.parametrize(("region", "partition"), [
    ("us-east-1", "aws"), ("eu-west-1", "aws"), ("cn-north-1", "aws-cn"),
    ("cn-northwest-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("us-iso-east-1", "aws-iso"),
    ("us-isob-east-1", "aws-iso-b")])
def test_partition_of_region(region, partition):
    assert partition_for(region) == partition


def test_arn_has_the_partition_and_iam_has_no_region():
    assert arn("cn-north-1", "sns", "123456789012", "t") == (
        "arn:aws-cn:sns:cn-north-1:123456789012:t")
    assert arn("us-gov-west-1", "iam", "123456789012", "role/r", arn_region="") == (
        "arn:aws-us-gov:iam::123456789012:role/r")


def test_settings_arns_follow_the_control_plane_region():
    s = load_settings(control_plane_region="us-gov-west-1", service_account_id="210987654321")
    assert s.partition == "aws-us-gov"
    assert s.service_role_arn == "arn:aws-us-gov:iam::210987654321:role/ByokVaultService"
    assert s.callback_topic_arn.startswith("arn:aws-us-gov:sns:us-gov-west-1:210987654321:")
    assert s.role_arn("444455556666", "R") == "arn:aws-us-gov:iam::444455556666:role/R"
    assert s.key_arn("cn-north-1", "444455556666", "mrk-1").startswith("arn:aws-cn:kms:")


@pytest.mark.parametrize(("field", "value"), [
    ("vault_bucket", "Has_Upper"), ("template_bucket", "ab"), ("vault_bucket", "a..b"),
    ("callback_queue_name", "x" * 77), ("template_prefix", "no-slash"),
    ("tenant_role_name_pattern", "bad/name")])
def test_bad_names_are_refused_naming_the_variable(field, value):
    with pytest.raises(InvalidSettings, match=f"BYOK_{field.upper()}"):
        load_settings(**{field: value})
