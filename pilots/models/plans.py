"""What each pilot commits to, per sub-task: a plan item with its KPI and investment, and milestones."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from smartcity.models import VersionedModel

PERCENT_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class PlanQuerySet(models.QuerySet):
    def visible_to(self, actor):
        from pilots.models.registry import Pilot

        queryset = self.filter(pilot__in=Pilot.objects.visible_to(actor))
        if actor.department_id is not None:  # a department sees the sub-tasks it takes part in
            queryset = queryset.filter(subtask__assignments__department_id=actor.department_id)
        return queryset


class PlanItem(VersionedModel):
    """A pilot's commitment for one sub-task."""

    pilot = models.ForeignKey("pilots.Pilot", on_delete=models.CASCADE, related_name="plan_items")
    subtask = models.ForeignKey("tasks_app.SubTask", on_delete=models.PROTECT, related_name="plan_items")
    description = models.TextField(_("what the pilot commits to"))
    kpi_name = models.CharField(_("KPI"), max_length=200, blank=True)
    kpi_unit = models.CharField(_("KPI unit"), max_length=50, blank=True)
    kpi_target = models.DecimalField(_("KPI target"), max_digits=16, decimal_places=2, null=True, blank=True)
    planned_investment = models.DecimalField(
        _("planned investment (万元)"), max_digits=14, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    responsible_unit = models.CharField(_("local responsible unit"), max_length=200, blank=True)
    is_demo = models.BooleanField(_("demo data"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        verbose_name = _("plan item")
        verbose_name_plural = _("plan items")
        ordering = ["pilot", "subtask__task__order", "subtask__order"]
        constraints = [models.UniqueConstraint(fields=["pilot", "subtask"], name="plan_item_one_per_subtask")]

    def __str__(self) -> str:
        return f"{self.pilot} · {self.subtask.code}"


class MilestoneQuerySet(models.QuerySet):
    def visible_to(self, actor):
        from pilots.models.registry import Pilot

        queryset = self.filter(plan_item__pilot__in=Pilot.objects.visible_to(actor))
        if actor.department_id is not None:
            queryset = queryset.filter(plan_item__subtask__assignments__department_id=actor.department_id)
        return queryset


class Milestone(VersionedModel):
    """A dated target: by ``due_on`` the sub-task should be ``target_percent`` complete."""

    plan_item = models.ForeignKey(PlanItem, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(_("title"), max_length=200)
    due_on = models.DateField(_("due on"))
    target_percent = models.DecimalField(
        _("target percent complete"), max_digits=4, decimal_places=1, validators=PERCENT_VALIDATORS
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MilestoneQuerySet.as_manager()

    class Meta:
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        ordering = ["plan_item", "due_on"]
        constraints = [
            # Schedule variance interpolates between milestones: two on one day would be ambiguous.
            models.UniqueConstraint(fields=["plan_item", "due_on"], name="milestone_one_per_day"),
            models.CheckConstraint(
                condition=Q(target_percent__gte=0) & Q(target_percent__lte=100), name="milestone_percent_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_item} · {self.due_on} {self.target_percent}%"
