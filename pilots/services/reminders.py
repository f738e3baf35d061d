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

from django.conf import settings
from django.db import transaction
from django.db.models import DecimalField, Exists, F, OuterRef, Subquery, Value
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
from pilots.periods import Period, periods_between
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
    path: str = ""

    @property
    def link(self) -> str:
        return f"{settings.SITE_URL}{self.path}"


def _not_revoked_pilots():
    return Pilot.objects.exclude(state=Pilot.State.REVOKED)


def overdue_reports_missing(*, today: dt.date, rule: ReminderRule) -> list[OverdueItem]:
    """(a) A quarter's report per pilot × sub-task not submitted by the programme's deadline.

    Only quarters the pilot's construction window overlaps; revoked pilots are left out. A report that
    was submitted (even if since returned or approved) counts as submitted.
    """
    items: list[OverdueItem] = []
    for programme in Programme.objects.filter(pilots__isnull=False).distinct():
        pilots = _not_revoked_pilots().filter(programme=programme)
        first = pilots.order_by("construction_start").values_list("construction_start", flat=True).first()
        if first is None:
            continue
        subtasks = list(SubTask.objects.filter(task__programme=programme).select_related("task"))
        for period in periods_between(first, today):
            due_on = period.deadline(programme.report_due_days).date
            if today < period.end or today < due_on - dt.timedelta(days=rule.due_soon_days):
                continue
            in_window = list(pilots.filter(construction_start__lte=period.end, construction_end__gte=period.start))
            filed = set(
                ProgressReport.objects.filter(pilot__in=in_window, period=str(period))
                .exclude(state=ProgressReport.State.DRAFT).values_list("pilot_id", "subtask_id")
            )
            items += [
                OverdueItem(kind=ReminderKind.REPORT_MISSING, key=f"report:{pilot.pk}:{subtask.pk}:{period}",
                            pilot=pilot, subtask=subtask, due_on=due_on, period=str(period),
                            path=f"/api/v1/reports/?pilot={pilot.pk}&subtask={subtask.pk}&period={period}")
                for pilot in in_window for subtask in subtasks if (pilot.pk, subtask.pk) not in filed
            ]
    return items


def overdue_milestones(*, today: dt.date, rule: ReminderRule) -> list[OverdueItem]:
    """(b) The latest milestone that has come due whose pilot's latest approved percent is below target."""
    latest_approved = (
        ProgressReport.objects.filter(pilot_id=OuterRef("plan_item__pilot_id"), subtask_id=OuterRef("plan_item__subtask_id"),
                                      state=ProgressReport.State.APPROVED)
        .order_by("-period_start", "-revision").values("percent_complete")[:1]
    )
    horizon = today + dt.timedelta(days=rule.due_soon_days)
    later_due = Milestone.objects.filter(plan_item_id=OuterRef("plan_item_id"), due_on__gt=OuterRef("due_on"),
                                         due_on__lte=horizon)
    milestones = (
        Milestone.objects.filter(due_on__lte=horizon, plan_item__pilot__in=_not_revoked_pilots())
        .annotate(approved=Coalesce(Subquery(latest_approved), Value(Decimal(0)),
                                    output_field=DecimalField(max_digits=4, decimal_places=1)))
        .filter(approved__lt=F("target_percent"))
        .exclude(Exists(later_due))  # a superseded milestone is not reminded of twice
        .select_related("plan_item__pilot", "plan_item__subtask__task")
    )
    return [
        OverdueItem(kind=ReminderKind.MILESTONE_BEHIND, key=f"milestone:{m.pk}", pilot=m.plan_item.pilot,
                    subtask=m.plan_item.subtask, due_on=m.due_on, milestone_id=m.pk,
                    path=f"/api/v1/milestones/{m.pk}/")
        for m in milestones
    ]


