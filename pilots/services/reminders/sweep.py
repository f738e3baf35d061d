"""2. Record and 3. deliver: one ``Reminder`` row per message, then one digest per recipient and channel."""


from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models import F
from django.db.models.constants import OnConflict
from django.utils import timezone

from pilots.models import (
    Membership,
    Organisation,
    Pilot,
    Reminder,
    ReminderKind,
    ReminderLevel,
    ReminderRule,
)
from pilots.models.webhooks import WebhookEvent
from pilots.services.overdue import overdue_computed_on, overdue_store
from pilots.services.reminders.channels import CHANNELS, DeliveryError, Digest, DigestRow
from pilots.services.reminders.detection import OverdueItem, _detect, _Detected, _entries, overdue_refresh
from pilots.services.webhooks import webhook_event_enqueue
from smartcity.workdays import is_working_day
from tasks_app.models import SubTask

# A run that claimed reminders and has not marked them sent after this long is taken to have died.
CLAIM_TIMEOUT = dt.timedelta(minutes=10)


@dataclass
class _Recipient:
    channel: str
    address: str  # the email address, or the user id for in-app
    organisation: Organisation | None
    user: object = None

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.address}"

    @cached_property
    def columns(self) -> tuple:
        """This recipient's values of ``_RECORDED[4:9]``."""
        return (self.key, self.channel, self.user.pk if self.user is not None else None,
                self.address if self.channel == Reminder.Channel.EMAIL else "",
                self.organisation.pk if self.organisation is not None else None)


@dataclass
class _Directory:
    """Who works where, loaded once per sweep."""

    offices: dict[int, Organisation] = field(default_factory=dict)  # by prefecture id
    reporters: dict[int, list] = field(default_factory=lambda: defaultdict(list))  # by prefecture id
    province: Organisation | None = None
    reviewers: list = field(default_factory=list)
    told: dict[tuple, list[_Recipient]] = field(default_factory=dict)  # recipients() by its key

    @classmethod
    def load(cls) -> _Directory:
        directory = cls()
        for office in Organisation.objects.filter(kind=Organisation.Kind.PREFECTURE):
            directory.offices[office.prefecture_id] = office
        directory.province = Organisation.objects.filter(kind=Organisation.Kind.PROVINCE).order_by("pk").first()
        memberships = Membership.objects.filter(user__is_active=True).select_related("user", "organisation")
        for membership in memberships.filter(role=Membership.Role.REPORTER, organisation__kind=Organisation.Kind.PREFECTURE):
            directory.reporters[membership.organisation.prefecture_id].append(membership.user)
        directory.reviewers = [m.user for m in memberships.filter(role=Membership.Role.REVIEWER,
                                                                  organisation__kind=Organisation.Kind.PROVINCE)]
        return directory

    def _people(self, users, organisation, fallback_email: str) -> list[_Recipient]:
        out = []
        for user in users:
            out.append(_Recipient(Reminder.Channel.IN_APP, str(user.pk), organisation, user))
            if user.email:
                out.append(_Recipient(Reminder.Channel.EMAIL, user.email.lower(), organisation, user))
        if not users and fallback_email:
            out.append(_Recipient(Reminder.Channel.EMAIL, fallback_email.lower(), organisation))
        return out

    def recipients(self, item: OverdueItem, level: str) -> list[_Recipient]:
        """Who is told of ``item`` at ``level``: it depends only on the pilot's prefecture, the kind and the
        level, so it is worked out once per sweep for each (the list is shared: do not change it)."""
        key = (item.pilot.prefecture_id, item.kind, level)
        if key not in self.told:
            self.told[key] = self._recipients(*key)
        return self.told[key]

    def _recipients(self, prefecture_id: int, kind: str, level: str) -> list[_Recipient]:
        office = self.offices.get(prefecture_id)
        if kind == ReminderKind.REVIEW_STALE:
            told = self._people(self.reviewers, self.province, self.province.contact_email if self.province else "")
        else:
            told = self._people(self.reporters.get(prefecture_id, []), office, office.contact_email if office else "")
        if level == ReminderLevel.ESCALATION:
            if self.province is not None:
                if kind != ReminderKind.REVIEW_STALE:
                    told += self._people(self.reviewers, self.province, "")
                if self.province.contact_email:
                    told.append(_Recipient(Reminder.Channel.EMAIL, self.province.contact_email.lower(), self.province))
            if office is not None and office.leadership_email:
                told.append(_Recipient(Reminder.Channel.EMAIL, office.leadership_email.lower(), office))
        unique = {}
        for recipient in told:
            unique.setdefault(recipient.key, recipient)
        return list(unique.values())


