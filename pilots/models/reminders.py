"""Reminders: the rules (data, editable in the admin), what was sent to whom, and in-app notifications.

Detect, record, then deliver (see ``pilots.services.reminders``): a ``Reminder`` row is one message to
one recipient on one channel about one overdue item at one level on one occurrence date. Its unique
constraint is what makes a reminder never go out twice, however many sweeps run at once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from smartcity.auth.scoping import ScopedQuerySet


class ReminderKind(models.TextChoices):
    REPORT_MISSING = "report_missing", _("quarterly report not submitted")
    MILESTONE_BEHIND = "milestone_behind", _("milestone passed below target")
    RETURNED_STALE = "returned_stale", _("returned report not resubmitted")
    REVIEW_STALE = "review_stale", _("submitted report not reviewed")


def reminder_kind_labels(language: str) -> dict[str, str]:
    """Each kind's label in ``language``, capital first: what a digest and the dashboard call it."""
    with translation.override(language):
        return {kind.value: capfirst(str(kind.label)) for kind in ReminderKind}


class ReminderLevel(models.TextChoices):
    DUE_SOON = "due_soon", _("due soon")
    OVERDUE = "overdue", _("overdue")
    REPEAT = "repeat", _("still overdue")
    ESCALATION = "escalation", _("escalated")


