"""Completion: the figures the nightly job (and each report change) computes and every page reads.

Nothing here is computed on read. ``pilots.services.completion`` writes these tables with set-based
SQL and upserts; ``pilots.selectors.completion`` reads them. Each table's natural key is a unique
constraint, so two recomputes running at once can never leave duplicate rows behind.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from smartcity.auth.scoping import ScopedQuerySet
from tasks_app.models import Programme


class ScheduleStatus(models.TextChoices):
    AHEAD = "ahead", _("ahead of plan")
    ON_TRACK = "on_track", _("on track")
    BEHIND = "behind", _("behind plan")
    CRITICAL = "critical", _("critically behind plan")


class ForecastStatus(models.TextChoices):
    """Why a pilot's forecast has the date it has, or none (``pilots.services.completion.forecast_completion``)."""

    PROJECTED = "projected", _("projected")
    COMPLETE = "complete", _("complete")
    BEHIND_TREND = "behind_trend", _("behind its own trend")
    NOT_RISING = "not_rising", _("no rising trend")
    BEYOND_HORIZON = "beyond_horizon", _("more than 10 years away")
    INSUFFICIENT_DATA = "insufficient_data", _("fewer than two approved quarters")


class CompletionSettings(models.Model):
    """The thresholds of the completion rules, one row per programme, edited by the provincial office.

    A variance above ``ahead_above`` is ahead, below ``critical_below`` critical, below
    ``behind_below`` behind, otherwise on track (applied in SQL by ``pilots.services.completion``).
    """

    programme = models.OneToOneField(Programme, on_delete=models.CASCADE, related_name="completion_settings")
    ahead_above = models.DecimalField(
        _("ahead above (points)"), max_digits=5, decimal_places=1, default=Decimal(5),
        help_text=_("Variance (actual minus planned, in percentage points) above this is 'ahead'."),
    )
    behind_below = models.DecimalField(
        _("behind below (points)"), max_digits=5, decimal_places=1, default=Decimal(-10),
        help_text=_("Variance below this is 'behind'."),
    )
    critical_below = models.DecimalField(
        _("critical below (points)"), max_digits=5, decimal_places=1, default=Decimal(-25),
        help_text=_("Variance below this is 'critical'."),
    )
    stalled_periods = models.PositiveSmallIntegerField(
        _("stalled after (quarters)"), default=2, validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text=_("A sub-task is stalled when its approved percent, below 100, has not moved for this many "
                    "consecutive quarters."),
    )
    ahead_of_plan_margin = models.DecimalField(
        _("implausibly ahead margin (points)"), max_digits=5, decimal_places=1, default=Decimal(30),
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("An approved percent more than this many points above plan is flagged for a second look."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("completion settings")
        verbose_name_plural = _("completion settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(critical_below__lt=models.F("behind_below"))
                & Q(behind_below__lt=models.F("ahead_above")),
                name="completion_settings_thresholds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme.code}: {_('completion settings')}"

    def clean(self) -> None:
        if None in (self.critical_below, self.behind_below, self.ahead_above):
            return
        if not self.critical_below < self.behind_below < self.ahead_above:
            raise ValidationError(_("The thresholds must satisfy critical below < behind below < ahead above."))


def _percent(verbose_name, **kwargs):
    return models.DecimalField(verbose_name, max_digits=6, decimal_places=2, **kwargs)


class SubtaskCompletionQuerySet(ScopedQuerySet):
    # Like the reports they come from: a prefecture office its own pilots, a department its sub-tasks.
    prefecture_path = "pilot__prefecture"
    department_path = "subtask__assignments__department"


class SubtaskCompletion(models.Model):
    """One pilot's completion of one sub-task as of a date (``real_only``: without demo data)."""

    # No index of their own: the key's index leads with the pilot, and a sub-task is rarely deleted.
    pilot = models.ForeignKey("pilots.Pilot", on_delete=models.CASCADE, related_name="+", db_index=False)
    subtask = models.ForeignKey("tasks_app.SubTask", on_delete=models.CASCADE, related_name="+", db_index=False)
    as_of = models.DateField(_("as of"))
    real_only = models.BooleanField(_("real data only"))
    approved_percent = _percent(_("approved percent"), help_text=_("0 when no report is approved (no_report)."))
    approved_period = models.CharField(_("approved period"), max_length=6, null=True)
    pending_percent = _percent(_("pending percent"), null=True)
    pending_period = models.CharField(_("pending period"), max_length=6, null=True)
    planned_percent = _percent(_("planned percent"), null=True)
    variance = _percent(_("variance (points)"), null=True)
    schedule_status = models.CharField(_("schedule status"), max_length=10, choices=ScheduleStatus.choices,
                                       null=True)
    no_report = models.BooleanField(_("no approved report"))
    stalled = models.BooleanField(_("stalled"))
    ahead_of_plan = models.BooleanField(_("implausibly ahead of plan"))
    includes_demo = models.BooleanField(_("shows demo data"))
    computed_at = models.DateTimeField(_("computed at"))

    objects = SubtaskCompletionQuerySet.as_manager()

    class Meta:
        verbose_name = _("sub-task completion")
        verbose_name_plural = _("sub-task completion")
        constraints = [
            # The natural key; its column order also serves the pilot page (pilot, as_of, real_only).
            models.UniqueConstraint(fields=["pilot", "as_of", "real_only", "subtask"],
                                    name="subtask_completion_key"),
        ]
        indexes = [
            # completion_recompute_*: the department rollup and the sweep of stale rows read one date.
            models.Index(fields=["as_of", "real_only", "computed_at"], name="subtask_completion_date_idx"),
        ]


class CompletionRollupQuerySet(ScopedQuerySet):
    """A prefecture office sees its own pilots and prefecture, and the province-wide figures."""

    prefecture_path = "prefecture"

    def province_wide(self) -> Q:
        return Q(scope__in=CompletionRollup.PROVINCE_WIDE)


class CompletionRollup(models.Model):
    """Completion of one scope (a pilot, a pilot's task, a prefecture, a task, a department, the province)."""

    class Scope(models.TextChoices):
        PILOT = "pilot", _("pilot")
        PILOT_TASK = "pilot_task", _("pilot's task")
        PREFECTURE = "prefecture", _("prefecture")
        TASK = "task", _("task across pilots")
        DEPARTMENT = "department", _("department across pilots")
        PROVINCE = "province", _("province")

    PROVINCE_WIDE = (Scope.PROVINCE, Scope.TASK, Scope.DEPARTMENT)

    # Every index costs each of the nightly upserts; the foreign keys rely on the indexes below (the
    # programme and the pilot lead one) or are rarely deleted (prefecture, task, department).
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="+", db_index=False)
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices)
    scope_id = models.PositiveBigIntegerField(
        _("scope id"), help_text=_("The pilot, prefecture, task or department id; the programme id for the province.")
    )
    # The objects the row is about, for joins and scoping (scope_id is the key).
    pilot = models.ForeignKey("pilots.Pilot", null=True, on_delete=models.CASCADE, related_name="+", db_index=False)
    prefecture = models.ForeignKey("pilots.Prefecture", null=True, on_delete=models.CASCADE, related_name="+",
                                   db_index=False)
    task = models.ForeignKey("tasks_app.Task", null=True, on_delete=models.CASCADE, related_name="+", db_index=False)
    department = models.ForeignKey("tasks_app.Department", null=True, on_delete=models.CASCADE, related_name="+",
                                   db_index=False)
    as_of = models.DateField(_("as of"))
    real_only = models.BooleanField(_("real data only"))

    completion = _percent(_("completion"), null=True, help_text=_("Null when no pilot counts in this scope."))
    planned = _percent(_("planned"), null=True)
    variance = _percent(_("variance (points)"), null=True)
    schedule_status = models.CharField(_("schedule status"), max_length=10, choices=ScheduleStatus.choices,
                                       null=True)
    pilot_count = models.PositiveIntegerField(_("pilots"))
    demo_pilot_count = models.PositiveIntegerField(_("demo pilots"))
    no_report_count = models.PositiveIntegerField(_("sub-tasks with no approved report"))
    behind_count = models.PositiveIntegerField(_("sub-tasks behind"))
    critical_count = models.PositiveIntegerField(_("sub-tasks critical"))
    stalled_count = models.PositiveIntegerField(_("sub-tasks stalled"))
    ahead_of_plan_count = models.PositiveIntegerField(_("sub-tasks implausibly ahead"))
    includes_demo = models.BooleanField(_("includes demo data"))
    # Pilot scope only.
    pilot_state = models.CharField(_("pilot state as of the date"), max_length=20, blank=True)
    projected_completion_date = models.DateField(_("projected completion"), null=True)
    forecast_status = models.CharField(_("forecast status"), max_length=20, choices=ForecastStatus.choices,
                                       blank=True, default="")
    # Province scope only.
    projected_complete_count = models.PositiveIntegerField(_("pilots projected complete by the goal"), null=True)
    designated_count = models.PositiveIntegerField(_("designated pilots"), null=True)
    accepted_count = models.PositiveIntegerField(_("accepted pilots"), null=True)
    designated_demo_count = models.PositiveIntegerField(_("designated demo pilots"), null=True)
    accepted_demo_count = models.PositiveIntegerField(_("accepted demo pilots"), null=True)
    goal = models.PositiveIntegerField(_("goal: number of pilots"), null=True)
    computed_at = models.DateTimeField(_("computed at"))

    objects = CompletionRollupQuerySet.as_manager()

    class Meta:
        verbose_name = _("completion rollup")
        verbose_name_plural = _("completion rollups")
        constraints = [
            # The natural key. A pilot's task is keyed by (pilot, task), so rows about a task carry it.
            # Both also serve the history API (scope, scope_id, as_of range).
            models.UniqueConstraint(fields=["programme", "scope", "scope_id", "as_of", "real_only"],
                                    condition=Q(task__isnull=True), name="completion_rollup_key"),
            models.UniqueConstraint(fields=["programme", "scope", "scope_id", "as_of", "real_only", "task"],
                                    condition=Q(task__isnull=False), name="completion_rollup_task_key"),
        ]
        indexes = [
            # The completion lists (prefectures, tasks, departments) and the area rollups read one scope on
            # one date.
            models.Index(fields=["programme", "scope", "as_of", "real_only"], name="completion_rollup_date_idx"),
            # The pilot completion page reads the pilot's rows (pilot and pilot_task) on one date.
            models.Index(fields=["pilot", "as_of", "real_only"], name="completion_rollup_pilot_idx"),
        ]


class ReportingRateQuerySet(ScopedQuerySet):
    prefecture_path = "prefecture"

    def province_wide(self) -> Q:
        return Q(scope=ReportingRate.Scope.PROVINCE)


class ReportingRate(models.Model):
    """How many of a quarter's expected reports had arrived by a date, and how many by the deadline."""

    class Scope(models.TextChoices):
        PREFECTURE = "prefecture", _("prefecture")
        PROVINCE = "province", _("province")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="+", db_index=False)
    period = models.CharField(_("period"), max_length=6)
    period_start = models.DateField(_("period starts"))
    deadline = models.DateField(_("deadline"))
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices)
    scope_id = models.PositiveBigIntegerField(_("scope id"), help_text=_("The prefecture id; the programme id "
                                                                         "for the province."))
    prefecture = models.ForeignKey("pilots.Prefecture", null=True, on_delete=models.CASCADE, related_name="+",
                                   db_index=False)
    as_of = models.DateField(_("as of"))
    real_only = models.BooleanField(_("real data only"))
    expected = models.PositiveIntegerField(_("reports expected"))
    received = models.PositiveIntegerField(_("reports received"))
    on_time = models.PositiveIntegerField(_("received by the deadline"))
    computed_at = models.DateTimeField(_("computed at"))

    objects = ReportingRateQuerySet.as_manager()

    class Meta:
        verbose_name = _("reporting rate")
        verbose_name_plural = _("reporting rates")
        constraints = [
            models.UniqueConstraint(fields=["programme", "scope", "scope_id", "period", "as_of", "real_only"],
                                    name="reporting_rate_key"),
        ]
        indexes = [
            # The reporting-rates API reads one date (optionally one period) across scopes.
            models.Index(fields=["programme", "as_of", "real_only", "period"], name="reporting_rate_date_idx"),
        ]