# The Reminder columns the sweep fills, in the order of each recorded row; the others take their model
# default (``created_at``: the time of recording), as ``bulk_create`` would give them.
_RECORDED = ("item_key", "kind", "level", "occurrence", "recipient", "channel", "recipient_user", "recipient_email",
             "organisation", "pilot", "subtask", "period", "report", "milestone", "due_on", "link")
# Rows per INSERT statement: bounded, however many reminders a sweep records.
RECORD_BATCH = 10_000


def reminders_record(*, today: dt.date, hour: int) -> int:
    """Record the reminders due today for every enabled rule whose send hour has come; returns rows offered."""
    rules = [rule for rule in ReminderRule.objects.filter(enabled=True) if rule.send_hour <= hour]
    if not rules:
        return 0
    return _record(_detect(today=today, rules=rules))


def _record(detected: list[_Detected]) -> int:
    if not detected:
        return 0
    directory = _Directory.load()
    rows = []
    for found in detected:
        item = found.item
        about = (item.pilot.pk, item.subtask.pk, item.period, item.report_id, item.milestone_id, item.due_on,
                 item.link)
        for level, occurrence in found.levels:
            for recipient in directory.recipients(item, level):
                rows.append((item.key, item.kind, level, occurrence, *recipient.columns, *about))
    _reminders_insert(rows)
    return len(rows)


