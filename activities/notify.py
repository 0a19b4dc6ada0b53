"""NotifyActivities: POST a key-health alert to the tenant's webhook; record every attempt."""

from __future__ import annotations

import time

import httpx
from sqlalchemy.engine import Engine
from temporalio import activity

from activities.base import byok_errors
from byok.db import session_scope
from byok.errors import ByokError, NotFound
from byok.health_messages import AlertRef, DeliveryResult
from byok.models import AlertDelivery, HealthAlert, Tenant, utcnow
from byok.settings import Settings


class WebhookFailed(ByokError):
    """The endpoint did not take the alert; Temporal retries with backoff."""

    code = "WEBHOOK_FAILED"
    retryable = True


class NotifyActivities:
    def __init__(self, engine: Engine, settings: Settings, http: httpx.Client | None = None):
        self.engine, self.settings = engine, settings
        self.http = http or httpx.Client(timeout=settings.webhook_timeout_seconds,
                                         follow_redirects=False)

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
        status_code: int | None = None
        try:
            # The alert id lets the receiver drop a duplicate (at-least-once delivery).
            resp = self.http.post(url, json=payload, headers={
                "X-Byok-Alert-Id": ref.alert_id, "X-Byok-Delivery-Attempt": str(attempt)})
            status_code, ok = resp.status_code, resp.is_success
            error = None if ok else f"HTTP {resp.status_code}: {resp.text[:300]}"
        except httpx.HTTPError as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"[:2000]
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
        if not ok:
            raise WebhookFailed(f"webhook {url} refused alert {ref.alert_id}: {error}")
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
