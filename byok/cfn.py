"""The tenant-side CloudFormation templates: loading, rendering, parameter rules, console links."""

from __future__ import annotations

import copy
import hashlib
import re
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import yaml

CURRENT_TEMPLATE_VERSION = 2
LEGACY_TEMPLATE_VERSION = 1
TEMPLATE_VERSIONS = (LEGACY_TEMPLATE_VERSION, CURRENT_TEMPLATE_VERSION)

# Each pattern string below is the template's AllowedPattern verbatim (the tests compare them),
# so the service rejects exactly what CloudFormation would reject.
EXTERNAL_ID_PATTERN = re.compile(r"^[A-Za-z0-9+=,.@:/-]*$")
EXTERNAL_ID_MIN_LENGTH = 8
EXTERNAL_ID_MAX_LENGTH = 128
# The service role may assume only roles named ByokVault* (service.yaml TenantRoleNamePattern):
# the templates' RoleName and the Terraform module's role_name accept no other name.
ROLE_NAME_PREFIX = "ByokVault"
ROLE_NAME_PATTERN = re.compile(r"^ByokVault[A-Za-z0-9_+=,.@-]*$")
_ROLE_NAME_CHARS = re.compile(r"^[A-Za-z0-9_+=,.@-]+$")
ROLE_NAME_MAX_LENGTH = 64
DEFAULT_ROLE_NAME = "ByokVaultKMSRole"
TOKEN_LENGTH = 36
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9-]{36}$")
KEY_ID_PARAM_PATTERN = re.compile(
    r"^(|mrk-[0-9a-f]{32}|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/mrk-[0-9a-f]{32})$")

# The placeholders in the packaged templates' Mappings, replaced by render_template.
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::111122223333:role/ByokVaultService"
PLACEHOLDER_TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:byok-vault-stack-callbacks"
SERVICE_ROLE_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$")
TOPIC_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$")

STACK_NAME_PREFIX = "byok-vault-"
_STACK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short-form tags as their long (JSON) form."""


def _intrinsic(name: str, *, split_dotted: bool = False) -> Any:
    def construct(loader: CfnLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            # !GetAtt Role.Arn is shorthand for ["Role", "Arn"]
            if split_dotted:
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}
    return construct


for _tag in ("Base64", "Cidr", "FindInMap", "GetAZs", "ImportValue", "Join", "Select", "Split",
             "Sub", "Transform", "And", "Equals", "If", "Not", "Or", "ToJsonString", "Length"):
    CfnLoader.add_constructor(f"!{_tag}", _intrinsic(f"Fn::{_tag}"))
CfnLoader.add_constructor("!GetAtt", _intrinsic("Fn::GetAtt", split_dotted=True))
CfnLoader.add_constructor("!Ref", _intrinsic("Ref"))
CfnLoader.add_constructor("!Condition", _intrinsic("Condition"))


def _check_version(version: int) -> int:
    if version not in TEMPLATE_VERSIONS:
        raise ValueError(f"unknown template version {version!r}; known: {TEMPLATE_VERSIONS}")
    return version


@cache
def template_text(version: int) -> str:
    """The packaged YAML, placeholders included."""
    name = f"byok-v{_check_version(version)}.yaml"
    return resources.files("byok").joinpath("templates", name).read_text(encoding="utf-8")


REPLICAS_TEMPLATE = "byok-v2-replicas.yaml"
REPLICA_MANAGEMENT = ("service", "tenant")


@cache
def replicas_template_text() -> str:
    """The StackSet template of tenant-managed replicas (no service values to fill in)."""
    return resources.files("byok").joinpath("templates", REPLICAS_TEMPLATE).read_text(
        encoding="utf-8")


def parse_template(text: str) -> dict[str, Any]:
    doc = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    if not isinstance(doc, dict):
        raise ValueError("a CloudFormation template must be a YAML mapping")
    return doc


@cache
def _parsed(version: int) -> dict[str, Any]:
    return parse_template(template_text(version))


def load_template(version: int) -> dict[str, Any]:
    """The packaged template as a dict (long-form intrinsics); a copy the caller may change."""
    return copy.deepcopy(_parsed(version))


def template_parameters(version: int) -> dict[str, Any]:
    params: dict[str, Any] = load_template(version)["Parameters"]
    return params


def render_template(version: int, service_role_arn: str, callback_topic_arn: str) -> str:
    """The YAML the tenant deploys: the packaged text with our role and topic ARNs filled in.

    Text substitution keeps the comments and layout the tenant reads; the ARNs are checked
    first so nothing but an ARN can reach the YAML."""
    return render_text(template_text(version), f"v{version}", service_role_arn,
                       callback_topic_arn)


def render_text(text: str, what: str, service_role_arn: str, callback_topic_arn: str) -> str:
    """Fill our role and topic ARNs into a packaged template's Mappings placeholders."""
    if not SERVICE_ROLE_ARN_PATTERN.fullmatch(service_role_arn):
        raise ValueError(f"{service_role_arn!r} is not an IAM role ARN")
    if not TOPIC_ARN_PATTERN.fullmatch(callback_topic_arn):
        raise ValueError(f"{callback_topic_arn!r} is not an SNS topic ARN")
    for placeholder in (PLACEHOLDER_ROLE_ARN, PLACEHOLDER_TOPIC_ARN):
        if text.count(f'"{placeholder}"') != 1:
            raise RuntimeError(f"template {what} must hold the placeholder {placeholder} once")
    return (text.replace(f'"{PLACEHOLDER_ROLE_ARN}"', f'"{service_role_arn}"')
            .replace(f'"{PLACEHOLDER_TOPIC_ARN}"', f'"{callback_topic_arn}"'))


