"""What a request touches, read from moto's backends: identity policies of the caller, the
resource's policy and tags, and the account that owns it (KMS keys, queues, topics, buckets)."""

from __future__ import annotations

import base64
from typing import Any

from .accounts import Caller
from .authz import Check
from .operations import Request, action_and_resource


def _iam(account: str, partition: str = "aws") -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account][partition]


def _managed(policy: Any) -> str:
    return next(v.document for v in policy.versions if v.is_default)


def identity_policies(caller: Caller) -> list[Any]:
    """Inline and attached policies of the caller's role or user (and the user's groups)."""
    backend = _iam(caller.account)
    try:
        if caller.role_arn:
            role = backend.get_role_by_arn(caller.role_arn)
            return [*role.policies.values(), *map(_managed, role.managed_policies.values())]
        user = backend.get_user(caller.arn.rsplit("/", 1)[-1])
    except Exception:  # noqa: BLE001 - a deleted role or user has no policies left
        return []
    docs = [*user.policies.values(), *map(_managed, user.managed_policies.values())]
    for group in backend.get_groups_for_user(user.name):
        docs += [*group.policies.values(), *map(_managed, group.managed_policies.values())]
    return docs


def _kms_key(req: Request, value: str, region: str | None = None) -> tuple[str, str, Any]:
    """(account, region, moto key or None) of a key id, key ARN, alias or alias ARN."""
    from moto.kms.models import kms_backends

    account, region = req.account, region or req.region
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) == 6:
            region, account = parts[3], parts[4]
            value = parts[5]
    regions: Any = dict.get(kms_backends, account)
    backend: Any = regions[region] if regions is not None else None
    if backend is None:
        return account, region, None
    if value.startswith("alias/"):
        key_id = backend.get_key_id_from_alias(value)
    else:
        key_id = value.removeprefix("key/")
    return account, region, backend.keys.get(key_id) if key_id else None


def _key_check(req: Request, action: str, key_ref: str, context: dict[str, list[str]],
               region: str | None = None) -> Check | None:
    account, region, key = _kms_key(req, key_ref, region)
    if key is None:
        if account != req.account:  # another account's key: KMS denies, it never says NotFound
            arn = key_ref if key_ref.startswith("arn:") else req.arn("kms", f"key/{key_ref}")
            return Check(action, arn, account, resource_policy=None, policy_required=True)
        return None  # moto answers NotFoundException
    from moto.kms.models import kms_backends

    backend = kms_backends[account][region]

    def tags() -> dict[str, str]:
        listed = backend.list_resource_tags(key.id).get("Tags", [])
        return {t["TagKey"]: t["TagValue"] for t in listed}

    mr = key.multi_region_configuration.get("MultiRegionKeyType") if key.multi_region else None
    ctx = dict(context)
    ctx["kms:MultiRegion"] = ["true" if key.multi_region else "false"]
    if mr:
        ctx["kms:MultiRegionKeyType"] = [mr]
    # The aliases of the key itself (a multi-valued key: policies use ForAnyValue with it).
    ctx["kms:ResourceAliases"] = sorted(key.aliases)
    return Check(action, key.arn, account, resource_policy=key.policy, policy_required=True,
                 context=ctx, tags=tags)


def _ciphertext_key(req: Request, name: str) -> str | None:
    from .kms_fixes import key_id_in_ciphertext

    try:
        blob = base64.b64decode(str(req.params.get(name, "")))
    except ValueError:
        return None
    return key_id_in_ciphertext(blob)


