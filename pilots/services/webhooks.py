"""Webhooks: signed HTTP POSTs of events to integrators' URLs.

Detect, record, deliver again:
- a change *enqueues* its event through the transactional outbox (``webhook_event_enqueue``), and only
  when some active subscription exists, so a deployment without webhooks pays one cheap query;
- the task ``pilots.deliver_webhooks`` *records* one ``WebhookDelivery`` per subscribed subscription
  (unique per subscription and event id: a redelivered task records nothing twice), with the exact body;
- ``pilots.send_webhook`` *delivers* one row, retried with exponential backoff while the failure is
  retryable. After ``MAX_CONSECUTIVE_FAILURES`` failures in a row a subscription is disabled (a
  conditional update, so once) and its owner gets an in-app notification.

Signature (``X-Smartcity-Signature: t=<unix seconds>,v1=<hex>``): ``v1`` is the lowercase hex
HMAC-SHA256, keyed with the subscription's secret, of ``f"{t}.{body}"`` where ``body`` is the raw
request body (UTF-8). Receivers recompute it, compare in constant time and reject old ``t`` values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from pilots.links import reminder_api_url, report_api, report_page
from pilots.models import Notification, ProgressReport
from pilots.models.webhooks import MAX_CONSECUTIVE_FAILURES, WebhookDelivery, WebhookEvent, WebhookSubscription
from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.links import site_url
from smartcity.outbox import outbox_enqueue

SIGNATURE_HEADER = "X-Smartcity-Signature"
TIMEOUT_SECONDS = 10
USER_AGENT = "smartcity-tracker-webhooks/1"

REPORT_EVENTS = {
    "submit": WebhookEvent.REPORT_SUBMITTED,
    "resubmit": WebhookEvent.REPORT_SUBMITTED,
    "approve": WebhookEvent.REPORT_APPROVED,
    "return": WebhookEvent.REPORT_RETURNED,
}


class WebhookDeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


def sign(*, secret: str, body: str, timestamp: int) -> str:
    """The ``X-Smartcity-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# --- Subscriptions --------------------------------------------------------------------------------

def webhook_subscription_create(*, owner, url: str, events: list[str], context: ChangeContext) -> tuple[
        WebhookSubscription, str]:
    """A new subscription and its secret (returned here only; the API shows it once)."""
    secret = secrets.token_hex(32)
    subscription = WebhookSubscription(owner=owner, url=url, events=sorted(set(events)), secret=secret)
    subscription.full_clean()
    subscription.save()
    audit_record(context=context, action="create", instance=subscription, before=None, after=snapshot(subscription))
    return subscription, secret


def webhook_subscription_update(*, subscription: WebhookSubscription, context: ChangeContext, **changes
                                ) -> WebhookSubscription:
    before = snapshot(subscription)
    if "events" in changes:
        changes["events"] = sorted(set(changes["events"]))
    if changes.get("active") and not subscription.active:  # re-enabling starts the failure count afresh
        changes.update(consecutive_failures=0, disabled_at=None)
    for name, value in changes.items():
        setattr(subscription, name, value)
    subscription.full_clean()
    subscription.save()
    audit_record(context=context, action="update", instance=subscription, before=before, after=snapshot(subscription))
    return subscription


def webhook_subscription_delete(*, subscription: WebhookSubscription, context: ChangeContext) -> None:
    audit_record(context=context, action="delete", instance=subscription, before=snapshot(subscription), after=None)
    subscription.delete()


# --- Events ---------------------------------------------------------------------------------------

def _subscribers(event: str) -> list[WebhookSubscription]:
    return [s for s in WebhookSubscription.objects.filter(active=True) if event in s.events]


def webhook_event_enqueue(*, event: str, ref: dict) -> None:
    """Within the caller's transaction: have ``event`` delivered once it commits, if anyone listens."""
    if not WebhookSubscription.objects.filter(active=True).exists():  # cheap: one indexed EXISTS
        return
    outbox_enqueue(task="pilots.deliver_webhooks", kwargs={"event": event, "ref": ref, "event_id": uuid.uuid4().hex})


def webhook_report_transition(*, report: ProgressReport, action: str) -> None:
    """Called by the report workflow on every transition; only some are events."""
    event = REPORT_EVENTS.get(action)
    if event is not None:
        webhook_event_enqueue(event=event, ref={"report": report.pk})


def _payload(event: str, ref: dict) -> dict:
    data: dict = dict(ref)
    if "report" in ref:
        report = ProgressReport.objects.select_related("pilot__prefecture", "subtask").filter(pk=ref["report"]).order_by().first()
        if report is not None:
            data = {
                "report": report.pk, "pilot": report.pilot.code, "prefecture": report.pilot.prefecture.code,
                "subtask": report.subtask.code, "period": report.period, "revision": report.revision,
                "state": report.state, "percent_complete": str(report.percent_complete),
                "submitted_at": report.submitted_at.isoformat() if report.submitted_at else None,
                "reviewed_at": report.reviewed_at.isoformat() if report.reviewed_at else None,
                "url": report_api(report.pk), "link": report_page(report.pilot_id),
            }
    if "reminders" in ref:
        from pilots.models import Reminder

        reminders = Reminder.objects.filter(pk__in=ref["reminders"]).select_related("pilot", "subtask").order_by("id")
        data = {"reminders": [
            {"id": r.pk, "item": r.item_key, "kind": r.kind, "level": r.level, "occurrence": r.occurrence.isoformat(),
             "channel": r.channel, "pilot": r.pilot.code, "period": r.period, "due_on": r.due_on.isoformat(),
             "link": r.link, "api_url": reminder_api_url(r), "sent_at": r.sent_at.isoformat() if r.sent_at else None}
            for r in reminders
        ]}
    return data


