"""Webhooks: integrators' own subscriptions, signed deliveries, retries, disabling after 10 failures."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
import time_machine

from pilots.models import Notification, Organisation, ProgressReport, WebhookDelivery, WebhookSubscription
from pilots.periods import Period
from pilots.services.reports import report_approve, report_create
from pilots.services.webhooks import (
    SIGNATURE_HEADER,
    WebhookDeliveryError,
    sign,
    webhook_deliveries_record,
    webhook_send,
    webhook_subscription_create,
)
from smartcity.audit import ChangeContext
from smartcity.models import AuditEntry, OutboxMessage
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member
from tests.helpers import Receiver, client_for

URL = "/api/v1/webhooks/"
CST = dt.timezone(dt.timedelta(hours=8))


def verify(*, secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """What a receiver does, written from the documented scheme only."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - timestamp) <= tolerance and hmac.compare_digest(expected, fields["v1"])


@pytest.fixture
def world():
    task = TaskFactory(code="T4")
    subtask = SubTaskFactory(task=task, code="T4.1")
    chengdu = PrefectureFactory(code="510100")
    pilot = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108")
    office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=chengdu)
    integrator = member("integrator")
    return {"subtask": subtask, "pilot": pilot, "integrator": integrator, "reporter": member("reporter", office),
            "reviewer": member("reviewer", OrganisationFactory(code="province")),
            "other_integrator": member("integrator")}


def subscribe(world, url="http://127.0.0.1:9/hook", events=("report.submitted", "report.approved")):
    return webhook_subscription_create(owner=world["integrator"], url=url, events=list(events),
                                       context=ChangeContext.command())


def file_report(world, *, submit=True) -> ProgressReport:
    context = ChangeContext(user=world["reporter"], via=AuditEntry.Via.COMMAND)
    return report_create(pilot=world["pilot"], subtask=world["subtask"], period=Period(2021, 3),
                         content={"percent_complete": "45.0", "status": "on_track"}, context=context, submit=submit)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    header = sign(secret="s3cret", body='{"a":1}', timestamp=1633737600)
    assert header == "t=1633737600,v1=" + hmac.new(b"s3cret", b'1633737600.{"a":1}', hashlib.sha256).hexdigest()


@pytest.mark.django_db
def test_integrators_manage_their_own_subscriptions_and_see_the_secret_once(world):
    client = client_for(world["integrator"])  # a read-only token suffices: no programme data changes
    created = client.post(URL, {"url": "https://example.org/hook", "events": ["report.submitted"]})
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert len(secret) == 64
    pk = created.json()["id"]
    assert "secret" not in client.get(f"{URL}{pk}/").json()
    assert "secret" not in client.get(URL).json()["results"][0]
    assert secret not in json.dumps(list(AuditEntry.objects.values("before", "after")))
    assert client_for(world["other_integrator"]).get(f"{URL}{pk}/").status_code == 404
    assert client_for(world["other_integrator"]).get(URL).json()["count"] == 0
    assert client_for(world["reporter"], can_write=True).get(URL).status_code == 403
    assert client.patch(f"{URL}{pk}/", {"active": False}).json()["active"] is False
    assert client.post(URL, {"url": "https://example.org/hook", "events": ["report.eaten"]}).status_code == 400
    assert client.post(URL, {"url": "not a url", "events": ["report.submitted"]}).status_code == 400
    assert client.delete(f"{URL}{pk}/").status_code == 204
    assert not WebhookSubscription.objects.exists()


@pytest.mark.django_db
def test_report_transitions_enqueue_an_event_only_when_someone_listens(world):
    file_report(world)
    assert not OutboxMessage.objects.filter(task="pilots.deliver_webhooks").exists()
    subscribe(world)
    ProgressReport.objects.all().delete()
    report = file_report(world)
    [message] = OutboxMessage.objects.filter(task="pilots.deliver_webhooks")
    assert message.kwargs["event"] == "report.submitted" and message.kwargs["ref"] == {"report": report.pk}
    report_approve(report_id=report.pk, expected_version=None, context=ChangeContext(user=world["reviewer"], via=AuditEntry.Via.COMMAND))
    assert [m.kwargs["event"] for m in OutboxMessage.objects.filter(task="pilots.deliver_webhooks")
            .order_by("id")] == ["report.submitted", "report.approved"]


