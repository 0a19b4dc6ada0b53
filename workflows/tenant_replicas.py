"""Tenant-managed replicas, inside enablement: wait until every connected region holds a
usable replica of the verified primary (the tenant deploys them after the stack), reporting
the regions still missing one; the service never calls ReplicateKey on this path."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.kms import KmsActivities
    from byok.messages import ReplicaCheck, ReplicaReport
    from workflows import policies

if TYPE_CHECKING:
    from workflows.stack_flow import StackFlow

# Re-checks start quickly (a StackSet takes minutes) and slow down to half-hourly: three days
# of waiting stay far below the run's history bound.
FIRST_PAUSE = timedelta(seconds=30)
MAX_PAUSE = timedelta(minutes=30)
REPLICA_WAIT = timedelta(days=3)


async def wait_for_replicas(flow: StackFlow, role_arn: str, key_arn: str,
                            regions: list[str]) -> tuple[dict[str, str], str]:
    """(region -> replica ARN, "") once every region has one; (those found, why) when some
    region still has none after REPLICA_WAIT."""
    await flow.step("checking_replicas", regions=regions)
    deadline, pause = workflow.now() + REPLICA_WAIT, FIRST_PAUSE
    reported: dict[str, dict[str, str]] | None = None
    while True:
        report: ReplicaReport = await flow.activity(
            KmsActivities.check_replicas,
            ReplicaCheck(flow.inp.tenant_id, role_arn, key_arn, regions),
            timeout=policies.REPLICA_TIMEOUT)
        found = {r.region: r.key_arn for r in report.results if r.ok}
        missing = {r.region: {"code": r.error_code, "message": r.error_message}
                   for r in report.results if not r.ok}
        if not missing:
            return found, ""
        if missing != reported:  # the wallet and audit change only when the answer does
            flow.view.step, flow.view.key_errors = "waiting_for_replicas", missing
            # Nothing is bound yet: only the regions still missing one are shown.
            await flow.wallet(step="waiting_for_replicas", key_errors=missing)
            await flow.audit(f"{flow.prefix}.replicas_missing", {"regions": sorted(missing)})
            reported = missing
        if workflow.now() + pause > deadline:
            return found, (f"no usable replica of the key in {', '.join(sorted(missing))} "
                           f"after {REPLICA_WAIT.days} days: "
                           + "; ".join(m["message"] for _, m in sorted(missing.items())))
        await workflow.sleep(pause)
        pause = min(pause * 2, MAX_PAUSE)
