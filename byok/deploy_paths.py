"""The three ways a tenant deploys its side (quick-create link, manual CloudFormation,
Terraform), with every value filled in: what the console's Encryption Key page and
`byok enable` show once a token is issued. Pure text; nothing here calls AWS."""

from __future__ import annotations

from typing import Any

from byok import cfn, template_store
from byok.settings import Settings

TOKEN_VARIABLE = "byok_vault_token"  # noqa: S105 - a variable name, not a secret


def module_source(settings: Settings) -> str:
    """Where Terraform fetches terraform/byok-vault: a setting, else the console's zip."""
    return settings.terraform_module_source or \
        f"{settings.public_url.rstrip('/')}/api/v1/terraform/byok-vault.zip"


def _alias(region: str) -> str:
    return region.replace("-", "_")


def terraform_snippet(settings: Settings, *, external_id: str, regions: list[str]) -> str:
    """A root module that calls ours: the token comes in through a sensitive variable (set
    TF_VAR_byok_vault_token), never written in the file; the commented part is the
    tenant-managed replica option, one provider alias per connected region."""
    source = module_source(settings)
    home = settings.control_plane_region
    others = [r for r in regions if r != home]
    lines = [
        f'variable "{TOKEN_VARIABLE}" {{',
        "  type      = string",
        "  sensitive = true # export TF_VAR_byok_vault_token=<the token shown once>",
        "}",
        "",
        'provider "aws" {',
        f'  region = "{home}"',
        "}",
        "",
        'module "byok_vault" {',
        f'  source = "{source}"',
        "",
        f'  external_id        = "{external_id}"',
        f"  vault_token        = var.{TOKEN_VARIABLE}",
        f'  service_role_arn   = "{settings.service_role_arn}"',
        f'  callback_topic_arn = "{settings.callback_topic_arn}"',
        '  # replica_management = "tenant" # you create the replicas (below), not byok-vault',
        "}",
    ]
    if others:
        lines += ["", "# Only with replica_management = \"tenant\": one replica per connected "
                  "Region."]
        for region in others:
            lines += [
                '# provider "aws" {',
                f'#   alias  = "{_alias(region)}"',
                f'#   region = "{region}"',
                "# }",
                f'# module "byok_vault_replica_{_alias(region)}" {{',
                f'#   source          = "{source}//modules/replica"',
                f"#   providers       = {{ aws = aws.{_alias(region)} }}",
                "#   primary_key_arn = module.byok_vault.key_arn",
                "# }",
            ]
    return "\n".join(lines) + "\n"


def stackset_commands(settings: Settings, *, account_id: str, regions: list[str]) -> str:
    """Tenant-managed replicas with CloudFormation: a StackSet of byok-v2-replicas.yaml,
    one instance per connected region (after the stack, whose KeyArn output it needs)."""
    home = settings.control_plane_region
    others = [r for r in regions if r != home]
    return (
        f"aws cloudformation create-stack-set --region {home} "
        "--stack-set-name byok-vault-replicas "
        f"--template-url {template_store.replicas_url(settings)} "
        "--parameters ParameterKey=PrimaryKeyArn,ParameterValue=<KeyArn output of the stack>\n"
        f"aws cloudformation create-stack-instances --region {home} "
        f"--stack-set-name byok-vault-replicas --accounts {account_id} "
        f"--regions {' '.join(others) or '(none: only one connected Region)'}\n")


def paths(settings: Settings, issued: dict[str, Any], regions: list[str]) -> dict[str, Any]:
    """The three paths for an issued token (`Issued.public()`) and the account's regions."""
    external_id, account = issued["external_id"], issued["account_native_id"]
    return {
        "regions": regions,
        "quick_create": {"url": issued["deployment_url"]},
        "cloudformation": {
            "template_url": issued["template_url"],
            "parameters": {"ExternalId": external_id, "VaultToken": issued["token"],
                           "RoleName": cfn.DEFAULT_ROLE_NAME + " (optional)",
                           "UserMultiRegionCMKKeyId": "(optional)",
                           "ReplicaManagement": "service (default) or tenant"},
            "replicas_template_url": template_store.replicas_url(settings),
            "replicas_commands": stackset_commands(settings, account_id=account,
                                                   regions=regions),
        },
        "terraform": {
            "module_source": module_source(settings),
            "snippet": terraform_snippet(settings, external_id=external_id, regions=regions),
            "apply": f"export TF_VAR_{TOKEN_VARIABLE}='<the token>'\nterraform init\n"
                     "terraform apply",
        },
    }
