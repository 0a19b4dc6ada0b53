"""NotifyActivities: POST a key-health alert to the tenant's webhook; record every attempt.

The URL is checked and pinned at send time (byok/webhooks.py): https, public addresses only,
connecting to the address that was checked. Failures name the status or a host-free reason,
never the URL (it may carry the receiver's token) nor the response body."""

from __future__ import annotations

import time

import httpx
from sqlalchemy.engine import Engine
from temporalio import activity

from activities.base import byok_errors
from byok import webhooks
from byok.db import session_scope
from byok.errors import ByokError, NotFound
from byok.health_messages import AlertRef, DeliveryResult
from byok.models import AlertDelivery, HealthAlert, Tenant, utcnow
from byok.settings import Settings

# httpx's messages may name the host; these say what went wrong without it.
REASONS = ((httpx.TimeoutException, "timed out"), (httpx.ConnectError, "could not connect"),
           (httpx.RemoteProtocolError, "the endpoint broke off the HTTP exchange"),
           (httpx.TooManyRedirects, "too many redirects"))


class WebhookFailed(ByokError):
    """The endpoint did not take the alert; Temporal retries with backoff."""

    code = "WEBHOOK_FAILED"
    retryable = True


def reason_of(exc: httpx.HTTPError) -> str:
    return next((f"{what} ({type(exc).__name__})" for cls, what in REASONS
                 if isinstance(exc, cls)), type(exc).__name__)


class NotifyActivities:
    def __init__(self, engine: Engine, settings: Settings, http: httpx.Client | None = None,
                 resolver: webhooks.Resolver = webhooks.system_resolver):
        self.engine, self.settings, self.resolver = engine, settings, resolver
        self.http = http or httpx.Client(timeout=settings.webhook_timeout_seconds,
                                         follow_redirects=False)

    def _post(self, url: str, payload: dict[str, object], headers: dict[str, str]
              ) -> tuple[int | None, bool, str | None]:
        """(status, ok, error); a refused URL raises WebhookUrlRefused (not retried)."""
        pinned = webhooks.pin(url, allow_loopback=self.settings.webhooks_may_use_loopback,
                              resolver=self.resolver)
        try:
            resp = self.http.post(pinned.url, json=payload,
                                  headers={**headers, "Host": pinned.host_header},
                                  extensions={"sni_hostname": pinned.host})
        except httpx.HTTPError as exc:
            return None, False, reason_of(exc)
        # The body is the receiver's: it may echo our payload or its own secrets.
        error = None if resp.is_success else webhooks.status_reason(resp.status_code)
        return resp.status_code, resp.is_success, error

    @activity.defn
    @byok_errors
    def notify_alert(self, ref: AlertRef) -> DeliveryResult:
        with session_scope(self.engine) as session:
            alert = session.get(HealthAlert, ref.alert_id)
            if alert is None:
                raise NotFound(f"no alert {ref.alert_id}")
            if alert.delivered_at is not None:  # a retry after a success we did not hear of
                return DeliveryResult(ref.alert_id, True, "already_delivered")
            tenant = session.get(Tenant, alert.tenant_id)
            url = tenant.webhook_url if tenant else None
            if not url:
                alert.delivery_status = "no_webhook"  # still in the console's alert list
                session.add(alert)
                return DeliveryResult(ref.alert_id, False, "no_webhook")
            payload = {"type": "byok.key_health.changed", "alert_id": alert.id,
                       "tenant_id": alert.tenant_id, "previous_state": alert.previous_state,
                       "state": alert.state, "title": alert.title, "message": alert.message,
                       "created_at": alert.created_at.isoformat(), **alert.details}
        attempt = activity.info().attempt
        started = time.monotonic()
        refused: webhooks.WebhookUrlRefused | None = None
        try:
            # The alert id lets the receiver drop a duplicate (at-least-once delivery).
            status_code, ok, error = self._post(url, payload, {
                "X-Byok-Alert-Id": ref.alert_id, "X-Byok-Delivery-Attempt": str(attempt)})
        except webhooks.WebhookUrlRefused as exc:
            refused, (status_code, ok, error) = exc, (None, False, exc.message)
        with session_scope(self.engine) as session:
            session.add(AlertDelivery(alert_id=ref.alert_id, attempt=attempt, url=url,
                                      status_code=status_code, ok=ok, error=error,
                                      duration_ms=int((time.monotonic() - started) * 1000)))
            alert = session.get(HealthAlert, ref.alert_id)
            if alert is not None:
                alert.delivery_attempts += 1
                alert.delivery_status = "delivered" if ok else "retrying"
                alert.delivered_at = utcnow() if ok else None
                session.add(alert)
        if refused is not None:
            raise refused
        if not ok:
            raise WebhookFailed(f"the webhook refused alert {ref.alert_id}: {error}")
        return DeliveryResult(ref.alert_id, True, "delivered")

    @activity.defn
    @byok_errors
    def give_up_alert(self, ref: AlertRef) -> DeliveryResult:
        """Retries are exhausted: the alert stays in the console's list, marked undelivered."""
        with session_scope(self.engine) as session:
            alert = session.get(HealthAlert, ref.alert_id)
            if alert is not None and alert.delivered_at is None:
                alert.delivery_status = "failed"
                session.add(alert)
        return DeliveryResult(ref.alert_id, False, "failed")
