"""Reminders: detect what is overdue, record one ``Reminder`` row per message, then deliver digests.

Detect, record, deliver — each step retryable and safe to run in parallel (the Healthchecks shape):

1. **Detect** (``overdue_items``): one query-based function per kind returns the items due soon or
   overdue today; ``item_levels`` says which reminder levels an item has reached, each with the
   date that level's occurrence belongs to.
2. **Record**: one ``Reminder`` per item × level × occurrence × recipient, INSERTed with ON CONFLICT
   DO NOTHING on the ``reminder_once`` unique constraint: a reminder recorded once is never recorded
   (nor sent) again, whoever runs the sweep and however often.
3. **Deliver** (``reminders_deliver_pending``): unsent rows are claimed with a conditional update
   (``claimed_by IS NULL``), grouped into one digest per recipient and channel, delivered, and marked
   sent. A run that dies leaves its claimed rows unsent; after ``CLAIM_TIMEOUT`` the next run
   reclaims and sends exactly those.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models import Count, DecimalField, Exists, F, OuterRef, Subquery, Value
from django.db.models.constants import OnConflict
from django.db.models.functions import Coalesce
from django.utils import timezone

from pilots.models import (
    Membership,
    Milestone,
    Organisation,
    Pilot,
    ProgressReport,
    Reminder,
    ReminderKind,
    ReminderLevel,
    ReminderRule,
)
from pilots.models.webhooks import WebhookEvent
from pilots.links import item_links
from pilots.periods import Period, periods_between
from pilots.services.overdue import overdue_computed_on, overdue_store
from pilots.services.webhooks import webhook_event_enqueue
from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.workdays import add_working_days, is_working_day, working_days_between
from tasks_app.models import Programme, SubTask

# A run that claimed reminders and has not marked them sent after this long is taken to have died.
CLAIM_TIMEOUT = dt.timedelta(minutes=10)

DEFAULT_RULES: dict[str, dict[str, int]] = {
    ReminderKind.REPORT_MISSING: {"due_soon_days": 3, "repeat_every_working_days": 5, "escalate_after_days": 10},
    ReminderKind.MILESTONE_BEHIND: {"due_soon_days": 0, "repeat_every_working_days": 10, "escalate_after_days": 20},
    ReminderKind.RETURNED_STALE: {"grace_days": 10, "due_soon_days": 2, "repeat_every_working_days": 5,
                                  "escalate_after_days": 10},
    ReminderKind.REVIEW_STALE: {"grace_days": 5, "due_soon_days": 0, "repeat_every_working_days": 3,
                                "escalate_after_days": 10},
}


def reminder_rules_ensure(*, context: ChangeContext | None = None) -> dict[str, int]:
    """Create the default rule of each kind that has none; never touch an edited rule (bootstrap)."""
    context = context or ChangeContext.command()
    created = 0
    with transaction.atomic():
        for kind, values in DEFAULT_RULES.items():
            if ReminderRule.objects.filter(kind=kind).exists():
                continue
            rule = ReminderRule(kind=kind, **values)
            rule.full_clean()
            rule.save()
            audit_record(context=context, action="create", instance=rule, before=None, after=snapshot(rule))
            created += 1
    return {"reminder_rules": created}


# --- 1. Detect --------------------------------------------------------------------------------------

@dataclass
class OverdueItem:
    kind: str
    key: str
    pilot: Pilot
    subtask: SubTask
    due_on: dt.date
    period: str = ""
    report_id: int | None = None
    milestone_id: int | None = None

    @cached_property
    def _links(self) -> tuple[str, str]:
        return item_links(kind=self.kind, pilot_id=self.pilot.pk, subtask_code=self.subtask.code, period=self.period,
                          report_id=self.report_id, milestone_id=self.milestone_id)

    @property
    def link(self) -> str:
        """The page a person is sent to."""
        return self._links[0]

    @property
    def api_url(self) -> str:
        """The same item in the API, for an integrator."""
        return self._links[1]


def _not_revoked_pilots(pilot_id: int | None = None):
    """The pilots reminded of: every one not revoked, or only ``pilot_id`` (a change's scope)."""
    pilots = Pilot.objects.exclude(state=Pilot.State.REVOKED)
    return pilots if pilot_id is None else pilots.filter(pk=pilot_id)


# Ids per ``IN (…)`` list: below SQLite's lowest limit on query parameters (999).
_ID_BATCH = 500


def _pilots_and_subtasks(rows, pilot_at: int, subtask_at: int) -> tuple[dict[int, Pilot], dict[int, SubTask]]:
    """The pilots and sub-tasks (with their task) that ``rows`` name, one instance per id.

    The items of a kind share them: ``select_related`` would build a copy of each per overdue row,
    several model instances per item at national scale. (The detectors select ``pilot_id``, not
    ``pilot``: a selected name equal to one in the model's ordering would sort by the id instead.)
    """
    pilots = Pilot.objects.in_bulk({row[pilot_at] for row in rows})
    subtasks = SubTask.objects.select_related("task").in_bulk({row[subtask_at] for row in rows})
    return pilots, subtasks


def overdue_reports_missing(*, today: dt.date, rule: ReminderRule, pilot_id: int | None = None) -> list[OverdueItem]:
    """(a) A quarter's report per pilot × sub-task not submitted by the programme's deadline.

    Only quarters the pilot's construction window overlaps; revoked pilots are left out. A report that
    was submitted (even if since returned or approved) counts as submitted.
    """
    items: list[OverdueItem] = []
    for programme in Programme.objects.filter(pilots__isnull=False).distinct():
        pilots = _not_revoked_pilots(pilot_id).filter(programme=programme)
        candidates = list(pilots)  # once, in their order; each quarter takes those whose window overlaps it
        if not candidates:
            continue
        subtasks = list(SubTask.objects.filter(task__programme=programme).select_related("task"))
        subtask_ids = [subtask.pk for subtask in subtasks]
        due = []
        for period in periods_between(min(pilot.construction_start for pilot in candidates), today):
            due_on = period.deadline(programme.report_due_days).date
            if today >= period.end and today >= due_on - dt.timedelta(days=rule.due_soon_days):
                due.append((period, str(period), due_on))
        filed_reports = (ProgressReport.objects.filter(pilot__in=pilots, subtask_id__in=subtask_ids)
                         .exclude(state=ProgressReport.State.DRAFT))
        # Most quarters are long filed: count the filed sub-tasks per quarter and pilot (one query), and fetch
        # the filed pairs only of the pilots that filed some but not all, not every filed pair of every quarter.
        filed_count = {
            (label, pilot_id): n for label, pilot_id, n in
            filed_reports.filter(period__in=[label for _period, label, _due_on in due]).order_by()
            .values("period", "pilot_id").annotate(n=Count("subtask_id", distinct=True))
            .values_list("period", "pilot_id", "n")
        }
        for period, label, due_on in due:
            missing = [pilot for pilot in candidates
                       if pilot.construction_start <= period.end and pilot.construction_end >= period.start
                       and filed_count.get((label, pilot.pk), 0) < len(subtask_ids)]
            partly = [pilot.pk for pilot in missing if (label, pilot.pk) in filed_count]
            filed = set()
            for at in range(0, len(partly), _ID_BATCH):
                filed.update(filed_reports.filter(period=label, pilot_id__in=partly[at:at + _ID_BATCH])
                             .values_list("pilot_id", "subtask_id"))
            items += [
                OverdueItem(kind=ReminderKind.REPORT_MISSING, key=f"report:{pilot.pk}:{subtask.pk}:{label}",
                            pilot=pilot, subtask=subtask, due_on=due_on, period=label)
                for pilot in missing for subtask in subtasks if (pilot.pk, subtask.pk) not in filed
            ]
    return items


def overdue_milestones(*, today: dt.date, rule: ReminderRule, pilot_id: int | None = None) -> list[OverdueItem]:
    """(b) The latest milestone that has come due whose pilot's latest approved percent is below target."""
    latest_approved = (
        ProgressReport.objects.filter(pilot_id=OuterRef("plan_item__pilot_id"), subtask_id=OuterRef("plan_item__subtask_id"),
                                      state=ProgressReport.State.APPROVED)
        .order_by("-period_start", "-revision").values("percent_complete")[:1]
    )
    horizon = today + dt.timedelta(days=rule.due_soon_days)
    later_due = Milestone.objects.filter(plan_item_id=OuterRef("plan_item_id"), due_on__gt=OuterRef("due_on"),
                                         due_on__lte=horizon)
    rows = list(
        Milestone.objects.filter(due_on__lte=horizon, plan_item__pilot__in=_not_revoked_pilots(pilot_id))
        .alias(approved=Coalesce(Subquery(latest_approved), Value(Decimal(0)),
                                 output_field=DecimalField(max_digits=4, decimal_places=1)))
        .filter(approved__lt=F("target_percent"))
        .exclude(Exists(later_due))  # a superseded milestone is not reminded of twice
        .values_list("pk", "due_on", "plan_item__pilot_id", "plan_item__subtask_id")
    )
    pilots, subtasks = _pilots_and_subtasks(rows, 2, 3)
    return [
        OverdueItem(kind=ReminderKind.MILESTONE_BEHIND, key=f"milestone:{pk}", pilot=pilots[pilot_id],
                    subtask=subtasks[subtask_id], due_on=due_on, milestone_id=pk)
        for pk, due_on, pilot_id, subtask_id in rows
    ]


def overdue_returned_reports(*, today: dt.date, rule: ReminderRule, pilot_id: int | None = None) -> list[OverdueItem]:
    """(c) A returned report not resubmitted within ``grace_days`` calendar days of its return."""
    earliest_due_soon = today - dt.timedelta(days=max(rule.grace_days - rule.due_soon_days, 0))
    rows = list(
        ProgressReport.objects.filter(state=ProgressReport.State.RETURNED, is_current=True,
                                      reviewed_at__date__lte=earliest_due_soon, pilot__in=_not_revoked_pilots(pilot_id))
        .values_list("pk", "pilot_id", "subtask_id", "period", "reviewed_at")
    )
    pilots, subtasks = _pilots_and_subtasks(rows, 1, 2)
    return [
        OverdueItem(kind=ReminderKind.RETURNED_STALE, key=f"returned:{pk}:{int(reviewed_at.timestamp())}",
                    pilot=pilots[pilot_id], subtask=subtasks[subtask_id], period=period, report_id=pk,
                    due_on=timezone.localdate(reviewed_at) + dt.timedelta(days=rule.grace_days))
        for pk, pilot_id, subtask_id, period, reviewed_at in rows
    ]


def overdue_reviews(*, today: dt.date, rule: ReminderRule, pilot_id: int | None = None) -> list[OverdueItem]:
    """(d) A submitted report not reviewed within ``grace_days`` working days of its submission."""
    # N working days after a date are at least N calendar days after it: a cheap pre-filter.
    earliest_due_soon = today - dt.timedelta(days=max(rule.grace_days - rule.due_soon_days, 0))
    rows = list(
        ProgressReport.objects.filter(state=ProgressReport.State.SUBMITTED, is_current=True,
                                      submitted_at__date__lte=earliest_due_soon,
                                      pilot__in=_not_revoked_pilots(pilot_id))
        .values_list("pk", "pilot_id", "subtask_id", "period", "submitted_at")
    )
    pilots, subtasks = _pilots_and_subtasks(rows, 1, 2)
    due_after: dict[dt.date, dt.date] = {}  # submission day → due date: many reports share a day
    items = []
    for pk, pilot_id, subtask_id, period, submitted_at in rows:
        submitted_on = timezone.localdate(submitted_at)
        if submitted_on not in due_after:
            due_after[submitted_on] = add_working_days(submitted_on, rule.grace_days)
        due_on = due_after[submitted_on]
        if today >= due_on - dt.timedelta(days=rule.due_soon_days):
            items.append(OverdueItem(
                kind=ReminderKind.REVIEW_STALE, key=f"review:{pk}:{int(submitted_at.timestamp())}",
                pilot=pilots[pilot_id], subtask=subtasks[subtask_id], period=period, report_id=pk, due_on=due_on))
    return items


DETECTORS = {
    ReminderKind.REPORT_MISSING: overdue_reports_missing,
    ReminderKind.MILESTONE_BEHIND: overdue_milestones,
    ReminderKind.RETURNED_STALE: overdue_returned_reports,
    ReminderKind.REVIEW_STALE: overdue_reviews,
}


def item_levels(*, due_on: dt.date, today: dt.date, rule: ReminderRule) -> list[tuple[str, dt.date]]:
    """The levels an item has reached today, each with its occurrence date.

    - due soon: within ``due_soon_days`` before the due date (occurrence: the due date);
    - overdue: from the day after the due date (occurrence: that day);
    - repeat: every ``repeat_every_working_days`` working days after the overdue day (occurrence: the
      working day the repeat falls on), replacing the overdue level;
    - escalation: from ``escalate_after_days`` days after the due date (occurrence: that day), in addition.
    """
    if today <= due_on:
        if rule.due_soon_days and (due_on - today).days <= rule.due_soon_days:
            return [(ReminderLevel.DUE_SOON, due_on)]
        return []
    levels = []
    every = rule.repeat_every_working_days
    late = working_days_between(due_on, today)  # the first working day after the due date is 1
    if every and late > every:
        levels.append((ReminderLevel.REPEAT, add_working_days(due_on, 1 + (late - 1) // every * every)))
    else:
        levels.append((ReminderLevel.OVERDUE, due_on + dt.timedelta(days=1)))
    if rule.escalate_after_days and (today - due_on).days >= rule.escalate_after_days:
        levels.append((ReminderLevel.ESCALATION, due_on + dt.timedelta(days=rule.escalate_after_days)))
    return levels


def _levels_by_due_date(*, today: dt.date, rule: ReminderRule):
    """``item_levels`` for one rule and day, once per due date: the items of a quarter share theirs."""
    levels: dict[dt.date, list[tuple[str, dt.date]]] = {}

    def levels_on(due_on: dt.date) -> list[tuple[str, dt.date]]:
        if due_on not in levels:
            levels[due_on] = item_levels(due_on=due_on, today=today, rule=rule)
        return levels[due_on]

    return levels_on


@dataclass
class OverdueEntry:
    item: OverdueItem
    level: str
    occurrence: dt.date


@dataclass
class _Detected:
    rule: ReminderRule
    item: OverdueItem
    levels: list[tuple[str, dt.date]]  # every level reached today, the highest last


def _detect(*, today: dt.date, rules: list[ReminderRule], pilot_id: int | None = None) -> list[_Detected]:
    """The one rule for what is due: every item of ``rules`` that has reached a level today."""
    detected = []
    for rule in rules:
        levels_on = _levels_by_due_date(today=today, rule=rule)
        for item in DETECTORS[rule.kind](today=today, rule=rule, pilot_id=pilot_id):
            levels = levels_on(item.due_on)
            if levels:
                detected.append(_Detected(rule, item, levels))
    return detected


def _entries(detected: list[_Detected]) -> list[OverdueEntry]:
    return [OverdueEntry(item=d.item, level=d.levels[-1][0], occurrence=d.levels[-1][1]) for d in detected]


def overdue_now(*, today: dt.date, rules: list[ReminderRule] | None = None,
                pilot_id: int | None = None) -> list[OverdueEntry]:
    """Every item due soon or overdue today with its highest current level (what ``/overdue/`` stores)."""
    rules = rules if rules is not None else list(ReminderRule.objects.filter(enabled=True))
    return _entries(_detect(today=today, rules=rules, pilot_id=pilot_id))


def overdue_refresh(*, now: dt.datetime | None = None, pilot_id: int | None = None) -> int:
    """Detect what is overdue now and store it: every item, or only ``pilot_id``'s (after a change to it).

    What a report submitted, reviewed or a milestone met leaves overdue is exactly what the sweep would
    find: the same detection, limited to the pilot. Returns the items stored.
    """
    now = now or timezone.now()
    entries = overdue_now(today=timezone.localdate(now), pilot_id=pilot_id)
    return overdue_store(entries, computed_at=now, pilot_id=pilot_id)


# --- 2. Record --------------------------------------------------------------------------------------

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
    from pilots.channels import CHANNELS, DeliveryError, Digest, DigestRow

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


__all__ = [
    "CLAIM_TIMEOUT", "DETECTORS", "OverdueEntry", "OverdueItem", "Period", "item_levels", "overdue_now",
    "overdue_refresh",
    "reminder_rules_ensure", "reminders_deliver_pending", "reminders_record", "reminders_sweep",
]
