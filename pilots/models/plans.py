"""What each pilot commits to, per sub-task: a plan item with its KPI and investment, and milestones."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from smartcity.auth.scoping import ScopedQuerySet
from smartcity.models import VersionedModel

PERCENT_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class PlanQuerySet(ScopedQuerySet):
    prefecture_path = "pilot__prefecture"
    department_path = "subtask__assignments__department"  # a department sees the sub-tasks it takes part in


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
    # Once the province accepts the plan item, an office's changes to it and its milestones are proposals.
    accepted_at = models.DateTimeField(_("accepted by the province at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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


class MilestoneQuerySet(ScopedQuerySet):
    prefecture_path = "plan_item__pilot__prefecture"
    department_path = "plan_item__subtask__assignments__department"


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


class PlanChangeProposalQuerySet(ScopedQuerySet):
    prefecture_path = "plan_item__pilot__prefecture"
    department_path = "plan_item__subtask__assignments__department"


class PlanChangeProposal(VersionedModel):
    """An office's change to an accepted plan item or its milestones, waiting for the province's decision.

    The plan as accepted keeps counting until a provincial reviewer approves; approving applies the
    change through the same rules as a direct edit, rejecting changes nothing.
    """

    class Kind(models.TextChoices):
        PLAN_ITEM_UPDATE = "plan_item_update", _("change the plan item")
        MILESTONE_CREATE = "milestone_create", _("add a milestone")
        MILESTONE_UPDATE = "milestone_update", _("change a milestone")
        MILESTONE_DELETE = "milestone_delete", _("delete a milestone")

    class State(models.TextChoices):
        PROPOSED = "proposed", _("proposed")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    plan_item = models.ForeignKey(PlanItem, on_delete=models.CASCADE, related_name="change_proposals")
    milestone = models.ForeignKey(
        Milestone, null=True, blank=True, on_delete=models.SET_NULL, related_name="change_proposals"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    changes = models.JSONField(_("proposed values"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PROPOSED)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(_("decision comment"), blank=True)

    objects = PlanChangeProposalQuerySet.as_manager()

    class Meta:
        verbose_name = _("plan change proposal")
        verbose_name_plural = _("plan change proposals")
        ordering = ["-proposed_at", "-id"]
        indexes = [models.Index(fields=["state", "plan_item"], name="plan_proposal_state_idx")]

    def __str__(self) -> str:
        return f"{self.plan_item} · {self.kind} · {self.state}"
