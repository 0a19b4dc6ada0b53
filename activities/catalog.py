"""CatalogActivities: the database side of the workflows (wallet, bindings, tenants)."""

from __future__ import annotations

import dataclasses

from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio import activity

from activities.base import byok_errors
from byok import audit, backups, cfn, crud, enablement
from byok.db import session_scope
from byok.errors import Conflict, InvalidInput, NotFound, NotYetRecorded
from byok.messages import (
    BackupInput,
    BackupPlan,
    BackupResult,
    Done,
    FreezeInput,
    Preflight,
    RestoreInput,
    RestorePlan,
    RestoreResult,
    TenantRef,
    WalletUpdate,
)
from byok.models import EnableToken, KeyBinding, Wallet, utcnow
from byok.settings import Settings


class CatalogActivities:
    def __init__(self, engine: Engine, settings: Settings):
        self.engine = engine
        self.settings = settings

    @activity.defn
    @byok_errors
    def preflight(self, ref: TenantRef) -> Preflight:
        with session_scope(self.engine) as session:
            # The start commits the token only after the run started: until it is there,
            # the wallet may be missing or an earlier run's (retried, not failed).
            token = session.exec(select(EnableToken).where(
                EnableToken.tenant_id == ref.tenant_id,
                EnableToken.workflow_id == activity.info().workflow_id,
                EnableToken.voided_at == None)).first()  # noqa: E711
            wallet = session.get(Wallet, ref.tenant_id)
            if token is None or wallet is None or wallet.account_native_id is None:
                raise NotYetRecorded(f"no enablement is recorded yet for tenant {ref.tenant_id}")
            regions = crud.connected_regions(session, tenant_id=ref.tenant_id,
                                             account_id=wallet.account_native_id)
            return Preflight(ref.tenant_id, wallet.account_native_id, regions,
                             self.settings.control_plane_region, cfn.CURRENT_TEMPLATE_VERSION)

    @activity.defn
    @byok_errors
    def update_wallet(self, upd: WalletUpdate) -> Done:
        with session_scope(self.engine) as session:
            wallet = session.get(Wallet, upd.tenant_id)
            if wallet is None:
                raise NotFound(f"no wallet for tenant {upd.tenant_id}")
            for name in ("state", "error_code", "error_message", "account_native_id", "role_arn",
                         "key_arn", "replica_key_arns", "installed_regions", "key_errors",
                         "stack_version", "replica_management"):
                value = getattr(upd, name)
                if value is not None:
                    setattr(wallet, name, value)
            if upd.state == "Enabled":
                wallet.error_code = wallet.error_message = None
            if upd.step and (not wallet.progress or wallet.progress[-1]["step"] != upd.step):
                wallet.progress = [*wallet.progress,
                                   {"step": upd.step, "at": utcnow().isoformat()}]
            wallet.updated_at = utcnow()
            session.add(wallet)
            if upd.void_token:
                enablement.void_token(session, upd.tenant_id)
        return Done()

    @activity.defn
    @byok_errors
    def freeze_binding(self, inp: FreezeInput) -> Done:
        """Commit the binding once; a retry with the same values is a no-op, any other refused."""
        with session_scope(self.engine) as session:
            wallet = session.get(Wallet, inp.tenant_id)
            external_id = wallet.external_id if wallet else None
            if not external_id:
                raise NotFound(f"no ExternalId on record for tenant {inp.tenant_id}")
            current = enablement.binding(session, inp.tenant_id)
            if current is not None:
                if current.key_arn == inp.key_arn and current.account_id == inp.account_id:
                    return Done()
                if current.template_version >= inp.template_version:
                    raise Conflict("the BYOK binding is frozen: key and account cannot change",
                                   code="BINDING_FROZEN")
            generation = current.generation + 1 if current else 1
            session.add(KeyBinding(
                tenant_id=inp.tenant_id, generation=generation, account_id=inp.account_id,
                role_arn=inp.role_arn, external_id=external_id, key_arn=inp.key_arn,
                primary_region=inp.primary_region, multi_region=inp.multi_region,
                replica_key_arns=dict(inp.replica_key_arns),
                template_version=inp.template_version))
            session.flush()
            audit.append(session, tenant_id=inp.tenant_id, actor="workflow",
                         action="wallet.binding_frozen",
                         details={"generation": generation, "account_id": inp.account_id,
                                  "role_arn": inp.role_arn, "key_arn": inp.key_arn,
                                  "replicas": inp.replica_key_arns,
                                  "template_version": inp.template_version},
                         event_key=f"binding-frozen-{generation}")
        return Done()

    @activity.defn
    @byok_errors
    def plan_backup(self, inp: BackupInput) -> BackupPlan:
        try:
            with session_scope(self.engine) as session:
                plan = backups.plan_backup(session, self.settings, inp)
        except InvalidInput as exc:
            if exc.field == "source":  # refused by the worker: recorded, then failed for good
                with session_scope(self.engine) as session:
                    backups.refuse_backup(session, inp, exc)
            raise
        return dataclasses.replace(plan, heartbeat_seconds=self.settings.transfer_heartbeat_seconds)

    @activity.defn
    @byok_errors
    def finish_backup(self, result: BackupResult) -> Done:
        with session_scope(self.engine) as session:
            backups.finish_backup(session, result)
        return Done()

    @activity.defn
    @byok_errors
    def plan_restore(self, inp: RestoreInput) -> RestorePlan:
        try:
            with session_scope(self.engine) as session:
                plan = backups.plan_restore(session, self.settings, inp)
        except InvalidInput as exc:
            if exc.field == "target":
                with session_scope(self.engine) as session:
                    backups.refuse_restore(session, inp, exc)
            raise
        return dataclasses.replace(plan, heartbeat_seconds=self.settings.transfer_heartbeat_seconds)

    @activity.defn
    @byok_errors
    def finish_restore(self, result: RestoreResult) -> Done:
        with session_scope(self.engine) as session:
            backups.finish_restore(session, result)
        return Done()