def _reminders_insert(rows: list[tuple]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on ``reminder_once`` (``_RECORDED`` rows): what was recorded before
    stays as it was.

    The statements ``bulk_create(ignore_conflicts=True)`` would run (on PostgreSQL an INSERT … SELECT FROM
    UNNEST of one array per column, elsewhere INSERT OR IGNORE), without a model instance prepared field by
    field per row, which was most of the recording time at national scale; the columns every row leaves to
    its default are sent once, not once per row.
    """
    if not rows:
        return
    meta = Reminder._meta
    recorded = [meta.get_field(name) for name in _RECORDED]
    defaulted = [f for f in meta.concrete_fields if not f.primary_key and f not in recorded]
    now = timezone.now()
    defaults = [f.get_db_prep_save(now if getattr(f, "auto_now_add", False) else f.get_default(), connection)
                for f in defaulted]
    ops = connection.ops
    table = ops.quote_name(meta.db_table)
    names = ", ".join(ops.quote_name(f.column) for f in recorded + defaulted)
    insert = ops.insert_statement(on_conflict=OnConflict.IGNORE)
    conflict = ops.on_conflict_suffix_sql(recorded + defaulted, OnConflict.IGNORE, None, None)
    unnest = connection.vendor == "postgresql"
    if unnest:
        sql = (f"{insert} {table} ({names}) SELECT *, {', '.join(f'%s::{_db_type(f)}' for f in defaulted)} "
               f"FROM UNNEST({', '.join(f'%s::{_db_type(f)}[]' for f in recorded)}) {conflict}")
    else:
        sql = f"{insert} {table} ({names}) VALUES ({', '.join(['%s'] * (len(recorded) + len(defaulted)))}) {conflict}"
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for at in range(0, len(rows), RECORD_BATCH):
            columns = [_db_values(f, column) for f, column in zip(recorded, zip(*rows[at:at + RECORD_BATCH]))]
            if unnest:
                cursor.execute(sql, [*defaults, *columns])  # the SELECT list's placeholders come first
            else:
                cursor.executemany(sql, [(*row, *defaults) for row in zip(*columns)])


def _db_type(field: models.Field) -> str:
    """The column's type for a cast: varchar, not varchar(120), as Django casts UNNEST arrays."""
    return field.db_type(connection).split("(")[0]


def _db_values(field: models.Field, values) -> list:
    """``values`` as the backend stores them: str, int and None are that already; dates (and times) are
    adapted by the backend (strings on SQLite), once per distinct value."""
    values = list(values)
    if not isinstance(field, models.DateField):
        return values
    prepared: dict = {}
    for value in values:
        if value not in prepared:
            prepared[value] = field.get_db_prep_save(value, connection)
    return [prepared[value] for value in values]


# --- 3. Deliver -------------------------------------------------------------------------------------

def reminders_deliver_pending(*, now: dt.datetime, run_id: str, channels=None) -> dict[str, int]:
    """Claim the unsent reminders, deliver one digest per recipient and channel, mark each sent."""

    channels = channels or CHANNELS
    unsent = Reminder.objects.filter(sent_at__isnull=True, failed_at__isnull=True)
    # A run that died: its claims expire and this run takes them over.
    unsent.filter(claimed_at__lt=now - CLAIM_TIMEOUT).update(claimed_by=None, claimed_at=None)
    unsent.filter(claimed_by__isnull=True).update(claimed_by=run_id, claimed_at=now)
    claimed = Reminder.objects.filter(claimed_by=run_id, sent_at__isnull=True)
    groups: dict[tuple[str, str], list[DigestRow]] = defaultdict(list)
    for row in claimed.order_by("channel", "recipient", "due_on", "id").values_list(*DigestRow._fields):
        row = DigestRow._make(row)
        groups[(row.channel, row.recipient)].append(row)
    counts = {"digests": 0, "reminders": 0, "failed": 0}
    if not groups:
        return counts
    # What the digests name, loaded once per pilot, sub-task and user rather than joined onto every row.
    pilots = {pk: (name_zh, name_en) for pk, name_zh, name_en in
              Pilot.objects.filter(pk__in=claimed.values("pilot_id")).values_list("pk", "name_zh", "name_en")}
    subtasks = dict(SubTask.objects.filter(pk__in=claimed.values("subtask_id")).values_list("pk", "code"))
    users = (get_user_model().objects.filter(pk__in=claimed.values("recipient_user_id"))
             .select_related("membership").in_bulk())
    for (channel_name, _key), rows in groups.items():
        ids = [row.id for row in rows]
        digest = Digest.for_rows(rows, user=users.get(rows[0].recipient_user_id), pilots=pilots, subtasks=subtasks)
        try:
            with transaction.atomic():  # an in-app digest and its "sent" mark commit together
                channels[channel_name].deliver(digest.recipient, digest)
                # Only while the claim is still this run's (another run takes it over after CLAIM_TIMEOUT).
                # No "unsent" test: nothing else sends what this run claimed, and with it PostgreSQL, whose
                # statistics predate the claim, may scan all the run's rows through the unsent index for
                # each digest instead of looking the ids up by primary key.
                Reminder.objects.filter(pk__in=ids, claimed_by=run_id).update(
                    sent_at=now, attempts=F("attempts") + 1, last_error="")
                webhook_event_enqueue(event=WebhookEvent.REMINDER_SENT, ref={"reminders": ids})
        except DeliveryError as exc:
            counts["failed"] += len(ids)
            Reminder.objects.filter(pk__in=ids, claimed_by=run_id).update(
                attempts=F("attempts") + 1, last_error=str(exc)[:2000],
                # retryable: release the claim for the next run; otherwise give up, visibly.
                **({"claimed_by": None, "claimed_at": None} if exc.retryable else {"failed_at": now}),
            )
            continue
        counts["digests"] += 1
        counts["reminders"] += len(ids)
    return counts


def reminders_sweep(*, now: dt.datetime | None = None, channels=None) -> dict[str, int | str]:
    """The periodic job: on working days from each rule's send hour, record and deliver reminders.

    Runs every 15 minutes (``pilots.send_reminders``); it decides itself whether it is time.
    """
    now = now or timezone.now()
    local = timezone.localtime(now)
    if not is_working_day(local.date()):
        _overdue_refresh_if_stale(now)
        return {"skipped": "not a working day"}
    rules = list(ReminderRule.objects.filter(enabled=True))
    if not any(rule.send_hour <= local.hour for rule in rules):
        _overdue_refresh_if_stale(now)
        return {"skipped": "before the send hour"}
    # One detection for both: the stored overdue list (every enabled rule) and the reminders due now.
    detected = _detect(today=local.date(), rules=rules)
    overdue_store(_entries(detected), computed_at=now)
    recorded = _record([found for found in detected if found.rule.send_hour <= local.hour])
    result = reminders_deliver_pending(now=now, run_id=uuid.uuid4().hex, channels=channels)
    return {"recorded": recorded, **result}


def _overdue_refresh_if_stale(now: dt.datetime) -> None:
    """Outside the sending hours the stored list is recomputed once a day, when the date moves on (an item
    becomes due soon or overdue by the calendar alone); changes to a pilot refresh its items meanwhile."""
    if overdue_computed_on() != timezone.localdate(now):
        overdue_refresh(now=now)