@pytest.mark.django_db
def test_a_delivery_is_recorded_once_signed_and_sent(world):
    report = file_report(world)
    with Receiver() as receiver:
        _subscription, secret = subscribe(world, url=receiver.url)
        ids = webhook_deliveries_record(event="report.submitted", ref={"report": report.pk}, event_id="e1")
        assert webhook_deliveries_record(event="report.submitted", ref={"report": report.pk}, event_id="e1") == ids
        assert webhook_deliveries_record(event="report.returned", ref={"report": report.pk}, event_id="e2") == []
        assert webhook_send(delivery_id=ids[0]) == "delivered"
        assert webhook_send(delivery_id=ids[0]) == "nothing to do"
    [(headers, body)] = receiver.received
    assert verify(secret=secret, body=body, header=headers[SIGNATURE_HEADER])
    assert not verify(secret="wrong", body=body, header=headers[SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload["event"] == "report.submitted" and payload["id"] == "e1"
    assert payload["data"]["report"] == report.pk and payload["data"]["state"] == "submitted"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status, delivery.delivered_at is not None) == (1, 204, True)


@pytest.mark.django_db
def test_failures_are_logged_retryable_or_not(world):
    report = file_report(world)
    with Receiver(status=503) as receiver:
        subscription, _secret = subscribe(world, url=receiver.url)
        [delivery_id] = webhook_deliveries_record(event="report.submitted", ref={"report": report.pk}, event_id="e")
        with pytest.raises(WebhookDeliveryError) as failure:
            webhook_send(delivery_id=delivery_id)
        assert failure.value.retryable
        receiver.status = 410
        with pytest.raises(WebhookDeliveryError) as failure:
            webhook_send(delivery_id=delivery_id)
        assert not failure.value.retryable
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status, delivery.last_error) == (2, 410, "HTTP 410")
    assert delivery.failed_at is not None
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 2 and subscription.active


@pytest.mark.django_db
def test_ten_failures_in_a_row_disable_the_subscription_and_tell_the_owner_once(world):
    report = file_report(world)
    with Receiver(status=500) as receiver:
        subscription, _secret = subscribe(world, url=receiver.url)
        for n in range(12):
            ids = webhook_deliveries_record(event="report.submitted", ref={"report": report.pk}, event_id=f"e{n}")
            for delivery_id in ids:
                with pytest.raises(WebhookDeliveryError):
                    webhook_send(delivery_id=delivery_id)
    assert len(receiver.received) == 10
    subscription.refresh_from_db()
    assert not subscription.active and subscription.disabled_at is not None
    [notice] = Notification.objects.filter(user=world["integrator"])
    assert subscription.url in notice.body
    # Re-enabling through the API starts the count afresh.
    client = client_for(world["integrator"])
    response = client.patch(f"{URL}{subscription.pk}/", {"active": True})
    assert response.json()["consecutive_failures"] == 0 and response.json()["disabled_at"] is None


@pytest.mark.django_db
def test_a_reminder_digest_sent_is_an_event(world):
    from pilots.services.reminders import reminder_rules_ensure, reminders_sweep

    subscribe(world, events=["reminder.sent"])
    reminder_rules_ensure()
    now = dt.datetime(2021, 10, 25, 9, 30, tzinfo=CST)
    with time_machine.travel(now, tick=False):
        reminders_sweep(now=now)
    messages = OutboxMessage.objects.filter(task="pilots.deliver_webhooks")
    assert {m.kwargs["event"] for m in messages} == {"reminder.sent"}
    ids = webhook_deliveries_record(**{k: messages[0].kwargs[k] for k in ("event", "ref", "event_id")})
    body = json.loads(WebhookDelivery.objects.get(pk=ids[0]).body)
    assert body["data"]["reminders"][0]["kind"] == "report_missing"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_submitted_report_reaches_a_local_receiver_signed(world, celery_worker_process):
    with Receiver() as receiver:
        _subscription, secret = subscribe(world, url=receiver.url)
        report = file_report(world)  # commits; the outbox sends pilots.deliver_webhooks to the real worker
        celery_worker_process.wait_for(lambda: receiver.received, timeout=60, what="the webhook POST")
    [(headers, body)] = receiver.received
    assert verify(secret=secret, body=body, header=headers[SIGNATURE_HEADER])
    assert json.loads(body)["data"]["report"] == report.pk
    celery_worker_process.wait_for(lambda: WebhookDelivery.objects.filter(delivered_at__isnull=False).exists(),
                                   what="the delivery marked delivered")


@pytest.mark.django_db
def test_completion_changed_is_emitted_only_when_the_pilots_figure_changes(world):
    from pilots.tasks import recompute_pilot_completion

    subscribe(world, events=["completion.changed"])
    report = file_report(world)
    report_approve(report_id=report.pk, expected_version=None,
                   context=ChangeContext(user=world["reviewer"], via=AuditEntry.Via.COMMAND))

    def emitted():
        return [m.kwargs for m in OutboxMessage.objects.filter(task="pilots.deliver_webhooks").order_by("id")
                if m.kwargs["event"] == "completion.changed"]

    recompute_pilot_completion(world["pilot"].pk)
    [first] = emitted()
    assert first["ref"]["pilot"] == world["pilot"].pk and first["ref"]["previous_completion"] is None
    recompute_pilot_completion(world["pilot"].pk)
    assert len(emitted()) == 1  # same figure: no event


def test_a_webhook_is_never_posted_to_a_non_http_url():
    from pilots.services.webhooks import WebhookDeliveryError, webhook_post

    with pytest.raises(WebhookDeliveryError) as refused:
        webhook_post(url="file:///etc/passwd", body="{}", secret="s")

    assert refused.value.retryable is False
