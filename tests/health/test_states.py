"""Health states from findings, with no AWS: per region, overall, and what makes an alert."""

from __future__ import annotations

from byok import health
from byok.health_messages import Finding, HealthReport, RegionHealth


def region(name: str, *codes: str, primary: bool = False, gen: int = 1) -> RegionHealth:
    findings = [Finding(c, health.finding_state(c), name, f"arn-{name}", gen, c) for c in codes]
    return RegionHealth(gen, name, f"arn-{name}", primary, health.region_state(findings),
                        findings)


def test_each_code_maps_to_its_state() -> None:
    assert health.region_state([]) == "Healthy"
    expected = {"KEY_PENDING_DELETION": "AtRisk", "KEY_PENDING_REPLICA_DELETION": "AtRisk",
                "KEY_DISABLED": "Unavailable", "KEY_ACCESS_DENIED": "Unavailable",
                "ROLE_ACCESS_LOST": "Unavailable", "REPLICA_MISSING": "Unavailable",
                "REPLICA_DISABLED": "Unavailable", "DRILL_FAILED": "Unavailable",
                "KEY_DELETED": "Lost", "ACCOUNT_LOST": "Lost",
                "ROLE_EXTERNAL_ID_NOT_ENFORCED": "Healthy"}
    assert {c: health.finding_state(c) for c in expected} == expected


def test_overall_state_rules() -> None:
    ok = [region("us-east-1", primary=True), region("us-west-2"), region("eu-west-1")]
    assert health.overall_state(ok) == "Healthy"
    one_replica = [ok[0], region("us-west-2", "REPLICA_DISABLED"), ok[2]]
    assert health.overall_state(one_replica) == "Degraded"
    primary = [region("us-east-1", "KEY_PENDING_REPLICA_DELETION", primary=True), *ok[1:]]
    assert health.overall_state(primary) == "AtRisk"
    everywhere = [region(r.region, "ACCOUNT_LOST", primary=r.primary) for r in ok]
    assert health.overall_state(everywhere) == "Lost"
    legacy_lost = [*ok, region("us-east-1", "KEY_DELETED", primary=True, gen=0)]
    assert health.overall_state(legacy_lost) == "Lost"  # old backups are lost too


def test_signature_ignores_dates_but_not_codes() -> None:
    def report(days: float, code: str = "KEY_PENDING_DELETION") -> HealthReport:
        f = Finding(code, "AtRisk", "us-west-2", "arn", 1, "m", deletion_date="d",
                    days_left=days)
        return HealthReport("t", "now", [RegionHealth(1, "us-west-2", "arn", False, "AtRisk",
                                                      [f])])
    assert health.signature(report(7.0), "Degraded") == health.signature(report(6.5),
                                                                         "Degraded")
    assert health.signature(report(7.0), "Degraded") != health.signature(
        report(7.0, "KEY_PENDING_REPLICA_DELETION"), "Degraded")
