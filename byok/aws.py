"""boto3 clients for the service's account and for tenants' roles, and the one place where
botocore errors become ByokErrors."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from byok.errors import AccessDenied, AwsError, ByokError, KeyUnusable, RoleNotAssumable, Throttled
from byok.settings import Settings
from byok.settle import settle

THROTTLE_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException",
                  "RequestLimitExceeded", "LimitExceededException"}
# The calls backup sources make through a connection role (activities/sources.py).
SOURCE_OPERATIONS = frozenset({"HeadBucket", "ListObjectsV2", "GetObject", "DescribeTable",
                               "Scan", "ListSnapshotBlocks", "GetSnapshotBlock"})
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5},
                      connect_timeout=5, read_timeout=30)


@dataclass
class _Creds:
    key: str
    secret: str
    token: str
    expires: float


class AwsClients:
    """Thread-safe factory of boto3 clients; assumed-role credentials are cached until near
    expiry. Every client talks to settings.aws_endpoint_url when set (localaws)."""

    def __init__(self, settings: Settings, session: boto3.Session | None = None):
        self.settings = settings
        self._session = session or boto3.Session()
        self._lock = threading.Lock()
        self._clients: dict[tuple[Any, ...], Any] = {}
        # HTTP requests sent, per service and operation (retries included): what the KMS
        # frugality benchmark and tests count, and a cheap metric for operators.
        self.requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._creds: dict[tuple[str, str], _Creds] = {}
        self._service: tuple[_Creds, boto3.Session] | None = None

    def counted(self, client: Any) -> Any:
        """Count the requests a client sends (also clients made elsewhere)."""
        client.meta.events.register("before-send", self._on_send)
        return client

    def _on_send(self, event_name: str = "", **kwargs: Any) -> None:
        # event_name is "before-send.<service>.<operation>"
        service, operation = [*event_name.split("."), "", ""][1:3]
        with self._lock:
            self.requests[service][operation] += 1

    def _endpoint(self) -> str | None:
        return self.settings.aws_endpoint_url or None

    def _service_session(self) -> boto3.Session:
        """The service role's session: tenants' roles trust that role, not our account root."""
        if not self.settings.assume_service_role:
            return self._session
        with self._lock:
            current = self._service
        if current is None or current[0].expires - time.time() < 300:
            sts = self._session.client("sts", region_name=self.settings.control_plane_region,
                                       endpoint_url=self._endpoint(), config=RETRY_CONFIG)
            out = sts.assume_role(RoleArn=self.settings.service_role_arn,
                                  RoleSessionName="byok-vault-service")["Credentials"]
            creds = _Creds(out["AccessKeyId"], out["SecretAccessKey"], out["SessionToken"],
                           out["Expiration"].timestamp())
            current = (creds, boto3.Session(aws_access_key_id=creds.key,
                                            aws_secret_access_key=creds.secret,
                                            aws_session_token=creds.token))
            with self._lock:
                self._service = current
        return current[1]

    def service(self, name: str, region: str | None = None) -> Any:
        """A client acting as the service itself (the service role in its own account)."""
        region = region or self.settings.control_plane_region
        session = self._service_session()
        ident = session.get_credentials().access_key
        key = ("svc", name, region)
        with self._lock:
            cached = self._clients.get(key)
            if cached is None or cached[0] != ident:
                cached = (ident, self.counted(session.client(
                    name, region_name=region, endpoint_url=self._endpoint(),
                    config=RETRY_CONFIG)))
                self._clients[key] = cached
            return cached[1]

    def base(self, name: str, region: str | None = None) -> Any:
        """A client with the process's own credentials (used to set the service up)."""
        return self.counted(self._session.client(
            name, region_name=region or self.settings.control_plane_region,
            endpoint_url=self._endpoint(), config=RETRY_CONFIG))

    def assume(self, role_arn: str, external_id: str | None, *, session_name: str = "byok-vault",
               fresh: bool = False) -> _Creds:
        """Assume a tenant's role. Fresh credentials skip the cache (verification must)."""
        cache_key = (role_arn, external_id or "")
        with self._lock:
            cached = self._creds.get(cache_key)
        if cached and not fresh and cached.expires - time.time() > 300:
            return cached
        kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name,
                                  "DurationSeconds": 3600}
        if external_id is not None:
            kwargs["ExternalId"] = external_id
        try:
            out = self.service("sts").assume_role(**kwargs)["Credentials"]
        except ClientError as exc:
            raise map_error(exc, role_arn=role_arn) from None
        creds = _Creds(out["AccessKeyId"], out["SecretAccessKey"], out["SessionToken"],
                       out["Expiration"].timestamp())
        with self._lock:
            self._creds[cache_key] = creds
        return creds

    def tenant(self, name: str, region: str, role_arn: str, external_id: str) -> Any:
        """A client acting through the tenant's role in `region`."""
        creds = self.assume(role_arn, external_id)
        key = ("tenant", name, region, role_arn)
        with self._lock:
            cached = self._clients.get(key)
            # One client per role and region: newer credentials replace it, nothing piles up.
            if cached is not None and cached[0] == creds.key:
                return cached[1]
        client = self.counted(boto3.Session(
            aws_access_key_id=creds.key, aws_secret_access_key=creds.secret,
            aws_session_token=creds.token).client(
                name, region_name=region, endpoint_url=self._endpoint(), config=RETRY_CONFIG))
        with self._lock:
            self._clients[key] = (creds.key, client)
        return client

    def connection(self, name: str, region: str, role_arn: str, external_id: str) -> Any:
        """A client reading the tenant's workload data through its verified connection role
        (byok.connections.source_access names the role and ExternalId)."""
        if not external_id:
            raise AwsError("a connection role is assumed only with its ExternalId",
                           code="CONNECTION_NOT_VERIFIED")
        return self.tenant(name, region, role_arn, external_id)

    def prove_role(self, role_arn: str, external_id: str, settle_seconds: float,
                   waiting: Callable[[], object] = lambda: None) -> None:
        """The role is assumable with our ExternalId (once IAM shows it: a stack has only just
        created it) and refused without it or with another: the confused-deputy guard."""
        settle(lambda: self.assume(role_arn, external_id, fresh=True), settle_seconds,
               waiting=waiting)
        for probe in (None, "byok-probe-" + secrets.token_hex(8)):
            try:
                self.assume(role_arn, probe, fresh=True)
            except RoleNotAssumable:
                continue
            raise RoleNotAssumable(
                "the role can be assumed without the ExternalId we issued: its trust policy must "
                "have the condition StringEquals sts:ExternalId; redeploy our template unchanged",
                code="EXTERNAL_ID_NOT_ENFORCED")

    def forget(self, role_arn: str) -> None:
        """Drop cached credentials and clients of a role (after an access failure)."""
        with self._lock:
            for k in [k for k in self._creds if k[0] == role_arn]:
                del self._creds[k]
            for k in [k for k in self._clients if len(k) > 3 and k[3] == role_arn]:
                del self._clients[k]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def map_error(exc: Exception, *, role_arn: str = "", key_id: str = "") -> ByokError:
    """Turn a botocore error into our type with a message the tenant can act on."""
    if isinstance(exc, ByokError):
        return exc
    if isinstance(exc, EndpointConnectionError):
        return Throttled(f"AWS endpoint unreachable: {exc}", code="AWS_UNREACHABLE")
    if not isinstance(exc, ClientError):
        return AwsError(f"unexpected AWS failure: {type(exc).__name__}")
    code = error_code(exc)
    op = exc.operation_name
    msg = str(exc.response.get("Error", {}).get("Message", ""))
    if code in THROTTLE_CODES:
        return Throttled(f"AWS throttled {op}; will retry")
    if op == "AssumeRole":
        return RoleNotAssumable(
            f"cannot assume role {role_arn}: {code}. Check that the stack is deployed, the role "
            "exists and trusts the byok-vault service role with the ExternalId we issued",
            code="ROLE_NOT_ASSUMABLE")
    if code == "DisabledException":
        return KeyUnusable(f"key {key_id} is disabled: enable it in the AWS KMS console",
                           code="KEY_DISABLED")
    if code == "KMSInvalidStateException":
        return KeyUnusable(f"key {key_id} is not usable in its current state ({msg}); if it is "
                           "pending deletion, cancel the deletion and enable the key",
                           code="KEY_INVALID_STATE")
    if code == "NotFoundException":
        return KeyUnusable(f"key {key_id} does not exist (deleted, or wrong id/region)",
                           code="KEY_NOT_FOUND")
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation") and \
            op in SOURCE_OPERATIONS:
        return AccessDenied(f"access denied on {op}: the connection role's policy does not "
                            "allow reading this source (check the S3Buckets, S3Prefix and "
                            "DynamoDbTables of the connection stack)",
                            code="SOURCE_ACCESS_DENIED")
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        return AccessDenied(f"access denied on {op} for key {key_id}: the key policy or the "
                            "role's policy no longer grants byok-vault access",
                            code="KEY_ACCESS_DENIED")
    if code in ("InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken"):
        return AccessDenied("the tenant's credentials were refused (role session invalid or "
                            "account closed)", code="ACCOUNT_LOST")
    return AwsError(f"AWS {op} failed: {code}: {msg}", code="AWS_ERROR")
