"""Console links and stack names: every value survives the trip through the URL."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from byok import cfn

TEMPLATE_URL = "https://byok.example.com/api/v1/templates/byok-v2.yaml?v=2&x=a b#frag"


def fragment_args(url: str, path: str) -> dict[str, str]:
    fragment = urlsplit(url).fragment
    route, _, query = fragment.partition("?")
    assert route == path
    parsed = parse_qs(query, keep_blank_values=True, strict_parsing=True)
    assert all(len(v) == 1 for v in parsed.values())
    return {k: v[0] for k, v in parsed.items()}


def test_quick_create_url_round_trips_every_value():
    params = {"ExternalId": "ab+c=d,e.f@g:h/i-j", "VaultToken": "T" * 36,
              "RoleName": "Byok&Role=1", "UserMultiRegionCMKKeyId": ""}
    url = cfn.quick_create_url(region="eu-west-1", template_url=TEMPLATE_URL,
                               stack_name="byok-vault-t1", parameters=params)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "eu-west-1.console.aws.amazon.com")
    assert parts.path == "/cloudformation/home"
    assert parse_qs(parts.query) == {"region": ["eu-west-1"]}
    assert fragment_args(url, "/stacks/quickcreate") == {
        "templateURL": TEMPLATE_URL, "stackName": "byok-vault-t1",
        **{f"param_{k}": v for k, v in params.items()}}
    # Nothing that could end or split the fragment is left unencoded.
    query = parts.fragment.partition("?")[2]
    for pair in query.split("&"):
        assert re.fullmatch(r"[A-Za-z_]+=[A-Za-z0-9%._~-]*", pair), pair


def test_update_stack_url_round_trips():
    stack_id = "arn:aws:cloudformation:eu-west-1:123456789012:stack/byok-vault-t1/abc-123"
    url = cfn.update_stack_url(region="eu-west-1", stack_id=stack_id, template_url=TEMPLATE_URL)
    assert urlsplit(url).netloc == "eu-west-1.console.aws.amazon.com"
    assert fragment_args(url, "/stacks/update/template") == {
        "stackId": stack_id, "templateURL": TEMPLATE_URL}


STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")


@pytest.mark.parametrize("tenant", ["t1", "acme-corp", "Acme_Corp", "4f1c2b", "x" * 40,
                                    "___", "tenant/with:odd chars", "ü"])
def test_stack_name_is_valid_and_stable(tenant):
    name = cfn.stack_name_for(tenant)
    assert STACK_NAME.fullmatch(name) and name.startswith("byok-vault-")
    assert name == cfn.stack_name_for(tenant)


def test_stack_names_stay_apart():
    assert cfn.stack_name_for("acme-corp") == "byok-vault-acme-corp"
    names = {cfn.stack_name_for(t) for t in ("acme-corp", "acme_corp", "Acme-Corp", "acme corp")}
    assert len(names) == 4