def overdue_returned_reports(*, today: dt.date, rule: ReminderRule) -> list[OverdueItem]:
    """(c) A returned report not resubmitted within ``grace_days`` calendar days of its return."""
    earliest_due_soon = today - dt.timedelta(days=max(rule.grace_days - rule.due_soon_days, 0))
    reports = (
        ProgressReport.objects.filter(state=ProgressReport.State.RETURNED, is_current=True,
                                      reviewed_at__date__lte=earliest_due_soon, pilot__in=_not_revoked_pilots())
        .select_related("pilot", "subtask__task")
    )
    return [
        OverdueItem(kind=ReminderKind.RETURNED_STALE, key=f"returned:{r.pk}:{int(r.reviewed_at.timestamp())}",
                    pilot=r.pilot, subtask=r.subtask, period=r.period, report_id=r.pk,
                    due_on=timezone.localdate(r.reviewed_at) + dt.timedelta(days=rule.grace_days),
                    path=f"/api/v1/reports/{r.pk}/")
        for r in reports
    ]


def overdue_reviews(*, today: dt.date, rule: ReminderRule) -> list[OverdueItem]:
    """(d) A submitted report not reviewed within ``grace_days`` working days of its submission."""
    # N working days after a date are at least N calendar days after it: a cheap pre-filter.
    earliest_due_soon = today - dt.timedelta(days=max(rule.grace_days - rule.due_soon_days, 0))
    reports = (
        ProgressReport.objects.filter(state=ProgressReport.State.SUBMITTED, is_current=True,
                                      submitted_at__date__lte=earliest_due_soon, pilot__in=_not_revoked_pilots())
        .select_related("pilot", "subtask__task")
    )
    items = []
    for r in reports:
        due_on = add_working_days(timezone.localdate(r.submitted_at), rule.grace_days)
        if today >= due_on - dt.timedelta(days=rule.due_soon_days):
            items.append(OverdueItem(
                kind=ReminderKind.REVIEW_STALE, key=f"review:{r.pk}:{int(r.submitted_at.timestamp())}", pilot=r.pilot,
                subtask=r.subtask, period=r.period, report_id=r.pk, due_on=due_on, path=f"/api/v1/reports/{r.pk}/"))
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


@dataclass
class OverdueEntry:
    item: OverdueItem
    level: str
    occurrence: dt.date


def overdue_now(*, today: dt.date, rules: list[ReminderRule] | None = None) -> list[OverdueEntry]:
    """Every item due soon or overdue today with its highest current level (what ``/overdue/`` lists)."""
    rules = rules if rules is not None else list(ReminderRule.objects.filter(enabled=True))
    entries = []
    for rule in rules:
        for item in DETECTORS[rule.kind](today=today, rule=rule):
            levels = item_levels(due_on=item.due_on, today=today, rule=rule)
            if levels:
                level, occurrence = levels[-1]
                entries.append(OverdueEntry(item=item, level=level, occurrence=occurrence))
    return entries


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


@dataclass
class _Directory:
    """Who works where, loaded once per sweep."""

    offices: dict[int, Organisation] = field(default_factory=dict)  # by prefecture id
    reporters: dict[int, list] = field(default_factory=lambda: defaultdict(list))  # by prefecture id
    province: Organisation | None = None
    reviewers: list = field(default_factory=list)

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
        office = self.offices.get(item.pilot.prefecture_id)
        if item.kind == ReminderKind.REVIEW_STALE:
            told = self._people(self.reviewers, self.province, self.province.contact_email if self.province else "")
        else:
            told = self._people(self.reporters.get(item.pilot.prefecture_id, []), office,
                                office.contact_email if office else "")
        if level == ReminderLevel.ESCALATION:
            if self.province is not None:
                if item.kind != ReminderKind.REVIEW_STALE:
                    told += self._people(self.reviewers, self.province, "")
                if self.province.contact_email:
                    told.append(_Recipient(Reminder.Channel.EMAIL, self.province.contact_email.lower(), self.province))
            if office is not None and office.leadership_email:
                told.append(_Recipient(Reminder.Channel.EMAIL, office.leadership_email.lower(), office))
        unique = {}
        for recipient in told:
            unique.setdefault(recipient.key, recipient)
        return list(unique.values())