def _kms_checks(req: Request, action: str) -> list[Check]:
    op, p = req.operation, req.params
    ctx: dict[str, list[str]] = {}
    encryption_context = p.get("EncryptionContext") or {}
    if isinstance(encryption_context, dict) and encryption_context:
        ctx["kms:EncryptionContextKeys"] = list(encryption_context)
        for k, v in encryption_context.items():
            ctx[f"kms:EncryptionContext:{k}"] = [str(v)]
    tags = {t.get("TagKey"): t.get("TagValue") for t in p.get("Tags") or [] if isinstance(t, dict)}
    if tags:
        ctx["aws:TagKeys"] = [str(k) for k in tags]
        ctx.update({f"aws:RequestTag/{k}": [str(v)] for k, v in tags.items()})
    if op in ("CreateKey", "ListKeys", "ListAliases", "GenerateRandom"):
        if op == "CreateKey":
            multi = bool(p.get("MultiRegion"))
            ctx["kms:MultiRegion"] = ["true" if multi else "false"]
            if multi:
                ctx["kms:MultiRegionKeyType"] = ["PRIMARY"]
        return [Check(action, "*", req.account, context=ctx)]
    if op == "ReplicateKey":
        replica = str(p.get("ReplicaRegion", ""))
        ctx["kms:ReplicaRegion"] = [replica]
        primary = _key_check(req, action, str(p.get("KeyId", "")), ctx)
        # The replica is created in its region: kms:CreateKey there, and kms:TagResource for
        # Tags - both on a key that does not exist yet, so only "*" resources grant them.
        replica_ctx = {**ctx, "kms:MultiRegionKeyType": ["REPLICA"], "kms:MultiRegion": ["true"],
                       "aws:RequestedRegion": [replica]}
        out = [c for c in (primary,) if c is not None]
        out.append(Check("kms:CreateKey", "*", req.account, context=replica_ctx))
        if tags:
            out.append(Check("kms:TagResource", "*", req.account, context=replica_ctx))
        return out
    if op == "ReEncrypt":
        source = p.get("SourceKeyId") or _ciphertext_key(req, "CiphertextBlob")
        dest = str(p.get("DestinationKeyId", ""))
        checks = [_key_check(req, "kms:ReEncryptFrom", str(source), ctx) if source else None,
                  _key_check(req, "kms:ReEncryptTo", dest, ctx) if dest else None]
        return [c for c in checks if c is not None]
    ref = p.get("KeyId") or p.get("TargetKeyId")
    if op == "Decrypt" and not ref:
        ref = _ciphertext_key(req, "CiphertextBlob")
    if op == "DeleteAlias" or (op == "UpdateAlias" and not ref):
        ref = p.get("AliasName")
    check = _key_check(req, action, str(ref), ctx) if ref else None
    return [check] if check is not None else []


def _sns_topic(arn: str) -> Any:
    from moto.sns.models import sns_backends

    parts = arn.split(":")
    if len(parts) < 6:
        return None
    backend = dict.get(sns_backends, parts[4])
    return backend[parts[3]].topics.get(arn) if backend is not None else None


def _sqs_queue(arn: str) -> Any:
    from moto.sqs.models import sqs_backends

    parts = arn.split(":")
    backend = dict.get(sqs_backends, parts[4]) if len(parts) == 6 else None
    return backend[parts[3]].queues.get(parts[5]) if backend is not None else None


def bucket_of(arn: str) -> tuple[str | None, Any]:
    from moto.s3.models import s3_backends

    name = arn.split(":::", 1)[-1].split("/", 1)[0]
    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None, None
    partition, account = owner
    return account, s3_backends[account][partition].buckets.get(name)


def checks_for(req: Request) -> list[Check]:
    """The permissions a request needs (empty: nothing to check)."""
    if (req.service, req.operation) == ("sts", "GetCallerIdentity"):
        return []  # always allowed, even under an explicit Deny
    action, resource = action_and_resource(req)
    if req.service == "kms":
        return _kms_checks(req, action)
    account = resource.split(":")[4] if resource.count(":") >= 5 else req.account
    check = Check(action, resource, account or None)
    if action == "sts:AssumeRole":
        check.policy_required = True
        check.resource_account = account
        try:
            role = _iam(account).get_role_by_arn(resource)
            check.resource_policy = role.assume_role_policy_document
        except Exception:  # noqa: BLE001 - no such role: nothing trusts the caller
            check.resource_policy = None
        if req.params.get("ExternalId") is not None:
            check.context["sts:ExternalId"] = [str(req.params["ExternalId"])]
    elif req.service == "sns" and resource != "*":
        topic = _sns_topic(resource)
        check.resource_policy = topic.policy if topic is not None else None
    elif req.service == "sqs" and resource != "*":
        queue = _sqs_queue(resource)
        check.resource_policy = queue.policy if queue is not None else None
    elif req.service == "s3" and resource != "*":
        owner, bucket = bucket_of(resource)
        check.resource_account = owner if bucket is not None else req.account
        raw = bucket.policy if bucket is not None else None
        check.resource_policy = raw.decode() if isinstance(raw, bytes) else raw
    return [check]


def owner_of(req: Request, checks: list[Check]) -> str | None:
    """The other account whose resource the request acts on (moto must serve it from there)."""
    for check in checks:
        if check.resource_account and check.resource_account != req.account and \
                req.service in ("kms", "sns", "sqs"):
            return check.resource_account
    return None

