"""Quarterly progress reports, their review workflow, revisions and evidence."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pilots.models.plans import PERCENT_VALIDATORS
from smartcity.auth.scoping import ScopedQuerySet
from smartcity.models import VersionedModel


class ReportQuerySet(ScopedQuerySet):
    # A prefecture office sees its own pilots' reports; a department, the sub-tasks it takes part in.
    prefecture_path = "pilot__prefecture"
    department_path = "subtask__assignments__department"

    def current(self):
        return self.filter(is_current=True)

    def approved_latest_first(self):
        """The approved revisions, the latest quarter and revision first: the first row's ``percent_complete``
        is the latest approved percent (``report_rules_check``, the milestone reminders)."""
        return self.filter(state=ProgressReport.State.APPROVED).order_by("-period_start", "-revision")


class ProgressReport(VersionedModel):
    """One revision of a pilot's report on one sub-task for one period.

    The first filing is revision 1. An approved revision is never edited: a correction is a new
    revision (with a reason) that becomes the *current* one, while the approved revision it corrects
    keeps counting until the correction itself is approved.
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("submitted")
        APPROVED = "approved", _("approved")
        RETURNED = "returned", _("returned")

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", _("not started")
        ON_TRACK = "on_track", _("on track")
        AT_RISK = "at_risk", _("at risk")
        DELAYED = "delayed", _("delayed")
        COMPLETED = "completed", _("completed")

    pilot = models.ForeignKey("pilots.Pilot", on_delete=models.CASCADE, related_name="reports")
    subtask = models.ForeignKey("tasks_app.SubTask", on_delete=models.PROTECT, related_name="reports")
    period = models.CharField(_("period"), max_length=6, help_text=_("A quarter, e.g. 2021Q3."))
    period_start = models.DateField(_("period starts"), editable=False)
    revision = models.PositiveSmallIntegerField(_("revision"), default=1)
    is_current = models.BooleanField(_("current revision"), default=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)

    percent_complete = models.DecimalField(
        _("percent complete"), max_digits=4, decimal_places=1, validators=PERCENT_VALIDATORS
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    narrative = models.TextField(_("narrative"), blank=True)
    kpi_actual = models.DecimalField(_("KPI actual value"), max_digits=16, decimal_places=2, null=True, blank=True)
    investment_to_date = models.DecimalField(
        _("investment to date (万元)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    decrease_reason = models.TextField(_("reason for a lower percent"), blank=True)
    correction_reason = models.TextField(_("reason for the correction"), blank=True)
    review_comment = models.TextField(_("review comment"), blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    receipt_hash = models.CharField(_("receipt"), max_length=64, blank=True)
    is_demo = models.BooleanField(_("demo data"), default=False)

    objects = ReportQuerySet.as_manager()

    class Meta:
        verbose_name = _("progress report")
        verbose_name_plural = _("progress reports")
        ordering = ["-period_start", "pilot", "subtask", "-revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["pilot", "subtask", "period", "revision"], name="report_revision_unique"
            ),
            models.UniqueConstraint(
                fields=["pilot", "subtask", "period"], condition=Q(is_current=True), name="report_one_current"
            ),
            models.CheckConstraint(
                condition=Q(percent_complete__gte=0) & Q(percent_complete__lte=100), name="report_percent_range"
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(percent_complete=100), name="report_completed_is_100"
            ),
        ]
        indexes = [
            # Completion reads "the latest approved revision per pilot and sub-task".
            models.Index(fields=["pilot", "subtask", "state", "-period_start"], name="report_latest_idx"),
            # Review reminders read submitted reports by age.
            models.Index(fields=["state", "submitted_at"], name="report_review_queue_idx"),
            # The completion engine asks which pilots have demo reports (few or none in production):
            # only those are computed twice, once with and once without demo data.
            models.Index(fields=["pilot"], condition=models.Q(is_demo=True), name="report_demo_pilot_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.pilot} · {self.subtask.code} · {self.period} r{self.revision}"


class ReportTransition(models.Model):
    """One step of the review workflow, with who took it and when."""

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        SUBMIT = "submit", _("submitted")
        RESUBMIT = "resubmit", _("resubmitted")
        APPROVE = "approve", _("approved")
        RETURN = "return", _("returned")
        CORRECT = "correct", _("correction started")

    report = models.ForeignKey(ProgressReport, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    from_state = models.CharField(max_length=10, choices=ProgressReport.State.choices, blank=True)
    to_state = models.CharField(max_length=10, choices=ProgressReport.State.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("at"))
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("report transition")
        verbose_name_plural = _("report transitions")
        # report_id, not report: ordering by the report would join it and order by its own ordering
        # (pilot, programme, prefecture, sub-task, task: six joins) to read one report's history.
        ordering = ["report_id", "at", "id"]

    def __str__(self) -> str:
        return f"{self.report} {self.action} {self.at:%Y-%m-%d %H:%M}"


def attachment_path(instance: ReportAttachment, filename: str) -> str:
    # The stored name is the content hash: the uploader's file name never reaches the file system.
    return f"evidence/{instance.report.pilot.code}/{instance.report.period}/{instance.sha256}{instance.extension}"


class ReportAttachment(models.Model):
    """Evidence for a report, stored through Django's storage API (local disk or an object store)."""

    report = models.ForeignKey(ProgressReport, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300)
    original_name = models.CharField(_("file name"), max_length=200)
    extension = models.CharField(max_length=10)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("evidence attachment")
        verbose_name_plural = _("evidence attachments")
        ordering = ["report_id", "uploaded_at"]  # report_id: see ReportTransition

    def __str__(self) -> str:
        return self.original_name