def webhook_deliveries_record(*, event: str, ref: dict, event_id: str) -> list[int]:
    """One delivery row per active subscription to ``event``; returns the ids still to send."""
    body = json.dumps({"id": event_id, "event": event, "created_at": timezone.now().isoformat(),
                       "data": _payload(event, ref)}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    ids = []
    for subscription in _subscribers(event):
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(subscription=subscription, event=event, event_id=event_id,
                                                          body=body)
        except IntegrityError:  # recorded by an earlier run of this task: send it if it is still pending
            delivery = WebhookDelivery.objects.get(subscription=subscription, event_id=event_id)
        if delivery.delivered_at is None and delivery.failed_at is None:
            ids.append(delivery.pk)
    return ids


def webhook_completion_watch(*, pilot_id: int, as_of, recompute):
    """Run ``recompute()``; if the pilot's overall figure (completion, schedule status) changed, emit
    ``completion.changed``. Costs two single-row reads, and nothing more when nobody listens."""
    from pilots.models import CompletionRollup

    def figure():
        return CompletionRollup.objects.filter(scope=CompletionRollup.Scope.PILOT, scope_id=pilot_id, as_of=as_of,
                                               real_only=False).values_list("completion", "schedule_status").first()

    before = figure()
    result = recompute()
    after = figure()
    if after != before:
        webhook_event_enqueue(event=WebhookEvent.COMPLETION_CHANGED, ref={
            "pilot": pilot_id, "as_of": as_of.isoformat(),
            "completion": None if after is None or after[0] is None else str(after[0]),
            "schedule_status": None if after is None else after[1],
            "previous_completion": None if before is None or before[0] is None else str(before[0]),
        })
    return result


# --- Delivery -------------------------------------------------------------------------------------

def webhook_post(*, url: str, body: str, secret: str) -> int:
    """POST ``body`` signed with ``secret``; returns the status, raises ``WebhookDeliveryError``."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise WebhookDeliveryError(f"refusing to post to a non-HTTP URL: {url[:80]}", retryable=False)
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret=secret, body=body, timestamp=int(time.time())),
    })
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # nosec B310
            return response.status
    except urllib.error.HTTPError as exc:
        retryable = exc.code >= 500 or exc.code in (408, 429)
        raise WebhookDeliveryError(f"HTTP {exc.code}", retryable=retryable) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise WebhookDeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from exc


def webhook_send(*, delivery_id: int) -> str:
    """Send one pending delivery; raises ``WebhookDeliveryError`` (retryable or not) when it fails."""
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None or delivery.delivered_at or delivery.failed_at:
        return "nothing to do"
    subscription = delivery.subscription
    if not subscription.active:
        WebhookDelivery.objects.filter(pk=delivery.pk, delivered_at=None).update(
            failed_at=timezone.now(), last_error="subscription disabled")
        return "subscription disabled"
    try:
        status = webhook_post(url=subscription.url, body=delivery.body, secret=subscription.secret)
    except WebhookDeliveryError as exc:
        _record_failure(delivery, subscription, exc)
        raise
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        delivered_at=timezone.now(), attempts=F("attempts") + 1, last_status=status, last_error="")
    WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
    return "delivered"


def webhook_give_up(*, delivery_id: int) -> None:
    """Retries exhausted: mark the delivery failed (it stays in the log with its last error)."""
    WebhookDelivery.objects.filter(pk=delivery_id, delivered_at=None, failed_at=None).update(failed_at=timezone.now())


def _record_failure(delivery: WebhookDelivery, subscription: WebhookSubscription, exc: WebhookDeliveryError) -> None:
    now = timezone.now()
    status = exc.__cause__.code if isinstance(exc.__cause__, urllib.error.HTTPError) else None
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1, last_status=status, last_error=str(exc)[:2000],
        **({} if exc.retryable else {"failed_at": now}))
    WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    disabled = WebhookSubscription.objects.filter(
        pk=subscription.pk, active=True, consecutive_failures__gte=MAX_CONSECUTIVE_FAILURES,
    ).update(active=False, disabled_at=now)
    if disabled:  # exactly one sender sees the flip, so the owner is told once
        Notification.objects.create(
            user=subscription.owner,
            title=f"Webhook disabled after {MAX_CONSECUTIVE_FAILURES} failures / 推送地址连续失败已停用",
            body=f"{subscription.url}: {exc}. Fix the endpoint, then set the subscription active again.",
            # Integrators use the API alone: the subscription's page is its API URL.
            link=site_url(f"/api/v1/webhooks/{subscription.pk}/"),
            api_url=site_url(f"/api/v1/webhooks/{subscription.pk}/"),
        )