def validate_external_id(value: str) -> str:
    if len(value) < EXTERNAL_ID_MIN_LENGTH:
        raise ValueError(f"the ExternalId is too short: {len(value)} characters, "
                         f"at least {EXTERNAL_ID_MIN_LENGTH} needed")
    if len(value) > EXTERNAL_ID_MAX_LENGTH:
        raise ValueError(f"the ExternalId is too long: {len(value)} characters, "
                         f"at most {EXTERNAL_ID_MAX_LENGTH} allowed")
    _check_chars("ExternalId", value, EXTERNAL_ID_PATTERN, "letters, digits and +=,.@:/-")
    return value


def validate_role_name(value: str) -> str:
    if not value:
        raise ValueError("the role name is empty")
    if len(value) > ROLE_NAME_MAX_LENGTH:
        raise ValueError(f"the role name is too long: {len(value)} characters, "
                         f"at most {ROLE_NAME_MAX_LENGTH} allowed")
    _check_chars("role name", value, _ROLE_NAME_CHARS, "letters, digits and _+=,.@-")
    if not value.startswith(ROLE_NAME_PREFIX):
        raise ValueError(f"the role name {value!r} does not start with {ROLE_NAME_PREFIX}: the "
                         f"byok-vault service may assume only roles named {ROLE_NAME_PREFIX}*")
    return value


def validate_key_id_param(value: str) -> str:
    """UserMultiRegionCMKKeyId: empty (the stack creates the key), an mrk- key id, or its ARN."""
    if not KEY_ID_PARAM_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} is not a multi-Region key id (mrk- and 32 hex digits) or the "
                         "ARN of one; leave it empty to have the stack create the key")
    return value


def key_id_from_param(value: str) -> str:
    """The mrk- key id in a UserMultiRegionCMKKeyId value (as the template derives it)."""
    return validate_key_id_param(value).rsplit("/", 1)[-1]


def _check_chars(what: str, value: str, pattern: re.Pattern[str], allowed: str) -> None:
    # fullmatch, not match: "$" alone would accept a trailing newline.
    if pattern.fullmatch(value):
        return
    bad = next((c for c in value if not pattern.fullmatch(c)), value)
    raise ValueError(f"the {what} has a character that is not allowed: {bad!r} "
                     f"(only {allowed})")


def _console(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudformation/home?region={quote(region)}"


def _fragment(path: str, pairs: list[tuple[str, str]]) -> str:
    # The console reads its arguments from the URL fragment; encode everything, "/" and ":"
    # included, so a value can never end the fragment or add an argument.
    return f"#{path}?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def quick_create_url(*, region: str, template_url: str, stack_name: str,
                     parameters: dict[str, str]) -> str:
    """The console's quick-create link with the template and parameters prefilled."""
    pairs = [("templateURL", template_url), ("stackName", stack_name)]
    pairs += [(f"param_{name}", value) for name, value in parameters.items()]
    return _console(region) + _fragment("/stacks/quickcreate", pairs)


def update_stack_url(*, region: str, stack_id: str, template_url: str) -> str:
    """The console's page that updates an existing stack (by name or ARN) to a new template;
    the tenant keeps the stack's current parameter values there."""
    # AWS documents only the quick-create route; this one is widely used but undocumented,
    # so a console change can break it (the template URL stays shown for a manual update).
    pairs = [("stackId", stack_id), ("templateURL", template_url)]
    return _console(region) + _fragment("/stacks/update/template", pairs)


def stack_name_for(tenant_id: str) -> str:
    """A stable, valid stack name for a tenant: byok-vault-<tenant id, cleaned>."""
    short = re.sub(r"[^a-z0-9]+", "-", tenant_id.lower()).strip("-")[:40]
    if short != tenant_id:
        # Cleaning can map two ids to one name; a digest of the real id keeps them apart.
        digest = hashlib.sha256(tenant_id.encode()).hexdigest()[:8]
        short = f"{short}-{digest}" if short else digest
    name = STACK_NAME_PREFIX + short
    assert _STACK_NAME_RE.fullmatch(name), name
    return name
