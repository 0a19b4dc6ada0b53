"""The nine workload types byok-vault backs up, and the sources each accepts."""

from __future__ import annotations

from enum import StrEnum

from byok.errors import InvalidInput
from byok.sources import Source, parse_source


class Workload(StrEnum):
    EBS = "ebs"
    EC2 = "ec2"
    M365 = "m365"  # Exchange, OneDrive, SharePoint
    VMWARE_VM = "vmware_vm"  # VMware and VMC VMs
    S3 = "s3"
    RDS = "rds"
    DYNAMODB = "dynamodb"
    SQL_EC2 = "sql_ec2"
    SQL_VMC = "sql_vmc"


LABELS = {
    Workload.EBS: "EBS", Workload.EC2: "EC2", Workload.M365: "Microsoft 365",
    Workload.VMWARE_VM: "VMware / VMC VM", Workload.S3: "S3", Workload.RDS: "RDS",
    Workload.DYNAMODB: "DynamoDB", Workload.SQL_EC2: "SQL Server on EC2",
    Workload.SQL_VMC: "SQL Server on VMC",
}

# Which source schemes make sense for each workload; file:// works for all (an export).
SCHEMES = {
    Workload.S3: ("s3", "file"), Workload.DYNAMODB: ("dynamodb", "file"),
    Workload.EBS: ("ebs", "file"), Workload.EC2: ("ebs", "file"),
}


def parse_workload(value: str) -> Workload:
    try:
        return Workload(value.strip().lower())
    except ValueError:
        names = ", ".join(w.value for w in Workload)
        raise InvalidInput(f"unknown workload {value!r}; one of: {names}",
                           field="workload") from None


def check_source(workload: Workload, source: str) -> Source:
    """The source, parsed (the one parse everything uses), refused when the workload cannot
    read from its kind."""
    allowed = SCHEMES.get(workload, ("file",))
    if "://" in source and source.split("://", 1)[0] in allowed:
        parsed = parse_source(source)
        if parsed.kind in allowed:
            return parsed
    raise InvalidInput(f"a {LABELS[workload]} backup reads from "
                       f"{' or '.join(s + '://...' for s in allowed)}, not {source[:200]!r}",
                       field="source")
