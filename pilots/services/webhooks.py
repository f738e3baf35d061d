"""Webhooks: signed HTTP POSTs of events to integrators' URLs.

Detect, record, deliver again:
- a change *enqueues* its event through the transactional outbox (``webhook_event_enqueue``), and only
  when some active subscription exists, so a deployment without webhooks pays one cheap query;
- the task ``pilots.deliver_webhooks`` *records* one ``WebhookDelivery`` per subscribed subscription
  (unique per subscription and event id: a redelivered task records nothing twice), with the exact body;
- ``pilots.send_webhook`` *delivers* one row, retried with exponential backoff while the failure is
  retryable. After ``MAX_CONSECUTIVE_FAILURES`` failures in a row a subscription is disabled (a
  conditional update, so once) and its owner gets an in-app notification.

The body is built when the event happens, in the transaction that makes it (``webhook_event_enqueue``
stores it in the outbox message): a report submitted, returned and approved within a second gives three
deliveries that each tell the state of their own event. The delivery row keeps the exact body, so a retry
sends the same bytes with the same ``webhook-id``; only the timestamp and the signatures are fresh per
attempt (as Standard Webhooks does: a receiver rejects timestamps older than five minutes).

Two signatures on every POST, with one key (the subscription's secret, as UTF-8 bytes):
- Standard Webhooks: ``webhook-id`` (the event id), ``webhook-timestamp`` (unix seconds) and
  ``webhook-signature: v1,<base64 HMAC-SHA256 of f"{id}.{timestamp}.{body}">``. The secret in that
  scheme's form is ``"whsec_" + base64(secret)`` (``standard_secret``), which the official libraries take;
- ``X-Smartcity-Signature: t=<unix seconds>,v1=<hex>``: the lowercase hex HMAC-SHA256 of
  ``f"{t}.{body}"``, as before.

Only public addresses receive webhooks (``pilots.services.webhook_targets``): checked when a URL is
subscribed and again at each send, connecting to the address checked. Redirects are not followed (a 3xx
is a failed delivery).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import json
import secrets
import ssl
import time
import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from pilots import task_names
from pilots.links import reminder_api_url, report_api, report_page
from pilots.models import CompletionRollup, Notification, ProgressReport
from pilots.models.webhooks import MAX_CONSECUTIVE_FAILURES, WebhookDelivery, WebhookEvent, WebhookSubscription
from pilots.services.delivery import DeliveryError
from pilots.services.webhook_targets import Target, TargetRefused, resolve_target
from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.links import site_url
from smartcity.outbox import outbox_enqueue
from smartcity.timefmt import local_iso

SIGNATURE_HEADER = "X-Smartcity-Signature"
TIMEOUT_SECONDS = 10
USER_AGENT = "smartcity-tracker-webhooks/1"

REPORT_EVENTS = {
    "submit": WebhookEvent.REPORT_SUBMITTED,
    "resubmit": WebhookEvent.REPORT_SUBMITTED,
    "approve": WebhookEvent.REPORT_APPROVED,
    "return": WebhookEvent.REPORT_RETURNED,
}


# The error of a failed POST: the one delivery error, under the name the webhook code has always used.
WebhookDeliveryError = DeliveryError


def sign(*, secret: str, body: str, timestamp: int) -> str:
    """The ``X-Smartcity-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def standard_secret(secret: str) -> str:
    """The subscription's secret as Standard Webhooks writes it: ``whsec_`` and the key in base64.

    The key is the secret's UTF-8 bytes, the same key ``X-Smartcity-Signature`` uses, so every existing
    secret has its Standard Webhooks form and nothing is re-issued."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def standard_signature(*, secret: str, message_id: str, body: str, timestamp: int) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    digest = hmac.new(secret.encode(), f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(*, secret: str, message_id: str, body: str, timestamp: int) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret=secret, message_id=message_id, body=body, timestamp=timestamp),
        SIGNATURE_HEADER: sign(secret=secret, body=body, timestamp=timestamp),
    }


def webhook_url_check(url: str) -> None:
    """A ValidationError on ``url`` (its code naming the rule) unless webhooks may be sent there."""
    try:
        resolve_target(url)
    except TargetRefused as refused:
        raise ValidationError({"url": ValidationError(str(refused), code=refused.code)}) from None


# --- Subscriptions --------------------------------------------------------------------------------

def webhook_subscription_create(*, owner, url: str, events: list[str], context: ChangeContext) -> tuple[
        WebhookSubscription, str]:
    """A new subscription and its secret (returned here only; the API shows it once)."""
    secret = secrets.token_hex(32)
    subscription = WebhookSubscription(owner=owner, url=url, events=sorted(set(events)), secret=secret)
    subscription.full_clean()
    webhook_url_check(subscription.url)
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
    if "url" in changes:
        webhook_url_check(subscription.url)
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
    """Within the caller's transaction: have ``event`` delivered once it commits, if anyone listens.

    The payload is built now, from the state this transaction wrote, and travels in the outbox message.
    """
    if not WebhookSubscription.objects.filter(active=True).exists():  # cheap: one indexed EXISTS
        return
    _enqueue(event, _payload(event, ref))


def _enqueue(event: str, data: dict) -> None:
    outbox_enqueue(task=task_names.DELIVER_WEBHOOKS, kwargs={
        "event": event, "event_id": uuid.uuid4().hex, "created_at": local_iso(timezone.now()), "data": data})


def webhook_report_transition(*, report: ProgressReport, action: str, comment: str = "") -> None:
    """Called by the report workflow on every transition, after the report is saved; only some are events."""
    event = REPORT_EVENTS.get(action)
    if event is None or not WebhookSubscription.objects.filter(active=True).exists():
        return
    _enqueue(event, {**_report_payload(report), "comment": comment})


def _report_payload(report: ProgressReport) -> dict:
    return {
        "report": report.pk, "pilot": report.pilot.code, "prefecture": report.pilot.prefecture.code,
        "subtask": report.subtask.code, "period": report.period, "revision": report.revision,
        "state": report.state, "percent_complete": str(report.percent_complete),
        "submitted_at": local_iso(report.submitted_at), "reviewed_at": local_iso(report.reviewed_at),
        "url": report_api(report.pk), "link": report_page(report.pilot_id),
    }


def _payload(event: str, ref: dict) -> dict:
    data: dict = dict(ref)
    if "report" in ref:  # an outbox message written before payloads travelled in it
        report = ProgressReport.objects.select_related("pilot__prefecture", "subtask").filter(pk=ref["report"]).order_by().first()
        if report is not None:
            data = _report_payload(report)
    if "reminders" in ref:
        from pilots.models import Reminder

        reminders = Reminder.objects.filter(pk__in=ref["reminders"]).select_related("pilot", "subtask").order_by("id")
        data = {"reminders": [
            {"id": r.pk, "item": r.item_key, "kind": r.kind, "level": r.level, "occurrence": r.occurrence.isoformat(),
             "channel": r.channel, "pilot": r.pilot.code, "period": r.period, "due_on": r.due_on.isoformat(),
             "link": r.link, "api_url": reminder_api_url(r), "sent_at": local_iso(r.sent_at)}
            for r in reminders
        ]}
    return data


def webhook_deliveries_record(*, event: str, event_id: str, data: dict | None = None, created_at: str | None = None,
                              ref: dict | None = None) -> list[int]:
    """One delivery row per active subscription to ``event``, with the event's body; returns the ids still to send.

    ``data`` and ``created_at`` are the event's, from its outbox message; an older message carries only
    ``ref``, and its payload is read now."""
    if data is None:
        data = _payload(event, ref or {})
    body = json.dumps({"id": event_id, "event": event, "created_at": created_at or local_iso(timezone.now()),
                       "data": data}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
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


class CompletionWatch:
    """The rule for ``completion.changed``, around one completion recompute (``pilots.services.completion``).

    A pilot's event fires when the run leaves its overall figure (completion and schedule status, all
    data: ``real_only`` false) different from the figure it had before the run: that date's own, when the
    date was computed already (a report approved today), else the previous computed date's (the nightly
    run), so that a night that changes nothing emits nothing. A pilot without an earlier figure has
    changed. ``pilot_id``: a run of one pilot watches that pilot only. Reads nothing when nobody
    subscribes to the event; the events go through the outbox in the run's transaction.
    """

    def __init__(self, *, programme_id: int, as_of: dt.date, pilot_id: int | None = None):
        self.programme_id, self.as_of, self.pilot_id = programme_id, as_of, pilot_id
        self.listening = bool(_subscribers(WebhookEvent.COMPLETION_CHANGED))
        self.before = self._before() if self.listening else {}

    def _rows(self):
        rows = CompletionRollup.objects.filter(programme_id=self.programme_id, real_only=False, task__isnull=True)
        if self.pilot_id is not None:
            return rows.filter(scope=CompletionRollup.Scope.PILOT, scope_id=self.pilot_id)
        return rows

    def _figures(self, on: dt.date) -> dict[int, tuple]:
        rows = self._rows().filter(scope=CompletionRollup.Scope.PILOT, as_of=on)
        return {pk: (completion, status) for pk, completion, status in
                rows.values_list("scope_id", "completion", "schedule_status")}

    def _before(self) -> dict[int, tuple]:
        # The previous computed date: the pilot's own, or the province's (every full run writes it).
        dated = self._rows() if self.pilot_id is not None else self._rows().filter(
            scope=CompletionRollup.Scope.PROVINCE, scope_id=self.programme_id)
        previous = dated.filter(as_of__lt=self.as_of).aggregate(latest=Max("as_of"))["latest"]
        return {**(self._figures(previous) if previous else {}), **self._figures(self.as_of)}

    def emit(self) -> int:
        """After the run: one ``completion.changed`` per pilot whose figure changed; returns how many."""
        if not self.listening:
            return 0
        after = self._figures(self.as_of)
        emitted = 0
        for pilot_id in sorted(self.before.keys() | after.keys()):
            was, now = self.before.get(pilot_id), after.get(pilot_id)
            if now == was:
                continue
            _enqueue(WebhookEvent.COMPLETION_CHANGED, {
                "pilot": pilot_id, "as_of": self.as_of.isoformat(),
                "completion": None if now is None or now[0] is None else str(now[0]),
                "schedule_status": None if now is None else now[1],
                "previous_completion": None if was is None or was[0] is None else str(was[0]),
            })
            emitted += 1
        return emitted


# --- Delivery -------------------------------------------------------------------------------------

class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the addresses that were checked, whatever the host name resolves to by now."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._target = target

    def connect(self):
        self.sock = self._target.connect(self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._target = target

    def connect(self):
        sock = self._target.connect(self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # the certificate is the host's


def webhook_post(*, url: str, body: str, secret: str, message_id: str = "") -> int:
    """POST ``body`` signed with ``secret`` to a checked address; returns the status, raises ``WebhookDeliveryError``.

    Nothing but a 2xx is a delivery: a redirect is not followed, and a refused address is never retried.
    """
    try:
        target = resolve_target(url)
    except TargetRefused as refused:
        raise WebhookDeliveryError(f"refused: {refused}", retryable=False) from None
    message_id = message_id or uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               **signature_headers(secret=secret, message_id=message_id, body=body, timestamp=int(time.time()))}
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", target.path, body=body.encode(), headers=headers)
        status = connection.getresponse().status
    except (http.client.HTTPException, OSError) as exc:
        raise WebhookDeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
    finally:
        connection.close()
    if 200 <= status < 300:
        return status
    if 300 <= status < 400:
        raise WebhookDeliveryError(f"HTTP {status}: redirects are not followed", retryable=False, status=status)
    raise WebhookDeliveryError(f"HTTP {status}", retryable=status >= 500 or status in (408, 429), status=status)


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
        status = webhook_post(url=subscription.url, body=delivery.body, secret=subscription.secret,
                              message_id=delivery.event_id)
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
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1, last_status=exc.status, last_error=str(exc)[:2000],
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
