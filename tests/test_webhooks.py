"""Webhooks: integrators' own subscriptions, signed deliveries, retries, disabling after 10 failures.

The tests' receiver listens on 127.0.0.1, which webhooks may not reach unless the operator allows it:
those tests opt its network in with ``LOCAL_RECEIVER``, as an intranet deployment would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
import time_machine
from django.test import override_settings
from standardwebhooks import Webhook, WebhookVerificationError

from pilots.models import Notification, Organisation, ProgressReport, WebhookDelivery, WebhookSubscription
from pilots.periods import Period
from pilots.services.reports import report_approve, report_correct, report_create, report_submit
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
LOCAL_RECEIVER = override_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8"])
PUBLIC_URL = "https://114.114.114.114/hook"  # a public address: accepted without a DNS lookup
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
    client = client_for(world["integrator"], can_write=True)  # an integrator's write-scoped token
    created = client.post(URL, {"url": PUBLIC_URL, "events": ["report.submitted"]})
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
    assert client.post(URL, {"url": PUBLIC_URL, "events": ["report.eaten"]}).status_code == 400
    assert client.post(URL, {"url": "not a url", "events": ["report.submitted"]}).status_code == 400
    assert client.delete(f"{URL}{pk}/").status_code == 204
    assert not WebhookSubscription.objects.exists()


@pytest.mark.django_db
@LOCAL_RECEIVER
def test_report_transitions_enqueue_an_event_only_when_someone_listens(world):
    file_report(world)
    assert not OutboxMessage.objects.filter(task="pilots.deliver_webhooks").exists()
    subscribe(world)
    ProgressReport.objects.all().delete()
    report = file_report(world)
    [message] = OutboxMessage.objects.filter(task="pilots.deliver_webhooks")
    assert message.kwargs["event"] == "report.submitted" and message.kwargs["data"]["report"] == report.pk
    assert message.kwargs["data"]["state"] == "submitted"
    report_approve(report_id=report.pk, expected_version=None, context=ChangeContext(user=world["reviewer"], via=AuditEntry.Via.COMMAND))
    assert [m.kwargs["event"] for m in OutboxMessage.objects.filter(task="pilots.deliver_webhooks")
            .order_by("id")] == ["report.submitted", "report.approved"]


@pytest.mark.django_db
@LOCAL_RECEIVER
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
@LOCAL_RECEIVER
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
@LOCAL_RECEIVER
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
    client = client_for(world["integrator"], can_write=True)
    response = client.patch(f"{URL}{subscription.pk}/", {"active": True})
    assert response.json()["consecutive_failures"] == 0 and response.json()["disabled_at"] is None


@pytest.mark.django_db
@LOCAL_RECEIVER
def test_a_reminder_digest_sent_is_an_event(world):
    from pilots.services.reminders import reminder_rules_ensure, reminders_sweep

    subscribe(world, events=["reminder.sent"])
    reminder_rules_ensure()
    now = dt.datetime(2021, 10, 25, 9, 30, tzinfo=CST)
    with time_machine.travel(now, tick=False):
        reminders_sweep(now=now)
    messages = OutboxMessage.objects.filter(task="pilots.deliver_webhooks")
    assert {m.kwargs["event"] for m in messages} == {"reminder.sent"}
    ids = webhook_deliveries_record(**messages[0].kwargs)
    body = json.loads(WebhookDelivery.objects.get(pk=ids[0]).body)
    assert body["data"]["reminders"][0]["kind"] == "report_missing"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@LOCAL_RECEIVER
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
@LOCAL_RECEIVER
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
    assert first["data"]["pilot"] == world["pilot"].pk and first["data"]["previous_completion"] is None
    recompute_pilot_completion(world["pilot"].pk)
    assert len(emitted()) == 1  # same figure: no event


@pytest.mark.django_db
@LOCAL_RECEIVER
def test_the_nightly_recompute_emits_completion_changed_only_for_a_figure_that_changed(world):
    from pilots.tasks import recompute_all_completion

    subscribe(world, events=["completion.changed"])
    reviewer = ChangeContext(user=world["reviewer"], via=AuditEntry.Via.COMMAND)

    def approved_on(day: int, report: ProgressReport | None = None) -> ProgressReport:
        with time_machine.travel(dt.datetime(2021, 10, day, 12, tzinfo=dt.UTC), tick=False):
            if report is None:
                report = file_report(world)
            else:  # a correction of the approved report, to 60 %
                report = report_correct(report_id=report.pk, expected_version=None, reason="recounted",
                                        changes={"percent_complete": "60.0"}, context=reviewer)
                report_submit(report_id=report.pk, expected_version=None, context=reviewer)
            return report_approve(report_id=report.pk, expected_version=None, context=reviewer)

    def emitted():
        return [m.kwargs["data"] for m in OutboxMessage.objects.filter(task="pilots.deliver_webhooks").order_by("id")
                if m.kwargs["event"] == "completion.changed"]

    approved = approved_on(19)  # 45 %
    recompute_all_completion("2021-10-20")  # the first night: the pilot had no figure before
    assert [(e["pilot"], e["completion"], e["previous_completion"]) for e in emitted()] == [
        (world["pilot"].pk, "45.00", None)]

    recompute_all_completion("2021-10-21")  # nothing approved since: the same figure, no event
    assert len(emitted()) == 1

    approved_on(21, approved)
    recompute_all_completion("2021-10-22")  # the next night sees the approved correction: one event
    assert [(e["completion"], e["previous_completion"]) for e in emitted()[1:]] == [("60.00", "45.00")]


def test_a_webhook_is_never_posted_to_a_non_http_url():
    from pilots.services.webhooks import WebhookDeliveryError, webhook_post

    with pytest.raises(WebhookDeliveryError) as refused:
        webhook_post(url="file:///etc/passwd", body="{}", secret="s")

    assert refused.value.retryable is False


# --- Aimed inside: refused when subscribed, refused again when sent -------------------------------------

INSIDE = [
    ("http://127.0.0.1:6379/", "loopback_address"),  # the service's own Redis
    ("http://localhost:8000/", "loopback_address"),
    ("http://[::1]:8000/", "loopback_address"),
    ("http://[::ffff:127.0.0.1]/", "loopback_address"),  # IPv4-mapped IPv6
    ("http://169.254.169.254/latest/meta-data/", "link_local_address"),  # the cloud metadata service
    ("http://[fe80::1]/", "link_local_address"),
    ("http://0.0.0.0:8000/", "unspecified_address"),
    ("http://[::]/", "unspecified_address"),
    ("http://10.0.0.5/hook", "private_address"),
    ("http://192.168.1.1/", "private_address"),
    ("http://[fd00::1]/", "private_address"),
    ("http://[::ffff:10.1.2.3]/", "private_address"),
    ("http://224.0.0.1/", "multicast_address"),
    ("http://[ff02::1]/", "multicast_address"),
    ("http://240.0.0.1/", "reserved_address"),
    ("http://100.64.0.1/", "reserved_address"),  # carrier-grade NAT: shared, not public
]


@pytest.mark.django_db
@pytest.mark.parametrize("url, rule", INSIDE, ids=[url for url, _rule in INSIDE])
def test_an_integrator_cannot_aim_a_webhook_inside_the_network(world, url, rule):
    client = client_for(world["integrator"], can_write=True)

    response = client.post(URL, {"url": url, "events": ["report.submitted"]}, format="json")

    assert response.status_code == 400, response.json()
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("url", rule)
    assert "WEBHOOK_ALLOWED_NETWORKS" in error["message"]
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize("url", ["http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/"])
def test_other_spellings_of_loopback_are_read_as_the_address_they_are(url):
    # The API's URL validator refuses these already; the sender checks what the resolver makes of them.
    from pilots.services.webhook_targets import TargetRefused, resolve_target

    with pytest.raises(TargetRefused) as refused:
        resolve_target(url)
    assert refused.value.code == "loopback_address"


@pytest.mark.django_db
def test_an_existing_subscription_cannot_be_moved_inside(world):
    client = client_for(world["integrator"], can_write=True)
    pk = client.post(URL, {"url": PUBLIC_URL, "events": ["report.submitted"]}, format="json").json()["id"]

    response = client.patch(f"{URL}{pk}/", {"url": "http://169.254.169.254/"}, format="json")

    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "link_local_address"
    assert WebhookSubscription.objects.get().url == PUBLIC_URL


@pytest.mark.django_db
def test_an_operator_opts_a_network_in(world):
    client = client_for(world["integrator"], can_write=True)
    body = {"url": "http://10.20.1.5:8080/hook", "events": ["report.submitted"]}

    with override_settings(WEBHOOK_ALLOWED_NETWORKS=["10.20.0.0/16"]):
        assert client.post(URL, body, format="json").status_code == 201
        assert client.post(URL, body | {"url": "http://10.21.0.1/"}, format="json").status_code == 400


@pytest.mark.django_db
def test_a_delivery_to_an_address_no_longer_allowed_fails_for_good_and_says_why(world):
    report = file_report(world)
    with Receiver() as receiver:
        with LOCAL_RECEIVER:
            subscribe(world, url=receiver.url)
            [delivery_id] = webhook_deliveries_record(event="report.submitted", ref={"report": report.pk},
                                                      event_id="e")
        # The network is no longer allowed (or the name now resolves inside): nothing is posted.
        with pytest.raises(WebhookDeliveryError) as refused:
            webhook_send(delivery_id=delivery_id)
    assert refused.value.retryable is False
    assert receiver.received == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.failed_at is not None and delivery.delivered_at is None
    assert delivery.last_error.startswith("refused: ") and "WEBHOOK_ALLOWED_NETWORKS" in delivery.last_error


@pytest.mark.django_db
@LOCAL_RECEIVER
def test_a_redirect_is_not_followed_and_fails_the_delivery(world):
    report = file_report(world)
    with Receiver(status=302) as elsewhere, Receiver(status=302) as receiver:
        receiver.headers["Location"] = elsewhere.url
        subscribe(world, url=receiver.url)
        [delivery_id] = webhook_deliveries_record(event="report.submitted", ref={"report": report.pk}, event_id="e")
        with pytest.raises(WebhookDeliveryError) as failed:
            webhook_send(delivery_id=delivery_id)
    assert failed.value.retryable is False
    assert len(receiver.received) == 1 and elsewhere.received == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.last_status, delivery.failed_at is not None) == (302, True)
    assert "redirect" in delivery.last_error


# --- Standard Webhooks -----------------------------------------------------------------------------------

@pytest.mark.django_db
@LOCAL_RECEIVER
def test_a_receiver_verifies_a_delivery_with_the_official_standard_webhooks_library(world):
    report = file_report(world)
    with Receiver() as receiver:
        created = client_for(world["integrator"], can_write=True).post(
            URL, {"url": receiver.url, "events": ["report.submitted"]}, format="json").json()
        [delivery_id] = webhook_deliveries_record(event="report.submitted", ref={"report": report.pk},
                                                  event_id="evt-1")
        webhook_send(delivery_id=delivery_id)
    [(headers, body)] = receiver.received

    assert created["standard_secret"].startswith("whsec_")
    payload = Webhook(created["standard_secret"]).verify(body, headers)
    assert payload["data"]["report"] == report.pk and headers["webhook-id"] == "evt-1"
    assert verify(secret=created["secret"], body=body, header=headers[SIGNATURE_HEADER])  # the older scheme too
    with pytest.raises(WebhookVerificationError):
        Webhook(created["standard_secret"]).verify(body.replace(b"submitted", b"approved"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(body, headers)


# --- A delivery tells the state of its own event ------------------------------------------------------

@pytest.mark.django_db
@LOCAL_RECEIVER
def test_each_delivery_of_a_quick_review_tells_its_own_event_and_a_retry_sends_the_same_bytes(world):
    events = ["report.submitted", "report.returned", "report.approved"]
    office = client_for(world["reporter"], can_write=True)
    reviewer = client_for(world["reviewer"], can_write=True)

    def act(client, report_id, verb, body=None):
        etag = client.get(f"/api/v1/reports/{report_id}/")["ETag"]
        response = client.post(f"/api/v1/reports/{report_id}/{verb}/", body or {}, format="json", HTTP_IF_MATCH=etag)
        assert response.status_code == 200, response.json()

    with Receiver(status=503) as receiver:
        subscribe(world, url=receiver.url, events=events)
        with time_machine.travel(dt.datetime(2021, 10, 15, 10, 0, tzinfo=CST), tick=False):  # all in one second
            filed = office.post("/api/v1/reports/", {
                "pilot": world["pilot"].pk, "subtask": world["subtask"].pk, "period": "2021Q3",
                "percent_complete": "45.0", "status": "on_track", "submit": True}, format="json")
            report_id = filed.json()["report"]["id"]
            act(reviewer, report_id, "return", {"comment": "请补充投资明细。"})
            act(office, report_id, "submit")
            act(reviewer, report_id, "approve")
        # Only now does the worker run: the payloads were built at each event.
        ids = [delivery_id for message in OutboxMessage.objects.filter(task="pilots.deliver_webhooks").order_by("id")
               for delivery_id in webhook_deliveries_record(**message.kwargs)]
        for delivery_id in ids:
            with pytest.raises(WebhookDeliveryError):  # the receiver is down: each is retried
                webhook_send(delivery_id=delivery_id)
        receiver.status = 204
        for delivery_id in ids:
            assert webhook_send(delivery_id=delivery_id) == "delivered"

    attempts = [(headers["webhook-id"], body) for headers, body in receiver.received]
    first, retried = attempts[:4], attempts[4:]
    assert retried == first  # same webhook-id, same bytes
    told = [json.loads(body) for _id, body in first]
    assert [(t["event"], t["data"]["state"], t["data"]["comment"]) for t in told] == [
        ("report.submitted", "submitted", ""),
        ("report.returned", "returned", "请补充投资明细。"),
        ("report.submitted", "submitted", ""),
        ("report.approved", "approved", ""),
    ]
    assert told[0]["data"]["reviewed_at"] is None
    assert told[1]["data"]["reviewed_at"] is not None
    assert len({t["id"] for t in told}) == 4


# --- Who may write subscriptions -------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_read_only_integrator_token_reads_subscriptions_and_writes_none(world):
    writer = client_for(world["integrator"], can_write=True)
    pk = writer.post(URL, {"url": PUBLIC_URL, "events": ["report.submitted"]}, format="json").json()["id"]
    reader = client_for(world["integrator"])

    assert reader.get(URL).json()["count"] == 1
    assert reader.get(f"{URL}{pk}/deliveries/").status_code == 200
    for response in (reader.post(URL, {"url": PUBLIC_URL, "events": ["report.submitted"]}, format="json"),
                     reader.patch(f"{URL}{pk}/", {"active": False}, format="json"),
                     reader.delete(f"{URL}{pk}/")):
        assert response.status_code == 403
        assert "只读" in response.json()["detail"]  # "This token is read-only."
    assert WebhookSubscription.objects.filter(active=True).count() == 1


@pytest.mark.django_db
def test_an_integrator_may_obtain_a_write_scoped_token_that_writes_only_its_subscriptions(world):
    world["integrator"].set_password("integrator-pass-1")
    world["integrator"].save()
    client = client_for(None)
    issued = client.post("/api/v1/auth/token/", {"username": world["integrator"].username,
                                                  "password": "integrator-pass-1", "can_write": True}, format="json")
    assert issued.status_code == 201, issued.json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.json()['key']}")

    assert client.post(URL, {"url": PUBLIC_URL, "events": ["report.submitted"]}, format="json").status_code == 201
    report = file_report(world)
    refused = client.post("/api/v1/reports/", {"pilot": world["pilot"].pk, "subtask": world["subtask"].pk,
                                               "period": "2021Q4", "percent_complete": "50", "status": "on_track"},
                          format="json")
    assert refused.status_code == 403
    etag = client.get(f"/api/v1/reports/{report.pk}/")["ETag"]
    assert client.post(f"/api/v1/reports/{report.pk}/approve/", {}, format="json",
                       HTTP_IF_MATCH=etag).status_code == 403
    assert ProgressReport.objects.count() == 1


@pytest.mark.django_db
@override_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8", "::1/128"])
def test_a_receiver_named_by_host_name_is_reached_at_the_address_checked_and_told_its_name(world):
    report = file_report(world)
    with Receiver() as receiver:
        subscribe(world, url=receiver.url.replace("127.0.0.1", "localhost"))
        [delivery_id] = webhook_deliveries_record(event="report.submitted", ref={"report": report.pk}, event_id="e")
        assert webhook_send(delivery_id=delivery_id) == "delivered"
    [(headers, _body)] = receiver.received
    assert headers["Host"] == f"localhost:{receiver.server.server_port}"