def reminders_record(*, today: dt.date, hour: int) -> int:
    """Record the reminders due today for every enabled rule whose send hour has come; returns rows offered."""
    rules = [rule for rule in ReminderRule.objects.filter(enabled=True) if rule.send_hour <= hour]
    if not rules:
        return 0
    directory = _Directory.load()
    rows = []
    for entry_rule in rules:
        for item in DETECTORS[entry_rule.kind](today=today, rule=entry_rule):
            for level, occurrence in item_levels(due_on=item.due_on, today=today, rule=entry_rule):
                for recipient in directory.recipients(item, level):
                    rows.append(Reminder(
                        item_key=item.key, kind=item.kind, level=level, occurrence=occurrence,
                        recipient=recipient.key, channel=recipient.channel, recipient_user=recipient.user,
                        recipient_email=recipient.address if recipient.channel == Reminder.Channel.EMAIL else "",
                        organisation=recipient.organisation, pilot=item.pilot, subtask=item.subtask,
                        period=item.period, report_id=item.report_id, milestone_id=item.milestone_id,
                        due_on=item.due_on, link=item.link,
                    ))
    # INSERT … ON CONFLICT DO NOTHING on ``reminder_once``: what was recorded before stays as it was.
    Reminder.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return len(rows)


# --- 3. Deliver -------------------------------------------------------------------------------------

def reminders_deliver_pending(*, now: dt.datetime, run_id: str, channels=None) -> dict[str, int]:
    """Claim the unsent reminders, deliver one digest per recipient and channel, mark each sent."""
    from pilots.channels import CHANNELS, DeliveryError, Digest

    channels = channels or CHANNELS
    unsent = Reminder.objects.filter(sent_at__isnull=True, failed_at__isnull=True)
    # A run that died: its claims expire and this run takes them over.
    unsent.filter(claimed_at__lt=now - CLAIM_TIMEOUT).update(claimed_by=None, claimed_at=None)
    unsent.filter(claimed_by__isnull=True).update(claimed_by=run_id, claimed_at=now)
    claimed = (
        Reminder.objects.filter(claimed_by=run_id, sent_at__isnull=True)
        .select_related("pilot", "subtask", "recipient_user__membership")
        .order_by("channel", "recipient", "due_on", "id")
    )
    groups: dict[tuple[str, str], list[Reminder]] = defaultdict(list)
    for reminder in claimed:
        groups[(reminder.channel, reminder.recipient)].append(reminder)
    counts = {"digests": 0, "reminders": 0, "failed": 0}
    for (channel_name, _key), reminders in groups.items():
        ids = [r.pk for r in reminders]
        digest = Digest.for_reminders(reminders)
        try:
            with transaction.atomic():  # an in-app digest and its "sent" mark commit together
                channels[channel_name].deliver(digest.recipient, digest)
                Reminder.objects.filter(pk__in=ids, claimed_by=run_id, sent_at__isnull=True).update(
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
        return {"skipped": "not a working day"}
    if not ReminderRule.objects.filter(enabled=True, send_hour__lte=local.hour).exists():
        return {"skipped": "before the send hour"}
    recorded = reminders_record(today=local.date(), hour=local.hour)
    result = reminders_deliver_pending(now=now, run_id=uuid.uuid4().hex, channels=channels)
    return {"recorded": recorded, **result}


__all__ = [
    "CLAIM_TIMEOUT", "DETECTORS", "OverdueEntry", "OverdueItem", "Period", "item_levels", "overdue_now",
    "reminder_rules_ensure", "reminders_deliver_pending", "reminders_record", "reminders_sweep",
]
