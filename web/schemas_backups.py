"""Request and response models of backups and restores."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from web.schemas import Strict


class BackupIn(Strict):
    workload: str = Field(min_length=1, max_length=32, examples=["vmware_vm"],
                          description="ebs, ec2, m365, vmware_vm, s3, rds, dynamodb, sql_ec2 "
                                      "or sql_vmc.")
    source: str = Field(min_length=1, max_length=2048, examples=["s3://bucket/prefix"])
    region: str | None = Field(default=None, min_length=1, max_length=32,
                               description="A connected region; default the control plane's.")


class UploadOut(BaseModel):
    source: str = Field(description="The `file://` source to back up (POST /backups).")
    name: str = Field(description="The stored file's name: generated, then the sanitized "
                                  "name given.")
    bytes: int
    sha256: str


class BackupStartedOut(BaseModel):
    backup_id: str
    workflow_id: str


class BackupOut(BaseModel):
    id: str
    workload: str
    source: str
    region: str
    plaintext_size: int
    stored_size: int
    sha256: str | None = Field(default=None, description="Set for SHA-256 backups (older ones).")
    digest: str | None = Field(default=None, description="The plaintext's checksum.")
    digest_alg: str | None = Field(default=None, description="blake3 (new backups) or sha256.")
    key_arn: str
    key_kind: str = Field(description="byok, default or legacy.")
    key_generation: int | None = None
    status: str = Field(description="The catalog's: pending, complete, failed, irretrievable.")
    state: str = Field(description="ok, paused (the key in its region is not Healthy: new "
                                   "backups there wait), irretrievable, running or failed.")
    state_reason: str | None = None
    error: str | None = None
    created_at: datetime
    completed_at: datetime | None = None


class RestoreIn(Strict):
    backup_id: str = Field(min_length=1, max_length=40)
    target: str | None = Field(default=None, min_length=1, max_length=1024,
                               description="A path inside the server's restores folder "
                                           "(relative names land there); default "
                                           "`<BYOK_HOME>/restores/<backup id>`.")
    force: bool = Field(default=False, description="Replace the target if it exists.")


class RestoreStartedOut(BaseModel):
    restore_id: str
    workflow_id: str
    backup_id: str
    target: str


class RestoreOut(BaseModel):
    id: str
    backup_id: str
    target: str
    status: str
    error: str | None = None
    created_at: datetime
    completed_at: datetime | None = None