class ReminderRule(models.Model):
    """When and to whom one kind of reminder goes. One row per kind, seeded by ``bootstrap``."""

    kind = models.CharField(_("kind"), max_length=20, choices=ReminderKind.choices, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    grace_days = models.PositiveSmallIntegerField(
        _("days allowed"), default=0,
        help_text=_("Returned reports: calendar days to resubmit; submitted reports: working days to review. "
                    "Unused for reports and milestones, whose due dates are their own."),
    )
    due_soon_days = models.PositiveSmallIntegerField(
        _("remind this many days before"), default=3, help_text=_("0: no reminder before the due date."))
    repeat_every_working_days = models.PositiveSmallIntegerField(
        _("repeat every (working days)"), default=5, help_text=_("0: never repeat."))
    escalate_after_days = models.PositiveSmallIntegerField(
        _("escalate after (days overdue)"), default=10, help_text=_("0: never escalate."))
    send_hour = models.PositiveSmallIntegerField(
        _("send at (hour, Asia/Shanghai)"), default=9, help_text=_("Reminders go out on working days from this hour."))

    class Meta:
        verbose_name = _("reminder rule")
        verbose_name_plural = _("reminder rules")
        ordering = ["kind"]
        constraints = [models.CheckConstraint(condition=Q(send_hour__lte=23), name="reminder_rule_send_hour_valid")]

    def __str__(self) -> str:
        return self.get_kind_display()


class ReminderQuerySet(ScopedQuerySet):
    """Reminders sent to the caller's organisation; the province (and other province-wide roles) see all."""

    def own_rows(self, actor) -> Q:
        return Q(organisation_id=actor.organisation_id)


class Reminder(models.Model):
    """One reminder to one recipient on one channel: recorded first, then claimed, then delivered."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("email")
        IN_APP = "in_app", _("in-app notification")

    item_key = models.CharField(_("item"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=ReminderKind.choices)
    level = models.CharField(_("level"), max_length=12, choices=ReminderLevel.choices)
    occurrence = models.DateField(_("occurrence"))
    recipient = models.CharField(_("recipient"), max_length=300, help_text=_("channel:address, e.g. email:a@b.cn"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # Only the foreign keys that reads filter on (organisation, pilot) have a full index: each index costs
    # every sweep an entry per reminder recorded, claimed and sent. The other keys are read by deletions
    # alone: a milestone (plan edits) or a report (``benchmark_generate --reset``) is looked up by a
    # partial index (Meta); deleting a user or a sub-task, which the application never does, scans.
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False)
    recipient_email = models.EmailField(_("email"), blank=True)
    organisation = models.ForeignKey(
        "pilots.Organisation", null=True, blank=True, on_delete=models.SET_NULL, related_name="reminders",
        help_text=_("The organisation the reminder was sent to (who may list it)."))
    # What the item is about.
    pilot = models.ForeignKey("pilots.Pilot", on_delete=models.CASCADE, related_name="reminders")
    subtask = models.ForeignKey("tasks_app.SubTask", on_delete=models.CASCADE, related_name="+", db_index=False)
    period = models.CharField(_("period"), max_length=6, blank=True)
    report = models.ForeignKey(
        "pilots.ProgressReport", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    milestone = models.ForeignKey("pilots.Milestone", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", db_index=False)
    due_on = models.DateField(_("due on"))
    link = models.URLField(_("link"), max_length=500)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    # Delivery.
    claimed_by = models.CharField(_("claimed by run"), max_length=40, null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    failed_at = models.DateTimeField(
        _("given up at"), null=True, blank=True, help_text=_("Set when a delivery failed in a way a retry cannot fix."))

    objects = ReminderQuerySet.as_manager()

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["-occurrence", "-id"]
        constraints = [
            # Never twice: a sweep INSERTs with ON CONFLICT DO NOTHING on exactly this key.
            models.UniqueConstraint(fields=["item_key", "kind", "level", "occurrence", "recipient"],
                                    name="reminder_once"),
        ]
        indexes = [
            # reminders_deliver_pending claims the unsent rows.
            models.Index(fields=["sent_at", "claimed_by"], name="reminder_unsent_idx",
                         condition=Q(sent_at__isnull=True)),
            # Deleting a report or a milestone sets its reminders' reference to NULL (and PostgreSQL checks
            # the foreign key): most reminders name neither, so only those that do are indexed.
            models.Index(fields=["report"], name="reminder_report_idx", condition=Q(report__isnull=False)),
            models.Index(fields=["milestone"], name="reminder_milestone_idx", condition=Q(milestone__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.item_key} {self.level} {self.occurrence} → {self.recipient}"


class NotificationQuerySet(models.QuerySet):
    def visible_to(self, actor):
        """Only one's own notifications, whatever the role."""
        if actor.user is None:
            return self.none()
        return self.filter(user=actor.user)


class Notification(models.Model):
    """A message in a user's in-app inbox."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    link = models.URLField(_("link"), max_length=500, blank=True, help_text=_("The page for a person."))
    api_url = models.URLField(_("API URL"), max_length=500, blank=True, help_text=_("The same thing in the API."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at"], name="notification_unread_idx"),
            # The retention purge deletes read notifications, oldest reading first; unread ones stay out.
            models.Index(fields=["read_at"], condition=Q(read_at__isnull=False), name="notification_read_idx"),
        ]

    def __str__(self) -> str:
        return self.title


# Most urgent first: the order ``/overdue/`` lists levels in (a column, so the database sorts by it).
LEVEL_URGENCY = {ReminderLevel.ESCALATION: 0, ReminderLevel.REPEAT: 1, ReminderLevel.OVERDUE: 2,
                 ReminderLevel.DUE_SOON: 3}


class CurrentOverdueItemQuerySet(ScopedQuerySet):
    # A prefecture office sees its own pilots' items; a department, those of the sub-tasks assigned to it.
    prefecture_path = "pilot__prefecture"
    department_path = "subtask__assignments__department"


class CurrentOverdueItem(models.Model):
    """One item due soon or overdue, at its highest level, as the reminder detection last found it.

    Written, never computed on read: the sweep replaces the whole list and a change to a pilot's
    reports or plan replaces that pilot's items (``pilots.services.overdue``); ``/overdue/`` and the
    dashboard read it, with ``computed_at`` saying as of when.
    """

    item_key = models.CharField(_("item"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=ReminderKind.choices)
    level = models.CharField(_("level"), max_length=12, choices=ReminderLevel.choices)
    urgency = models.PositiveSmallIntegerField(_("urgency"), help_text=_("0: the most urgent level."))
    occurrence = models.DateField(_("occurrence"))
    pilot = models.ForeignKey("pilots.Pilot", on_delete=models.CASCADE, related_name="+")
    subtask = models.ForeignKey("tasks_app.SubTask", on_delete=models.CASCADE, related_name="+")
    period = models.CharField(_("period"), max_length=6, blank=True)
    report = models.ForeignKey("pilots.ProgressReport", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    milestone = models.ForeignKey("pilots.Milestone", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="+")
    due_on = models.DateField(_("due on"))
    computed_at = models.DateTimeField(_("computed at"))

    objects = CurrentOverdueItemQuerySet.as_manager()

    class Meta:
        verbose_name = _("current overdue item")
        verbose_name_plural = _("current overdue items")
        # Most urgent level first, then the oldest due date (then a stable tie-break).
        ordering = ["urgency", "due_on", "pilot__code", "subtask__code", "kind", "item_key"]
        indexes = [models.Index(fields=["urgency", "due_on"], name="overdue_item_urgency_idx")]

    def __str__(self) -> str:
        return f"{self.item_key} {self.level}"


class OverdueListComputation(models.Model):
    """When the whole overdue list was last computed (one row): the list's "as of", even when it is empty."""

    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True, help_text=_("Empty: never yet."))

    class Meta:
        verbose_name = _("overdue list computation")
        verbose_name_plural = _("overdue list computations")

    def __str__(self) -> str:
        return str(self.computed_at)
