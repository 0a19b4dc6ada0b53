"""Parameter rules in byok.cfn agree with the templates and explain every rejection."""

import re

import pytest

from byok import cfn


def test_external_id_too_short():
    with pytest.raises(ValueError, match=r"too short: 5 characters, at least 8"):
        cfn.validate_external_id("short")


def test_external_id_with_space_names_the_character():
    with pytest.raises(ValueError, match=r"not allowed: ' '"):
        cfn.validate_external_id("has space")


def test_external_id_too_long():
    with pytest.raises(ValueError, match=r"too long: 129 characters, at most 128"):
        cfn.validate_external_id("a" * 129)


@pytest.mark.parametrize("bad", ["abcdefgh\n", "abcdefgh!", "abcdéfgh", "abcd_efgh"])
def test_external_id_other_bad_characters(bad):
    with pytest.raises(ValueError, match="not allowed"):
        cfn.validate_external_id(bad)


@pytest.mark.parametrize("good", ["a" * 8, "b" * 128, "Az09+=,.@:/-xyz"])
def test_external_id_accepted(good):
    assert cfn.validate_external_id(good) == good


@pytest.mark.parametrize("version", cfn.TEMPLATE_VERSIONS)
def test_patterns_are_the_templates_own(version):
    params = cfn.template_parameters(version)
    assert params["ExternalId"]["AllowedPattern"] == cfn.EXTERNAL_ID_PATTERN.pattern
    assert params["ExternalId"]["MinLength"] == cfn.EXTERNAL_ID_MIN_LENGTH
    assert params["ExternalId"]["MaxLength"] == cfn.EXTERNAL_ID_MAX_LENGTH
    assert params["RoleName"]["AllowedPattern"] == cfn.ROLE_NAME_PATTERN.pattern
    assert params["RoleName"]["MaxLength"] == cfn.ROLE_NAME_MAX_LENGTH
    assert params["RoleName"]["Default"] == cfn.DEFAULT_ROLE_NAME
    assert params["VaultToken"]["AllowedPattern"] == cfn.TOKEN_PATTERN.pattern
    assert params["VaultToken"]["MinLength"] == cfn.TOKEN_LENGTH


def test_key_id_pattern_is_the_templates_own():
    param = cfn.template_parameters(2)["UserMultiRegionCMKKeyId"]
    assert param["AllowedPattern"] == cfn.KEY_ID_PARAM_PATTERN.pattern


def test_issued_tokens_fit_the_template():
    from byok.enablement import new_token

    for _ in range(50):
        assert cfn.TOKEN_PATTERN.fullmatch(new_token())
    assert cfn.TOKEN_PATTERN.fullmatch("123e4567-e89b-12d3-a456-426614174000")


def test_role_name_rules():
    assert cfn.validate_role_name(cfn.DEFAULT_ROLE_NAME) == "ByokVaultKMSRole"
    assert cfn.validate_role_name("ByokVault" + "a" * 55)
    with pytest.raises(ValueError, match="does not start with ByokVault: the byok-vault service"):
        cfn.validate_role_name("MyKmsRole")
    with pytest.raises(ValueError, match="empty"):
        cfn.validate_role_name("")
    with pytest.raises(ValueError, match="too long: 65 characters, at most 64"):
        cfn.validate_role_name("a" * 65)
    with pytest.raises(ValueError, match=r"not allowed: '/'"):
        cfn.validate_role_name("ByokVault/role")


MRK = "mrk-" + "0123456789abcdef" * 2


@pytest.mark.parametrize("good", ["", MRK, f"arn:aws:kms:eu-west-1:123456789012:key/{MRK}",
                                  f"arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/{MRK}"])
def test_key_id_param_accepted(good):
    assert cfn.validate_key_id_param(good) == good


@pytest.mark.parametrize("bad", [
    "1234abcd-12ab-34cd-56ef-1234567890ab",  # a single-Region key id
    MRK.upper(), MRK + "0", "alias/backups", f"arn:aws:kms:eu-west-1:123456789012:alias/{MRK}",
    f"arn:aws:kms:eu-west-1:1234:key/{MRK}", MRK + "\n",
])
def test_key_id_param_rejected(bad):
    with pytest.raises(ValueError, match="not a multi-Region key id"):
        cfn.validate_key_id_param(bad)


def test_key_id_from_param():
    assert cfn.key_id_from_param(MRK) == MRK
    assert cfn.key_id_from_param(f"arn:aws:kms:eu-west-1:123456789012:key/{MRK}") == MRK
    assert cfn.key_id_from_param("") == ""


def test_load_template_reads_short_form_tags():
    doc = cfn.load_template(2)
    role = doc["Resources"]["Role"]["Properties"]
    assert role["RoleName"] == {"Ref": "RoleName"}
    assert doc["Outputs"]["RoleArn"]["Value"] == {"Fn::GetAtt": ["Role", "Arn"]}
    assert doc["Conditions"]["CreateKey"] == {"Fn::Equals": [{"Ref": "UserMultiRegionCMKKeyId"},
                                                             ""]}
    # load_template hands out copies: a caller's change does not leak into the next load.
    role["RoleName"] = "changed"
    assert cfn.load_template(2)["Resources"]["Role"]["Properties"]["RoleName"] == {
        "Ref": "RoleName"}


def test_parse_template_handles_every_short_form():
    doc = cfn.parse_template(
        "A: !Not [!Equals [!Ref X, '']]\nB: !GetAtt [R, Arn]\nC: !Sub 'x-${Y}'\n"
        "D: !If [C, !FindInMap [M, K, V], !Select [0, !Split [',', !Join [',', [a, b]]]]]\n"
        "E: !And [!Condition C, !Or [!Condition D]]\nF: !Base64 {Ref: Z}\n")
    assert doc == {
        "A": {"Fn::Not": [{"Fn::Equals": [{"Ref": "X"}, ""]}]},
        "B": {"Fn::GetAtt": ["R", "Arn"]}, "C": {"Fn::Sub": "x-${Y}"},
        "D": {"Fn::If": ["C", {"Fn::FindInMap": ["M", "K", "V"]}, {"Fn::Select": [
            0, {"Fn::Split": [",", {"Fn::Join": [",", ["a", "b"]]}]}]}]},
        "E": {"Fn::And": [{"Condition": "C"}, {"Fn::Or": [{"Condition": "D"}]}]},
        "F": {"Fn::Base64": {"Ref": "Z"}}}


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="unknown template version 3"):
        cfn.load_template(3)


@pytest.mark.parametrize(("role", "topic"), [
    ("arn:aws:iam::111122223333:root", "arn:aws:sns:us-east-1:111122223333:t"),
    ('arn:aws:iam::111122223333:role/x"\nEvil: 1', "arn:aws:sns:us-east-1:111122223333:t"),
    ("arn:aws:iam::111122223333:role/x", "arn:aws:sqs:us-east-1:111122223333:t"),
])
def test_render_refuses_what_is_not_an_arn(role, topic):
    with pytest.raises(ValueError, match="is not an"):
        cfn.render_template(2, role, topic)


def test_render_keeps_the_packaged_text_apart_from_the_arns():
    role = "arn:aws:iam::999988887777:role/Svc"
    topic = "arn:aws:sns:eu-west-1:999988887777:cb"
    rendered = cfn.render_template(1, role, topic)
    assert rendered.replace(role, cfn.PLACEHOLDER_ROLE_ARN).replace(
        topic, cfn.PLACEHOLDER_TOPIC_ARN) == cfn.template_text(1)
    assert re.search(r"^# byok-vault tenant stack", rendered)
